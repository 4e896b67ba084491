// A search front end that expands query terms with synonyms. It starts with a
// small built-in list. Eight seconds in, the feature flag for the full
// thesaurus is switched on (as a staged rollout would do), and a background
// loader builds the full index at a throttled 20,000 entries a second until
// all 80,000 are in (~4 s), swaps it in and drops the built-in list. After
// that the index is only read: lookups hash a term and follow a pointer, and
// allocate nothing.
package main

import (
	"expvar"
	"hash/maphash"
	"log"
	"sync/atomic"
	"time"
)

var requests = expvar.NewInt("requests")

const (
	flagFlipsAt  = 8 * time.Second
	fullEntries  = 80_000
	perTick      = 200 // every 10 ms: 20,000 entries/s
	builtinCount = 64
)

// An entry is 512 bytes and holds no pointers: 32 + 8 + 448 + 24.
type entry struct {
	term    [32]byte
	n       uint64
	syns    [14][32]byte
	weights [6]float32
}

type index map[uint64]*entry

var (
	seed    = maphash.MakeSeed()
	current atomic.Pointer[index]
)

func termHash(i int) uint64 {
	var b [8]byte
	for k := range b {
		b[k] = byte(i >> (8 * k))
	}
	return maphash.Bytes(seed, b[:])
}

func makeEntry(i int) *entry {
	e := &entry{n: uint64(1 + i%14)}
	for k := range e.term {
		e.term[k] = 'a' + byte((i+k*7)%26)
	}
	for s := range e.n {
		for k := range e.syns[s] {
			e.syns[s][k] = 'a' + byte((i*int(s+3)+k)%26)
		}
	}
	for w := range e.weights {
		e.weights[w] = 1 / float32(w+1)
	}
	return e
}

// load builds the full thesaurus at a throttled rate and then swaps it in.
func load() {
	start := time.Now()
	full := make(index)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for i := 0; i < fullEntries; {
		<-tick.C
		for end := i + perTick; i < end; i++ {
			full[termHash(i)] = makeEntry(i)
		}
	}
	current.Store(&full)
	log.Printf("thesaurus: %d entries loaded in %v", len(full), time.Since(start).Round(time.Millisecond))
}

func main() {
	builtin := make(index, builtinCount)
	for i := range builtinCount {
		builtin[termHash(i)] = makeEntry(i)
	}
	current.Store(&builtin)

	// The query terms, hashed once up front.
	var queries [4096]uint64
	for q := range queries {
		queries[q] = termHash((q * 7919) % fullEntries)
	}

	flag := time.NewTimer(flagFlipsAt)
	go func() {
		<-flag.C
		log.Print("flag thesaurus.full=on, loading")
		load()
	}()

	// 2,000 lookups a second.
	var hits, misses uint64
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for i := 0; ; i++ {
		<-tick.C
		idx := *current.Load()
		for k := range 20 {
			if e := idx[queries[(i*20+k)%len(queries)]]; e != nil {
				hits += e.n
			} else {
				misses++
			}
			requests.Add(1)
		}
		if i%500 == 499 {
			log.Printf("lookups: %d synonyms found, %d misses", hits, misses)
		}
	}
}
