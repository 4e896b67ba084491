// A tracing agent that forwards each 3 KiB span batch to a C transport library
// as a C string. The library copies what it needs; the agent frees the string
// as soon as the call returns.
package main

/*
#include <stdint.h>
#include <stdlib.h>

static uint64_t transport_send(const char *payload) {
	uint64_t h = 1469598103934665603ull;
	for (const char *p = payload; *p; p++) {
		h ^= (unsigned char)*p;
		h *= 1099511628211ull;
	}
	return h;
}
*/
import "C"

import (
	"expvar"
	"log"
	"strconv"
	"time"
	"unsafe"
)

var requests = expvar.NewInt("requests")

const batchSize = 3072

func encodeBatch(seq int, buf []byte) []byte {
	buf = buf[:0]
	for i := 0; len(buf) < batchSize-80; i++ {
		buf = append(buf, `{"trace":"`...)
		buf = strconv.AppendInt(buf, int64(seq), 16)
		buf = append(buf, `","span":`...)
		buf = strconv.AppendInt(buf, int64(i), 10)
		buf = append(buf, `,"dur_us":`...)
		buf = strconv.AppendInt(buf, int64((seq*31+i*7)%5000), 10)
		buf = append(buf, "}\n"...)
	}
	for len(buf) < batchSize {
		buf = append(buf, ' ')
	}
	return buf
}

func forward(batch []byte) uint64 {
	cs := C.CString(string(batch))
	defer C.free(unsafe.Pointer(cs))
	return uint64(C.transport_send(cs))
}

func main() {
	log.Println("agent: 500 batches/s of 3 KiB through the C transport")
	buf := make([]byte, 0, batchSize)
	var digest uint64
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for seq := 0; ; {
		<-tick.C
		for range 5 {
			seq++
			buf = encodeBatch(seq, buf)
			digest ^= forward(buf)
			requests.Add(1)
		}
	}
}
