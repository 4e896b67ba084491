// A metrics agent that formats each sample into a C buffer for a C exporter.
// The buffer is malloc'd per sample and the code path that should free it
// after export was never written.
package main

/*
#include <stdlib.h>
#include <string.h>

static char *format_sample(int id) {
	char *p = malloc(4096);
	if (p != NULL) memset(p, 'a' + id % 26, 4096);
	return p;
}
*/
import "C"

import (
	"expvar"
	"log"
	"time"
)

var requests = expvar.NewInt("requests")

func main() {
	tick := time.NewTicker(time.Second / 256)
	defer tick.Stop()
	id := 0
	for range tick.C {
		if C.format_sample(C.int(id)) == nil {
			log.Fatal("out of memory")
		}
		id++
		requests.Add(1)
	}
}
