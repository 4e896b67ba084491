// A lookup service that maps one 128 MiB table at start-up and fills it from
// a generator before answering lookups. The table is mapped once and never
// grows; its pages become resident as they are filled.
package main

import (
	"encoding/binary"
	"log"
	"math/rand/v2"
	"syscall"
	"time"
)

const (
	tableSize = 128 << 20
	perTick   = 160 << 10 // every 10 ms
)

func main() {
	table, err := syscall.Mmap(-1, 0, tableSize, syscall.PROT_READ|syscall.PROT_WRITE,
		syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		log.Fatalf("mmap: %v", err)
	}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	filled := 0
	var found uint64
	for range tick.C {
		if filled < tableSize {
			end := min(filled+perTick, tableSize)
			for off := filled; off < end; off += 8 {
				binary.LittleEndian.PutUint64(table[off:], uint64(off)*0x9e3779b97f4a7c15)
			}
			filled = end
			continue
		}
		// Full: answer a few lookups per tick.
		for range 64 {
			off := rand.IntN(tableSize/8) * 8
			found += binary.LittleEndian.Uint64(table[off:]) & 1
		}
	}
	_ = found
}
