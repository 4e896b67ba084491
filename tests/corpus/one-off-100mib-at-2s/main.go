// A geo-lookup service that answers from a small fallback table at first and,
// two seconds in, loads its full 100 MiB index in a single allocation that it
// keeps for the life of the process. Lookups after that allocate nothing that
// lasts.
package main

import (
	"log"
	"math/rand/v2"
	"sync/atomic"
	"time"
)

const indexEntries = (100 << 20) / 4

var index atomic.Pointer[[]uint32]

var fallback = []uint32{1, 33, 44, 49, 61, 81, 86, 91}

func loadIndex() {
	idx := make([]uint32, indexEntries)
	for i := range idx {
		idx[i] = uint32(i*2654435761) >> 24
	}
	index.Store(&idx)
	log.Printf("geo index loaded: %d entries", len(idx))
}

func lookup(ip uint32) uint32 {
	if p := index.Load(); p != nil {
		idx := *p
		return idx[ip%uint32(len(idx))]
	}
	return fallback[ip%uint32(len(fallback))]
}

func main() {
	time.AfterFunc(2*time.Second, loadIndex)
	log.Println("geo: 1,000 lookups/s")
	var answers [256]uint64
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for range tick.C {
		for range 10 {
			answers[lookup(rand.Uint32())&0xff]++
		}
	}
}
