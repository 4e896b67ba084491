// A metrics batcher. A sampler goroutine feeds 2,000 samples a second into an
// input channel that a flusher drains into 100 ms batches. Every 3 s the
// batcher rotates to a new segment: rotate closes the current input channel,
// so its flusher drains what is left and exits, and swaps in a new channel
// with a new flusher. But the sampler took its own copy of the channel when
// it started instead of asking the batcher each time, so its first send after
// the rotation at 3 s is on a closed channel and the program panics with
// "send on closed channel".
package main

import (
	"log"
	"sync"
	"time"
)

type sample struct {
	at    int64
	value float64
}

type batcher struct {
	mu      sync.Mutex
	in      chan sample
	segment int
	flushed int
}

func (b *batcher) input() chan sample {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.in
}

// flush drains in, one batch every 100 ms, until in is closed.
func (b *batcher) flush(in <-chan sample) {
	batch := make([]sample, 0, 256)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case s, ok := <-in:
			if !ok {
				b.commit(batch)
				return
			}
			batch = append(batch, s)
		case <-tick.C:
			b.commit(batch)
			batch = batch[:0]
		}
	}
}

func (b *batcher) commit(batch []sample) {
	b.mu.Lock()
	b.flushed += len(batch)
	b.mu.Unlock()
}

// rotate starts a new segment with its own channel and flusher.
func (b *batcher) rotate() {
	b.mu.Lock()
	close(b.in)
	b.in = make(chan sample, 1024)
	b.segment++
	in := b.in
	b.mu.Unlock()
	go b.flush(in)
}

func main() {
	b := &batcher{in: make(chan sample, 1024)}
	go b.flush(b.in)

	// The sampler: 20 samples every 10 ms.
	go func() {
		in := b.input() // bug: should call b.input() for every send
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for now := range tick.C {
			for i := range 20 {
				in <- sample{at: now.UnixNano(), value: float64(i) * 0.5}
			}
		}
	}()

	log.Println("batcher: 2,000 samples/s, rotating every 3 s")
	rot := time.NewTicker(3 * time.Second)
	defer rot.Stop()
	for range rot.C {
		b.rotate()
		b.mu.Lock()
		log.Printf("segment %d, %d samples flushed", b.segment, b.flushed)
		b.mu.Unlock()
	}
}
