// A search node that rebuilds its inverted index from the document store every
// two seconds and swaps the new index in atomically; queries read whichever
// index is current. Each build is about 50 MiB of postings lists and the
// previous index becomes garbage once swapped out.
package main

import (
	"log"
	"math/rand/v2"
	"sync/atomic"
	"time"
)

const (
	terms       = 200_000
	avgPostings = 50
)

type index struct {
	built    time.Time
	postings map[uint32][]uint32
}

var current atomic.Pointer[index]

func build(gen int) *index {
	idx := &index{built: time.Now(), postings: make(map[uint32][]uint32, terms)}
	for t := range uint32(terms) {
		n := avgPostings/2 + int((t*2654435761+uint32(gen))%avgPostings)
		docs := make([]uint32, n)
		d := t % 97
		for i := range docs {
			d += 1 + (t+uint32(i))%13
			docs[i] = d
		}
		idx.postings[t] = docs
	}
	return idx
}

func query(term uint32) int {
	idx := current.Load()
	if idx == nil {
		return 0
	}
	return len(idx.postings[term])
}

func main() {
	current.Store(build(0))
	go func() {
		t := time.NewTicker(2 * time.Second)
		defer t.Stop()
		for gen := 1; ; gen++ {
			<-t.C
			current.Store(build(gen))
		}
	}()
	log.Println("search: rebuilding a 200k-term index every 2s")
	hits := 0
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for range tick.C {
		for range 20 {
			hits += query(rand.Uint32N(terms))
		}
	}
}
