// A shard coordinator hands each shard's lease to one worker at a time. When
// a shard moves, the new owner's lease gets a keeper goroutine that renews it
// every 500 ms until the lease's stop channel is closed. The rebalancer moves
// three shards a second, and the hand-off replaces the old lease in the table
// without closing the old lease's stop channel, so every keeper ever started
// goes on renewing a lease that nobody holds any more.
package main

import (
	"fmt"
	"log"
	"sync"
	"sync/atomic"
	"time"
)

const (
	shards     = 16
	workers    = 5
	renewEvery = 500 * time.Millisecond
	movesPerS  = 3
)

type lease struct {
	shard int
	owner string
	epoch uint64
	stop  chan struct{}
}

var renewals atomic.Uint64

// keep renews l until l.stop is closed.
func keep(l *lease) {
	t := time.NewTicker(renewEvery)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
			renewals.Add(1)
		}
	}
}

type coordinator struct {
	mu     sync.Mutex
	leases map[int]*lease
	epoch  uint64
}

// move gives shard to owner under a new epoch and starts its keeper.
func (c *coordinator) move(shard int, owner string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch++
	l := &lease{shard: shard, owner: owner, epoch: c.epoch, stop: make(chan struct{})}
	// Missing: if old := c.leases[shard]; old != nil { close(old.stop) }
	c.leases[shard] = l
	go keep(l)
}

func main() {
	c := &coordinator{leases: make(map[int]*lease)}
	log.Printf("coordinator: %d shards, %d moves/s", shards, movesPerS)

	// The rebalancer: one move every 1/3 s, round-robin over shards and
	// workers, so the table always holds exactly 16 leases.
	tick := time.NewTicker(time.Second / movesPerS)
	defer tick.Stop()
	for n := 0; ; n++ {
		<-tick.C
		c.move(n%shards, fmt.Sprintf("worker-%d", n%workers))
		if n%(10*movesPerS) == 0 {
			log.Printf("moves: %d, renewals so far: %d", n+1, renewals.Load())
		}
	}
}
