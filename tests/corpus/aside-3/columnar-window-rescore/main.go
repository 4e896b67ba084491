// A fraud scorer that every 1.5 s loads the last window of 2 Mi transactions
// into columns (amount, fee, latency, merchant), sorts a copy of the latency
// column for its percentiles, and keeps only a small summary of each window in
// a fixed ring. The columns, ~72 MiB per window, are dropped after scoring.
package main

import (
	"log"
	"math/rand/v2"
	"slices"
	"time"
)

const rows = 2 << 20

type columns struct {
	amount   []float64
	fee      []float64
	latency  []float64
	merchant []uint32
}

type summary struct {
	window  int
	total   float64
	p50     float64
	p99     float64
	flagged int
}

func load(window int) *columns {
	rng := rand.New(rand.NewPCG(uint64(window), 42))
	c := &columns{
		amount:   make([]float64, rows),
		fee:      make([]float64, rows),
		latency:  make([]float64, rows),
		merchant: make([]uint32, rows),
	}
	for i := range rows {
		c.amount[i] = rng.ExpFloat64() * 40
		c.fee[i] = c.amount[i] * 0.029
		c.latency[i] = rng.NormFloat64()*20 + 120
		c.merchant[i] = rng.Uint32N(50_000)
	}
	return c
}

func score(window int, c *columns) summary {
	s := summary{window: window}
	for i, a := range c.amount {
		s.total += a
		if a > 400 && c.latency[i] < 60 {
			s.flagged++
		}
	}
	sorted := slices.Clone(c.latency)
	slices.Sort(sorted)
	s.p50 = sorted[len(sorted)/2]
	s.p99 = sorted[len(sorted)*99/100]
	return s
}

func main() {
	var ring [32]summary
	log.Println("scorer: a 2 Mi-row window every 1.5 s")
	tick := time.NewTicker(1500 * time.Millisecond)
	defer tick.Stop()
	for w := 0; ; w++ {
		s := score(w, load(w))
		ring[w%len(ring)] = s
		if w%8 == 0 {
			log.Printf("window %d: total %.0f, p99 %.1f ms, %d flagged", s.window, s.total, s.p99, s.flagged)
		}
		<-tick.C
	}
}
