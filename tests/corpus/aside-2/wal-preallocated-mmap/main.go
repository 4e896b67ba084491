// A write-ahead log that preallocates its whole segment with mmap and appends
// records into it, wrapping to the start when it is full (older records have
// been checkpointed by then).
package main

import (
	"encoding/binary"
	"hash/crc32"
	"log"
	"syscall"
	"time"
)

const (
	segmentSize = 160 << 20
	recordSize  = 512
	perTick     = 240 // records every 10 ms: 120 KiB
)

func main() {
	seg, err := syscall.Mmap(-1, 0, segmentSize, syscall.PROT_READ|syscall.PROT_WRITE,
		syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		log.Fatalf("mmap: %v", err)
	}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	var off, lsn uint64
	payload := make([]byte, recordSize-16)
	for range tick.C {
		for range perTick {
			lsn++
			binary.LittleEndian.PutUint64(payload, lsn)
			rec := seg[off : off+recordSize]
			binary.LittleEndian.PutUint64(rec, lsn)
			binary.LittleEndian.PutUint32(rec[8:], crc32.ChecksumIEEE(payload))
			copy(rec[16:], payload)
			off = (off + recordSize) % segmentSize
		}
	}
}
