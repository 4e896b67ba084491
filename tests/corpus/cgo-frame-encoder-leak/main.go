// A media relay that encodes each outgoing frame with a small C codec. The
// codec returns a malloc'd 64 KiB frame; the Go side copies it into its send
// buffer and is supposed to free the C memory afterwards, but this send path
// never does. 40 frames per second.
package main

/*
#include <stdint.h>
#include <stdlib.h>

static unsigned char *encode_frame(size_t n, uint32_t seed) {
	unsigned char *p = malloc(n);
	if (p == NULL) return NULL;
	uint32_t x = seed * 2654435761u + 1u;
	for (size_t i = 0; i < n; i++) {
		x = x * 1103515245u + 12345u;
		p[i] = (unsigned char)(x >> 16);
	}
	return p;
}

static uint32_t frame_checksum(const unsigned char *p, size_t n) {
	uint32_t s = 0;
	for (size_t i = 0; i < n; i += 64) s = s * 31u + p[i];
	return s;
}
*/
import "C"

import (
	"expvar"
	"log"
	"time"
	"unsafe"
)

var requests = expvar.NewInt("requests")

const frameSize = 64 << 10

type relay struct {
	sent    uint64
	lastSum uint32
}

func (r *relay) send(seq uint32) {
	frame := C.encode_frame(frameSize, C.uint32_t(seq))
	if frame == nil {
		log.Fatal("codec: out of memory")
	}
	sum := uint32(C.frame_checksum(frame, frameSize))
	wire := C.GoBytes(unsafe.Pointer(frame), frameSize)
	r.sent += uint64(len(wire))
	r.lastSum = sum
	requests.Add(1)
}

func main() {
	r := &relay{}
	log.Println("relay: 40 frames/s of 64 KiB")
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	for seq := uint32(1); ; seq++ {
		<-tick.C
		r.send(seq)
	}
}
