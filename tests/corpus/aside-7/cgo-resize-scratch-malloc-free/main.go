// An image service resizes uploads with a C routine that needs a scratch
// buffer as large as the source image. The C side mallocs it on entry,
// works in it and frees it before returning, so nothing outlives a call.
// Four workers each resize 25 images a second of 1-4 MiB. The memory is
// glibc's, outside the Go heap: with several threads calling in, glibc
// spreads the buffers over per-thread arenas and keeps some freed space in
// each, so RSS rises to a level and stays there.
package main

/*
#include <stdlib.h>
#include <string.h>
#include <stdint.h>

// resize fills a scratch buffer of n bytes (standing in for the decoded
// image), samples it and frees it; it returns the checksum, or 0 on failure.
static uint64_t resize(size_t n, unsigned seed) {
	unsigned char *scratch = malloc(n);
	if (scratch == NULL) return 0;
	memset(scratch, (int)(seed & 0xff), n); // every page is touched
	uint64_t sum = 1;
	for (size_t i = 0; i < n; i += 4096) {
		scratch[i] ^= (unsigned char)i;
		sum = sum * 31 + scratch[i];
	}
	free(scratch);
	return sum;
}
*/
import "C"

import (
	"log"
	"math/rand/v2"
	"sync/atomic"
	"time"
)

const (
	workers = 4
	minSize = 1 << 20
	maxSize = 4 << 20
)

var done, failed atomic.Int64

func worker(w int) {
	rng := rand.New(rand.NewPCG(uint64(w), 99))
	tick := time.NewTicker(40 * time.Millisecond) // 25 images/s per worker
	defer tick.Stop()
	for range tick.C {
		// Uploads vary in size between 1 and 4 MiB.
		n := minSize + rng.IntN(maxSize-minSize)
		if C.resize(C.size_t(n), C.uint(rng.Uint32())) == 0 {
			failed.Add(1)
			continue
		}
		done.Add(1)
	}
}

func main() {
	for w := 0; w < workers; w++ {
		go worker(w)
	}
	for range time.Tick(5 * time.Second) {
		log.Printf("resizer: %d images, %d failed", done.Load(), failed.Load())
	}
}
