// A pricing service holding a 20 MiB rate table that computes each quote in a
// fresh 48 KiB scratch buffer. It raises the GC percent to 400 to spend less
// CPU on collection, so garbage piles up for several seconds between cycles.
package main

import (
	"encoding/binary"
	"expvar"
	"log"
	"math/rand/v2"
	"runtime/debug"
	"time"
)

var requests = expvar.NewInt("requests")

const scratchSize = 48 << 10

type pricer struct {
	rates []uint64
	last  []byte // the last quote's worksheet, shown on the debug page
}

func (p *pricer) quote(product uint64) uint64 {
	scratch := make([]byte, scratchSize)
	base := int(product % uint64(len(p.rates)-scratchSize/8))
	for i := 0; i < scratchSize/8; i++ {
		binary.LittleEndian.PutUint64(scratch[8*i:], p.rates[base+i]^product)
	}
	var total uint64
	for i := 0; i < scratchSize; i += 512 {
		total += uint64(scratch[i])
	}
	p.last = scratch
	return total
}

func main() {
	debug.SetGCPercent(400)
	p := &pricer{rates: make([]uint64, (20<<20)/8)}
	for i := range p.rates {
		p.rates[i] = uint64(i)*2654435761 + 17
	}
	log.Println("pricer: 250 quotes/s, GOGC=400")
	var sum uint64
	tick := time.NewTicker(4 * time.Millisecond)
	defer tick.Stop()
	for range tick.C {
		sum += p.quote(rand.Uint64())
		requests.Add(1)
	}
}
