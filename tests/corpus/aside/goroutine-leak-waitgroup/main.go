// A fan-out helper that queries three shards and waits for them with a
// WaitGroup, in a goroutine of its own so the caller can give up after 30 ms.
// It adds 3 to the group but skips the shard marked as draining, so only two
// Done calls ever happen and the waiting goroutine never returns.
package main

import (
	"log"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

type shard struct {
	id       int
	draining bool
}

var (
	timedOut atomic.Uint64
	rows     atomic.Uint64
)

func queryAll(shards []shard, key uint64) bool {
	var wg sync.WaitGroup
	wg.Add(len(shards))
	for _, s := range shards {
		if s.draining {
			continue
		}
		go func() {
			defer wg.Done()
			time.Sleep(time.Duration(2+rand.IntN(8)) * time.Millisecond)
			rows.Add(key%7 + uint64(s.id))
		}()
	}
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return true
	case <-time.After(30 * time.Millisecond):
		timedOut.Add(1)
		return false
	}
}

func main() {
	shards := []shard{{id: 0}, {id: 1}, {id: 2, draining: true}}
	log.Println("search: 30 fan-out queries/s over 3 shards")
	tick := time.NewTicker(time.Second / 30)
	defer tick.Stop()
	for key := uint64(0); ; key++ {
		<-tick.C
		go queryAll(shards, key)
	}
}
