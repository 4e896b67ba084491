// A report encoder that borrows 512 KiB scratch buffers from a free list.
// Concurrency ramps from 1 to 48 encoders over the first three seconds, as a
// deploy shifts traffic over; the free list creates a buffer only when none
// is free and keeps the ones returned, so it grows to the peak and stays.
package main

import (
	"log"
	"sync/atomic"
	"time"
)

const (
	bufSize     = 512 << 10
	maxEncoders = 48
	maxFree     = 64
)

type bufferPool struct {
	free    chan []byte
	created atomic.Int64
}

func (p *bufferPool) get() []byte {
	select {
	case b := <-p.free:
		return b
	default:
		p.created.Add(1)
		b := make([]byte, bufSize)
		for i := 0; i < len(b); i += 4096 {
			b[i] = 1 // fault the pages in up front
		}
		return b
	}
}

func (p *bufferPool) put(b []byte) {
	select {
	case p.free <- b:
	default:
	}
}

var encoded atomic.Uint64

func encoder(id int, p *bufferPool) {
	for n := 0; ; n++ {
		b := p.get()
		// encode a report section into the first 32 KiB
		for i := 0; i < 32<<10; i += 8 {
			b[i] = byte(id + n + i)
		}
		time.Sleep(30 * time.Millisecond) // waiting on the database
		encoded.Add(1)
		p.put(b)
		time.Sleep(5 * time.Millisecond)
	}
}

func main() {
	p := &bufferPool{free: make(chan []byte, maxFree)}
	ramp := time.NewTicker(3 * time.Second / maxEncoders)
	for i := range maxEncoders {
		go encoder(i, p)
		<-ramp.C
	}
	ramp.Stop()
	log.Printf("encoders: %d running, %d buffers", maxEncoders, p.created.Load())
	report := time.NewTicker(5 * time.Second)
	defer report.Stop()
	for range report.C {
		log.Printf("encoded %d sections with %d buffers", encoded.Load(), p.created.Load())
	}
}
