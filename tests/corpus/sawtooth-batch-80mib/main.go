// A batch loader that every 1.5 s pulls an 80 MiB extract in 4 MiB chunks
// over half a second, aggregates it into a small summary, and lets the
// extract go. Only the last 100 summaries are kept.
package main

import (
	"log"
	"time"
)

const (
	chunkSize = 4 << 20
	chunks    = 20
	period    = 1500 * time.Millisecond
)

type summary struct {
	batch int
	bytes int
	hist  [16]uint64
}

func pull(batch, i int, pattern []byte) []byte {
	c := make([]byte, chunkSize)
	copy(c, pattern)
	for off := 0; off < len(c); off += 4096 {
		c[off] = byte(batch + i + off>>12)
	}
	return c
}

func aggregate(batch int, extract [][]byte) summary {
	s := summary{batch: batch}
	for _, c := range extract {
		s.bytes += len(c)
		for off := 0; off < len(c); off += 512 {
			s.hist[c[off]&15]++
		}
	}
	return s
}

func main() {
	pattern := make([]byte, chunkSize)
	for i := range pattern {
		pattern[i] = byte(i * 31)
	}
	var kept []summary
	log.Println("loader: an 80 MiB extract every 1.5s")
	tick := time.NewTicker(period)
	defer tick.Stop()
	for batch := 1; ; batch++ {
		extract := make([][]byte, 0, chunks)
		for i := range chunks {
			extract = append(extract, pull(batch, i, pattern))
			time.Sleep(25 * time.Millisecond)
		}
		kept = append(kept, aggregate(batch, extract))
		if len(kept) > 100 {
			kept = append(kept[:0], kept[len(kept)-100:]...)
		}
		extract = nil
		<-tick.C
	}
}
