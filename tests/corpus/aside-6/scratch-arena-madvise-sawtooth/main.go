// A batch aggregator that keeps one 96 MiB anonymous mmap as scratch space
// (off the Go heap, so the GC never scans it). Each batch of rows is loaded
// into the arena at 512 KiB every 10 ms (~1.9 s for a full arena), then
// aggregated over the next second, and then the arena is reset with
// madvise(MADV_DONTNEED), which hands its pages back to the kernel while
// keeping the mapping, so every batch starts again from zero resident pages.
package main

import (
	"log"
	"syscall"
	"time"
	"unsafe"
)

const (
	arenaBytes = 96 << 20
	chunkBytes = 512 << 10
	fillTicks  = arenaBytes / chunkBytes // 192 ticks of 10 ms
	aggTicks   = 100                     // 1 s of aggregation
)

func main() {
	arena, err := syscall.Mmap(-1, 0, arenaBytes, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		log.Fatalf("mmap: %v", err)
	}
	rows := unsafe.Slice((*uint64)(unsafe.Pointer(&arena[0])), arenaBytes/8)
	const chunkRows = chunkBytes / 8
	aggRows := (len(rows) + aggTicks - 1) / aggTicks

	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	var totals [16]uint64
	for batch := 1; ; batch++ {
		// Load: every row of the arena is written once.
		for t := range fillTicks {
			<-tick.C
			base := t * chunkRows
			for i := base; i < base+chunkRows; i++ {
				rows[i] = uint64(batch)<<40 | uint64(i)*0x9e3779b97f4a7c15>>24
			}
		}
		// Aggregate: read the arena back, a slice of it per tick.
		for t := range aggTicks {
			<-tick.C
			lo := t * aggRows
			hi := min(lo+aggRows, len(rows))
			for i := lo; i < hi; i++ {
				totals[rows[i]&15] += rows[i] >> 40
			}
		}
		// Reset: drop the pages, keep the mapping.
		if err := syscall.Madvise(arena, syscall.MADV_DONTNEED); err != nil {
			log.Fatalf("madvise: %v", err)
		}
		if batch%3 == 0 {
			log.Printf("batch %d aggregated, totals[0]=%d", batch, totals[0])
		}
	}
}
