// A metrics exporter that hands each formatted 3 KiB payload to a C transport
// library as a C string. The library copies what it needs, so the caller owns
// the string and must free it; this exporter never does.
package main

/*
#include <stdint.h>

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
	"strings"
	"time"
)

var requests = expvar.NewInt("requests")

const payloadSize = 3072

func format(seq int) string {
	var b strings.Builder
	b.Grow(payloadSize)
	for i := 0; b.Len() < payloadSize-64; i++ {
		b.WriteString("app_requests_total{route=\"/r")
		b.WriteString(strconv.Itoa(i))
		b.WriteString("\"} ")
		b.WriteString(strconv.Itoa(seq * (i + 1)))
		b.WriteByte('\n')
	}
	for b.Len() < payloadSize {
		b.WriteByte('#')
	}
	return b.String()
}

func main() {
	log.Println("exporter: 500 payloads/s of 3 KiB through the C transport")
	var digest uint64
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for seq := 0; ; {
		<-tick.C
		for range 5 {
			seq++
			cs := C.CString(format(seq))
			digest ^= uint64(C.transport_send(cs))
			requests.Add(1)
		}
	}
}
