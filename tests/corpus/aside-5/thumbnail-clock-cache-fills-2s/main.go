// A thumbnail server's in-memory cache, capped at 48 MiB of pixels and
// evicting with the CLOCK (second-chance) algorithm: a hand sweeps a fixed
// ring of slots, clearing each slot's referenced bit and evicting the first
// slot whose bit was already clear. Thumbnails are 128x64 RGBA, 32 KiB each,
// so the cache holds 1,536 of them. Of 800 lookups a second, one in ten is for
// one of 64 popular images; the rest are spread over a million-image
// catalogue and nearly always miss, so the cache fills in about 2 s and from
// then on every miss evicts a thumbnail to make room for the new one.
package main

import (
	"expvar"
	"log"
	"math/rand/v2"
	"time"
)

var requests = expvar.NewInt("requests")

const (
	thumbBytes = 128 * 64 * 4 // 32 KiB
	capBytes   = 48 << 20
	slots      = capBytes / thumbBytes // 1,536
	catalogue  = 1 << 20
	popular    = 64
)

type entry struct {
	id  uint64
	pix []byte
	ref bool
}

type clockCache struct {
	ring  []entry // fixed: slots long
	index map[uint64]int
	hand  int
	used  int
}

func newClockCache() *clockCache {
	return &clockCache{ring: make([]entry, slots), index: make(map[uint64]int, slots)}
}

func (c *clockCache) get(id uint64) ([]byte, bool) {
	i, ok := c.index[id]
	if !ok {
		return nil, false
	}
	c.ring[i].ref = true
	return c.ring[i].pix, true
}

func (c *clockCache) put(id uint64, pix []byte) {
	var i int
	if c.used < len(c.ring) {
		i = c.used
		c.used++
	} else {
		// Give every referenced slot a second chance.
		for c.ring[c.hand].ref {
			c.ring[c.hand].ref = false
			c.hand = (c.hand + 1) % len(c.ring)
		}
		i = c.hand
		delete(c.index, c.ring[i].id)
		c.hand = (c.hand + 1) % len(c.ring)
	}
	c.ring[i] = entry{id: id, pix: pix}
	c.index[id] = i
}

// renderThumb stands in for decoding and scaling the original image.
func renderThumb(id uint64) []byte {
	pix := make([]byte, thumbBytes)
	v := byte(id)
	for i := range pix {
		pix[i] = v
		v = v*31 + 7
	}
	return pix
}

func main() {
	rng := rand.New(rand.NewPCG(2, 9))
	c := newClockCache()
	log.Printf("thumbnails: %d slots of %d KiB (%d MiB cap), 800 lookups/s", slots, thumbBytes>>10, capBytes>>20)

	var hits, misses uint64
	var served uint64
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for n := 1; ; n++ {
		<-tick.C
		for range 4 {
			var id uint64
			if rng.IntN(10) == 0 {
				id = uint64(rng.IntN(popular))
			} else {
				id = popular + uint64(rng.IntN(catalogue))
			}
			pix, ok := c.get(id)
			if ok {
				hits++
			} else {
				misses++
				pix = renderThumb(id)
				c.put(id, pix)
			}
			served += uint64(pix[len(pix)/2])
			requests.Add(1)
		}
		if n%2000 == 0 {
			log.Printf("cache: %d/%d slots, %d hits, %d misses", c.used, slots, hits, misses)
		}
	}
}
