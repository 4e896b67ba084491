// A thumbnail service whose C decoder returns each decoded image as a 256 KiB
// malloc'd bitmap; the Go caller reads the bitmap and never frees it.
package main

/*
#include <stdlib.h>
#include <string.h>

static unsigned char *decode(int seed) {
	unsigned char *p = malloc(256 << 10);
	if (p != NULL) memset(p, seed & 0xff, 256 << 10);
	return p;
}
*/
import "C"

import (
	"log"
	"time"
	"unsafe"
)

func main() {
	tick := time.NewTicker(time.Second / 8)
	defer tick.Stop()
	var sum byte
	for i := 0; ; i++ {
		<-tick.C
		bitmap := C.decode(C.int(i))
		if bitmap == nil {
			log.Fatal("decoder: out of memory")
		}
		sum += *(*byte)(unsafe.Pointer(bitmap))
	}
}
