// A packet-capture buffer that takes 4 MiB chunks from the kernel (mmap) as
// load ramps up over two seconds and recycles them through a free list once
// flushed, 1.2 s after filling. It is capped at 12 chunks: when all are in
// flight it drops packets instead of mapping more.
package main

import (
	"log"
	"syscall"
	"time"
)

const (
	chunkSize = 4 << 20
	maxChunks = 12
	fullRate  = 40 << 20 // bytes/s once ramped up
	rampTime  = 2 * time.Second
	flushLag  = 1200 * time.Millisecond
)

type chunk struct {
	mem    []byte
	used   int
	sealed time.Time
}

type capture struct {
	free     []*chunk
	inFlight []*chunk
	active   *chunk
	mapped   int
	dropped  int
	packet   []byte
}

func (c *capture) take() *chunk {
	if n := len(c.free); n > 0 {
		ch := c.free[n-1]
		c.free = c.free[:n-1]
		ch.used = 0
		return ch
	}
	if c.mapped == maxChunks {
		return nil
	}
	mem, err := syscall.Mmap(-1, 0, chunkSize, syscall.PROT_READ|syscall.PROT_WRITE,
		syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		log.Fatalf("mmap: %v", err)
	}
	c.mapped++
	return &chunk{mem: mem}
}

func (c *capture) write(n int, now time.Time) {
	for n > 0 {
		if c.active == nil {
			if c.active = c.take(); c.active == nil {
				c.dropped += n
				return
			}
		}
		k := min(n, len(c.packet), chunkSize-c.active.used)
		copy(c.active.mem[c.active.used:], c.packet[:k])
		c.active.used += k
		n -= k
		if c.active.used == chunkSize {
			c.active.sealed = now
			c.inFlight = append(c.inFlight, c.active)
			c.active = nil
		}
	}
}

func (c *capture) flush(now time.Time) {
	keep := c.inFlight[:0]
	for _, ch := range c.inFlight {
		if now.Sub(ch.sealed) >= flushLag {
			c.free = append(c.free, ch)
		} else {
			keep = append(keep, ch)
		}
	}
	clear(c.inFlight[len(keep):])
	c.inFlight = keep
}

func main() {
	c := &capture{packet: make([]byte, 64<<10)}
	for i := range c.packet {
		c.packet[i] = byte(i)
	}
	start := time.Now()
	log.Println("capture: ramping to 40 MiB/s over 2s, at most 12 x 4 MiB chunks")
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for now := range tick.C {
		frac := min(1, now.Sub(start).Seconds()/rampTime.Seconds())
		c.write(int(float64(fullRate)*frac/100), now)
		c.flush(now)
	}
}
