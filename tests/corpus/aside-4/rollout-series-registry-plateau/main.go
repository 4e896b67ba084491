// A metrics agent that keeps one latency histogram per (route, status, pod)
// series, creating a series the first time it sees one. It starts during a
// rolling deploy: a new pod comes online every 300 ms until all ten are up,
// and each pod soon reports every route and status it has. The label space
// is fixed, so once the last pod is up the registry stops growing.
package main

import (
	"log"
	"time"
)

const (
	routes   = 50
	statuses = 6
	pods     = 10
	podEvery = 300 * time.Millisecond
	buckets  = 510
)

type seriesKey struct {
	route, status, pod uint16
}

// A series is 4,096 bytes and holds no pointers: 8 + 8 + 510*8.
type series struct {
	count   uint64
	sumUs   uint64
	buckets [buckets]uint64
}

var registry = make(map[seriesKey]*series)

// observe records one latency, creating the series on first sight.
func observe(k seriesKey, us uint64) {
	s := registry[k]
	if s == nil {
		s = new(series)
		registry[k] = s
	}
	s.count++
	s.sumUs += us
	s.buckets[min(us/100, buckets-1)]++
}

func main() {
	log.Println("agent: scraping a rolling deploy of 10 pods")
	start := time.Now()
	var next [pods]int // where each pod is in its walk over routes x statuses
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	report := time.NewTicker(5 * time.Second)
	defer report.Stop()
	for {
		select {
		case now := <-tick.C:
			online := min(pods, 1+int(now.Sub(start)/podEvery))
			// Ten samples per online pod per tick: 1,000 samples/s each.
			for p := range online {
				for range 10 {
					combo := next[p] % (routes * statuses)
					next[p]++
					us := uint64(200 + (next[p]*7919+p*104729)%20000)
					observe(seriesKey{uint16(combo / statuses), uint16(combo % statuses), uint16(p)}, us)
				}
			}
		case <-report.C:
			log.Printf("registry: %d series", len(registry))
		}
	}
}
