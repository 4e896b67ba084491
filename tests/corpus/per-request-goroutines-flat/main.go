// An RPC front end that serves each call in its own goroutine and fans out to
// two backends in goroutines of their own. Each backend answers on a channel
// with room for its answer, so a late answer after the 50 ms deadline never
// blocks. Every goroutine ends shortly after its call does.
package main

import (
	"expvar"
	"log"
	"math/rand/v2"
	"sync/atomic"
	"time"
)

var requests = expvar.NewInt("requests")

var timeouts atomic.Uint64

func query(backend string, lo, hi int) <-chan int {
	ch := make(chan int, 1)
	go func() {
		time.Sleep(time.Duration(lo+rand.IntN(hi-lo)) * time.Millisecond)
		ch <- len(backend)
	}()
	return ch
}

func serve(id uint64) {
	deadline := time.NewTimer(50 * time.Millisecond)
	defer deadline.Stop()
	stock := query("inventory", 20, 60)
	price := query("pricing", 10, 40)
	got := 0
	for got < 2 {
		select {
		case <-stock:
			got++
		case <-price:
			got++
		case <-deadline.C:
			timeouts.Add(1)
			return
		}
	}
	requests.Add(1)
	_ = id
}

func main() {
	log.Println("front end: 500 calls/s")
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for id := uint64(1); ; id++ {
		<-tick.C
		go serve(id)
	}
}
