// A replicated state machine that checkpoints its in-memory state (64 chunks
// of 64 KiB) every two seconds and keeps every checkpoint so an operator could
// roll back to any of them. There is no retention limit.
package main

import (
	"bytes"
	"log"
	"math/rand/v2"
	"time"
)

const (
	chunks    = 64
	chunkSize = 64 << 10
)

type checkpoint struct {
	seq   uint64
	taken time.Time
	data  [][]byte
}

type replica struct {
	state   [chunks][]byte
	applied uint64
	history []checkpoint
}

func (r *replica) apply(op uint64) {
	c := r.state[op%chunks]
	off := int((op * 2654435761) % uint64(chunkSize-8))
	for i := range 8 {
		c[off+i] ^= byte(op >> (8 * i))
	}
	r.applied++
}

func (r *replica) checkpoint(now time.Time) {
	cp := checkpoint{seq: r.applied, taken: now, data: make([][]byte, chunks)}
	for i, c := range r.state {
		cp.data[i] = bytes.Clone(c)
	}
	r.history = append(r.history, cp)
}

func main() {
	r := &replica{}
	for i := range r.state {
		r.state[i] = make([]byte, chunkSize)
	}
	log.Println("replica: 1000 ops/s, checkpoint every 2s")
	ops := time.NewTicker(10 * time.Millisecond)
	defer ops.Stop()
	cps := time.NewTicker(2 * time.Second)
	defer cps.Stop()
	for {
		select {
		case <-ops.C:
			for range 10 {
				r.apply(rand.Uint64())
			}
		case now := <-cps.C:
			r.checkpoint(now)
		}
	}
}
