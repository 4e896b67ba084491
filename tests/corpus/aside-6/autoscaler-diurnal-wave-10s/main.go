// A worker pool under a daily load cycle, compressed so that a "day" lasts
// 10 s. The offered load follows a cosine from 200 jobs/s at midnight (t = 0,
// 10 s, 20 s, ...) to 3,000 jobs/s at noon (t = 5 s, 15 s, ...) and back. Each
// job waits 100 ms on a backend, so a worker does 10 jobs a second, and every
// 100 ms an autoscaler sizes the pool to the current load: 20 workers at
// night, 300 at noon. Surplus workers are told to stop and leave after their
// current job.
package main

import (
	"log"
	"math"
	"runtime"
	"sync/atomic"
	"time"
)

const (
	day        = 10 * time.Second
	nightLoad  = 200.0  // jobs/s
	noonLoad   = 3000.0 // jobs/s
	jobCost    = 100 * time.Millisecond
	perWorker  = 10.0 // jobs/s one worker can do
	minWorkers = 20
	maxWorkers = 300
)

type job struct {
	id     uint64
	tenant uint32
}

var served, dropped atomic.Uint64

func load(since time.Duration) float64 {
	phase := 2 * math.Pi * float64(since) / float64(day)
	return nightLoad + (noonLoad-nightLoad)*(1-math.Cos(phase))/2
}

func worker(jobs <-chan job, stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		case j := <-jobs:
			time.Sleep(jobCost) // the backend
			if j.id != 0 {
				served.Add(1)
			}
		}
	}
}

func main() {
	start := time.Now()
	jobs := make(chan job, 1024)

	// Producer: every 10 ms, the jobs the current load brings.
	go func() {
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		var id uint64
		carry := 0.0
		for range tick.C {
			carry += load(time.Since(start)) / 100
			for ; carry >= 1; carry-- {
				id++
				select {
				case jobs <- job{id: id, tenant: uint32(id % 97)}:
				default:
					dropped.Add(1)
				}
			}
		}
	}()

	// Autoscaler: one stop channel per running worker.
	var stops []chan struct{}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for n := 1; ; n++ {
		want := int(math.Ceil(load(time.Since(start)) / perWorker))
		want = max(minWorkers, min(maxWorkers, want))
		for len(stops) < want {
			stop := make(chan struct{})
			stops = append(stops, stop)
			go worker(jobs, stop)
		}
		for len(stops) > want {
			close(stops[len(stops)-1])
			stops = stops[:len(stops)-1]
		}
		if n%10 == 0 {
			log.Printf("t=%4.1fs workers=%3d goroutines=%3d served=%d dropped=%d",
				time.Since(start).Seconds(), len(stops), runtime.NumGoroutine(), served.Load(), dropped.Load())
		}
		<-tick.C
	}
}
