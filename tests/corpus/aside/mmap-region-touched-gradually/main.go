// A columnar loader that maps one 192 MiB anonymous region (mmap) at start-up
// for a column store and copies the dataset into it column by column at about
// 16 MiB/s, then answers scans from it. The region is mapped once and never
// grown; its pages become resident only as they are first written.
package main

import (
	"encoding/binary"
	"log"
	"math/rand/v2"
	"syscall"
	"time"
)

const (
	regionSize = 192 << 20
	columnSize = 8 << 20
	perTick    = 160 << 10 // every 10 ms
)

type store struct {
	region []byte
	loaded int
}

func (s *store) load(n int) {
	end := min(s.loaded+n, regionSize)
	for off := s.loaded; off < end; off += 8 {
		col := uint64(off / columnSize)
		binary.LittleEndian.PutUint64(s.region[off:], col<<40|uint64(off))
	}
	s.loaded = end
}

func (s *store) scan(col int) uint64 {
	base := col * columnSize
	var sum uint64
	for off := base; off < base+columnSize; off += 4096 {
		sum += binary.LittleEndian.Uint64(s.region[off:])
	}
	return sum
}

func main() {
	region, err := syscall.Mmap(-1, 0, regionSize, syscall.PROT_READ|syscall.PROT_WRITE,
		syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		log.Fatalf("mmap: %v", err)
	}
	s := &store{region: region}
	log.Printf("columns: %d MiB region, loading", regionSize>>20)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for s.loaded < regionSize {
		<-tick.C
		s.load(perTick)
	}
	log.Println("columns: loaded, scanning")
	var total uint64
	for range tick.C {
		total += s.scan(rand.IntN(regionSize / columnSize))
	}
}
