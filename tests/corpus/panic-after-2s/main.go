// A fixed-width record parser reading a feed at 100 records per second and
// keeping per-region counts. The feed's 200th record is truncated and the
// parser slices past its end, which panics (slice bounds out of range) about
// two seconds in.
package main

import (
	"log"
	"strconv"
	"strings"
	"time"
)

const recordWidth = 64

func feed(n int) string {
	rec := strconv.Itoa(100000+n) + "|" + "EU-WEST " + strings.Repeat("x", 16) + "|" + strconv.Itoa(n*7%1000)
	rec += strings.Repeat(" ", recordWidth-len(rec))
	if n == 200 {
		return rec[:20] // truncated upstream
	}
	return rec
}

func parse(rec string) (id, region string) {
	return rec[0:6], strings.TrimSpace(rec[7:15]) + rec[40:48]
}

func main() {
	counts := map[string]int{}
	log.Println("parser: 100 records/s")
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for n := 1; ; n++ {
		<-tick.C
		_, region := parse(feed(n))
		counts[region]++
	}
}
