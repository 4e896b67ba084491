// A trace recorder that keeps the last 64 MiB of events in a ring it maps once
// with mmap. Writing the ring for the first time makes its pages resident; after
// the first lap it only overwrites them.
package main

import (
	"encoding/binary"
	"log"
	"syscall"
	"time"
)

const (
	ringSize = 64 << 20
	perTick  = 160 << 10 // every 10 ms
)

func main() {
	ring, err := syscall.Mmap(-1, 0, ringSize, syscall.PROT_READ|syscall.PROT_WRITE,
		syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		log.Fatalf("mmap: %v", err)
	}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	var head, seq uint64
	for range tick.C {
		// Each event is 64 bytes; write a tick's worth, wrapping at the end.
		for n := 0; n < perTick; n += 64 {
			binary.LittleEndian.PutUint64(ring[head:], seq)
			seq++
			head = (head + 64) % ringSize
		}
	}
}
