// A page-rendering service that allocates a 200 MiB ballast at start-up (an old
// trick to make the collector run less often) and then renders pages into fresh
// 40 KiB buffers at 400 pages per second. The ballast is never written, so it
// costs address space but little RSS.
package main

import (
	"log"
	"strconv"
	"time"
)

var (
	ballast  []byte
	lastPage []byte // served again by the preview endpoint
)

const pageSize = 40 << 10

func renderPage(n int, layout []byte) int {
	buf := make([]byte, pageSize)
	copy(buf, layout)
	copy(buf[100:], "page "+strconv.Itoa(n))
	size := 0
	for i := 0; i < len(buf); i += 1024 {
		if buf[i] != 0 {
			size++
		}
	}
	lastPage = buf
	return size
}

func main() {
	ballast = make([]byte, 200<<20)
	layout := make([]byte, pageSize)
	for i := range layout {
		const tpl = "<html><body><main></main></body></html>"
		layout[i] = tpl[i%len(tpl)]
	}
	log.Printf("renderer: %d MiB ballast, 400 pages/s", len(ballast)>>20)
	var total int
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for n := 0; ; {
		<-tick.C
		for range 4 {
			total += renderPage(n, layout)
			n++
		}
	}
}
