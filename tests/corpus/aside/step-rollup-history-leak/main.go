// A metrics aggregator that folds incoming points into per-series buckets for
// a 2.5 s window. At each window boundary it freezes a copy of every bucket
// into the rollup history, resets the live buckets and carries on. The
// history is meant to be downsampled by a compactor that was never started.
package main

import (
	"log"
	"math"
	"math/rand/v2"
	"time"
)

const (
	seriesCount = 12288
	window      = 2500 * time.Millisecond
)

type bucket struct {
	series   uint64
	count    uint64
	sum      float64
	min, max float64
	hist     [27]uint64
}

type rollup struct {
	start   time.Time
	buckets []*bucket
}

type aggregator struct {
	live    [seriesCount]bucket
	history []rollup
}

func (a *aggregator) add(series int, v float64) {
	b := &a.live[series]
	b.series = uint64(series)
	if b.count == 0 || v < b.min {
		b.min = v
	}
	if b.count == 0 || v > b.max {
		b.max = v
	}
	b.count++
	b.sum += v
	b.hist[min(26, int(math.Log2(1+v)))]++
}

func (a *aggregator) roll(start time.Time) {
	r := rollup{start: start, buckets: make([]*bucket, 0, seriesCount)}
	for i := range a.live {
		frozen := new(bucket)
		*frozen = a.live[i]
		r.buckets = append(r.buckets, frozen)
		a.live[i] = bucket{}
	}
	a.history = append(a.history, r)
}

func main() {
	a := &aggregator{}
	log.Println("aggregator: 12,288 series, 2.5s windows")
	points := time.NewTicker(10 * time.Millisecond)
	defer points.Stop()
	windows := time.NewTicker(window)
	defer windows.Stop()
	start := time.Now()
	for {
		select {
		case <-points.C:
			for range 400 {
				a.add(rand.IntN(seriesCount), rand.ExpFloat64()*100)
			}
		case now := <-windows.C:
			a.roll(start)
			start = now
		}
	}
}
