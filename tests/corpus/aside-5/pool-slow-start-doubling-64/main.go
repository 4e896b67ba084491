// A fetcher pool that scales like TCP slow start: it begins with one worker
// and, every 500 ms while its queue has a backlog, doubles the number of
// workers, up to a hard cap of 64. Workers are never retired. Jobs arrive at
// 4,000 a second and each waits 20 ms on a (simulated) origin, so even 64
// workers (3,200 jobs/s) leave a backlog: the pool reaches its cap at 3 s
// (1, 2, 4, 8, 16, 32, 64) and stays there, dropping the jobs that do not fit.
package main

import (
	"log"
	"sync/atomic"
	"time"
)

const (
	maxWorkers = 64
	queueLen   = 512
	jobCost    = 20 * time.Millisecond
	scaleEvery = 500 * time.Millisecond
)

type job struct {
	id  uint64
	url [4]uint64 // a hashed URL, carried by value
}

var done, dropped atomic.Uint64

func worker(jobs <-chan job) {
	for j := range jobs {
		time.Sleep(jobCost) // waiting on the origin
		if j.url[0]^j.id != 0 {
			done.Add(1)
		}
	}
}

func main() {
	jobs := make(chan job, queueLen)

	// Producer: 40 jobs every 10 ms, dropped when the queue is full.
	go func() {
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		var id uint64
		for range tick.C {
			for range 40 {
				id++
				j := job{id: id, url: [4]uint64{id * 0x9e3779b97f4a7c15, id, id >> 3, 7}}
				select {
				case jobs <- j:
				default:
					dropped.Add(1)
				}
			}
		}
	}()

	workers := 1
	go worker(jobs)
	log.Printf("pool: 1 worker, doubling every %v while backlogged, cap %d", scaleEvery, maxWorkers)

	tick := time.NewTicker(scaleEvery)
	defer tick.Stop()
	for n := 1; ; n++ {
		<-tick.C
		if len(jobs) > 0 && workers < maxWorkers {
			add := min(workers, maxWorkers-workers)
			for range add {
				go worker(jobs)
			}
			workers += add
			log.Printf("pool: %d workers (backlog %d)", workers, len(jobs))
		}
		if n%20 == 0 {
			log.Printf("done %d, dropped %d", done.Load(), dropped.Load())
		}
	}
}
