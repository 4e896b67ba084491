// A write-ahead log that stages records in 1 MiB anonymous memory segments
// (mmap) before shipping them. When a segment is full it is sealed, shipped
// and dropped from the segment list, but munmap is never called, so the
// mapping and its dirty pages stay in the process.
package main

import (
	"encoding/binary"
	"hash/crc32"
	"log"
	"syscall"
	"time"
)

const (
	segmentSize = 1 << 20
	recordSize  = 1024
	perTick     = 32 // every 10 ms: 32 KiB, ~3.1 MiB/s
)

type segment struct {
	id   int
	mem  []byte
	used int
}

type wal struct {
	active  *segment
	nextID  int
	shipped int
	crc     uint32
}

func (w *wal) newSegment() *segment {
	mem, err := syscall.Mmap(-1, 0, segmentSize, syscall.PROT_READ|syscall.PROT_WRITE,
		syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		log.Fatalf("mmap: %v", err)
	}
	w.nextID++
	return &segment{id: w.nextID, mem: mem}
}

func (w *wal) ship(s *segment) {
	w.crc = crc32.Update(w.crc, crc32.IEEETable, s.mem[:4096])
	w.shipped++
	// segment retired: dropped from the list, mapping left in place
}

func (w *wal) append(rec []byte) {
	if w.active == nil || w.active.used+len(rec) > segmentSize {
		if w.active != nil {
			w.ship(w.active)
		}
		w.active = w.newSegment()
	}
	copy(w.active.mem[w.active.used:], rec)
	w.active.used += len(rec)
}

func main() {
	w := &wal{}
	rec := make([]byte, recordSize)
	log.Println("wal: 3,200 records/s of 1 KiB into 1 MiB mmap segments")
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	var lsn uint64
	for range tick.C {
		for range perTick {
			lsn++
			binary.LittleEndian.PutUint64(rec, lsn)
			for i := 8; i < len(rec); i += 8 {
				binary.LittleEndian.PutUint64(rec[i:], lsn*uint64(i))
			}
			w.append(rec)
		}
	}
}
