// An indexer that loads a 64 MiB mmap'd index at start-up and, for every
// document, asks a C tokenizer for a 32 KiB scratch buffer that it never
// frees. The index is bounded; the scratch buffers are not.
package main

/*
#include <stdlib.h>
#include <string.h>

static void *scratch(void) {
	void *p = malloc(32 << 10);
	if (p != NULL) memset(p, 1, 32 << 10);
	return p;
}
*/
import "C"

import (
	"log"
	"syscall"
	"time"
)

const (
	indexSize = 64 << 20
	perTick   = 160 << 10 // every 10 ms
)

func main() {
	index, err := syscall.Mmap(-1, 0, indexSize, syscall.PROT_READ|syscall.PROT_WRITE,
		syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		log.Fatalf("mmap: %v", err)
	}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	loaded, n := 0, 0
	for range tick.C {
		if loaded < indexSize {
			end := min(loaded+perTick, indexSize)
			for off := loaded; off < end; off += 4096 {
				index[off] = byte(off >> 12)
			}
			loaded = end
		}
		// A document every ~16 ms (64 a second) leaks its scratch buffer.
		if n++; n%3 != 0 && C.scratch() == nil {
			log.Fatal("out of memory")
		}
	}
}
