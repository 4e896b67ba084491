// A sensor bridge that runs its C driver on one dedicated OS thread. Each
// reading is copied into a 512-byte C record for a C ring that was meant to
// own and free it, but the ring was removed and the records are dropped.
package main

/*
#include <stdlib.h>
#include <string.h>

static void *record(int v) {
	void *p = malloc(512);
	if (p != NULL) memset(p, v & 0xff, 512);
	return p;
}
*/
import "C"

import (
	"log"
	"runtime"
	"time"
)

func driver(done chan struct{}) {
	runtime.LockOSThread()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for i := 0; ; i++ {
		<-tick.C
		for j := range 20 { // ~2,048 records a second
			if C.record(C.int(i+j)) == nil {
				log.Fatal("driver: out of memory")
			}
		}
		if i%50 == 0 {
			runtime.Gosched()
		}
	}
}

func main() {
	done := make(chan struct{})
	go driver(done)
	<-done
}
