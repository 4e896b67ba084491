// A crawler whose fetcher concurrency is retuned every 250 ms to a target
// between 50 and 500 by an adaptive limiter (here a seeded random draw).
// Surplus fetchers are told to stop and missing ones are started, so the
// number of goroutines jumps around inside that band.
package main

import (
	"expvar"
	"log"
	"math/rand/v2"
	"time"
)

var requests = expvar.NewInt("requests")

func fetcher(stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		case <-time.After(time.Duration(20+rand.IntN(61)) * time.Millisecond):
			requests.Add(1) // one page fetched
		}
	}
}

func main() {
	rng := rand.New(rand.NewPCG(42, 4242))
	stop := make(chan struct{})
	running := 0
	log.Println("crawler: concurrency retuned every 250ms within [50, 500]")
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		target := 50 + rng.IntN(451)
		for running < target {
			go fetcher(stop)
			running++
		}
		for running > target {
			stop <- struct{}{}
			running--
		}
		<-tick.C
	}
}
