// An autoscaling worker pool in front of an image-processing queue. A scaler
// adds five workers every 100 ms while the backlog is deep, up to a hard
// maximum of 200. Producers outpace even the full pool, so it reaches the
// maximum after about four seconds and stays there; workers never exit.
package main

import (
	"log"
	"sync/atomic"
	"time"
)

type job struct {
	id     uint64
	width  int
	height int
}

const (
	maxWorkers = 200
	step       = 5
	queueCap   = 1000
)

var (
	processed atomic.Uint64
	dropped   atomic.Uint64
)

func worker(queue <-chan job) {
	for j := range queue {
		time.Sleep(60 * time.Millisecond) // fetch, resize, upload
		if j.width*j.height > 0 {
			processed.Add(1)
		}
	}
}

func main() {
	queue := make(chan job, queueCap)
	go func() {
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		var id uint64
		for range t.C {
			for range 40 {
				id++
				select {
				case queue <- job{id: id, width: 800, height: 600}:
				default:
					dropped.Add(1)
				}
			}
		}
	}()

	workers := 0
	scale := time.NewTicker(100 * time.Millisecond)
	defer scale.Stop()
	report := time.NewTicker(5 * time.Second)
	defer report.Stop()
	for {
		select {
		case <-scale.C:
			if len(queue) > queueCap/10 && workers < maxWorkers {
				for range min(step, maxWorkers-workers) {
					go worker(queue)
					workers++
				}
			}
		case <-report.C:
			log.Printf("pool: %d workers, %d processed, %d dropped", workers, processed.Load(), dropped.Load())
		}
	}
}
