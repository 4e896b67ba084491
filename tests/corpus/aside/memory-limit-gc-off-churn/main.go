// A log-analytics worker that switches off the GC percent and relies on a
// 280 MiB memory limit instead, so the collector only runs when the heap nears
// the limit. It holds ~8 MiB of live state and produces ~20 MiB/s of
// short-lived parse records.
package main

import (
	"expvar"
	"log"
	"math/rand/v2"
	"runtime/debug"
	"strconv"
	"time"
)

var requests = expvar.NewInt("requests")

type parsed struct {
	host    string
	status  int
	bytes   int64
	latency float64
	fields  [24]uint64
}

type stats struct {
	byHost map[string]*[64]uint64
	recent [][]*parsed
}

const hosts = 16_000

// hostKey gives the 8-byte host label used as the first field of a line.
func hostKey(i int) string {
	d := strconv.Itoa(i)
	return "h" + "0000000"[:7-len(d)] + d
}

func parseBatch(lines []string) []*parsed {
	out := make([]*parsed, 0, len(lines))
	for _, l := range lines {
		p := &parsed{host: l[:8], status: 200 + int(l[8]%5), bytes: int64(len(l)) * 100, latency: rand.Float64()}
		for i := range p.fields {
			p.fields[i] = uint64(l[i%len(l)]) << i
		}
		out = append(out, p)
	}
	return out
}

func main() {
	debug.SetGCPercent(-1)
	debug.SetMemoryLimit(280 << 20)
	st := &stats{byHost: make(map[string]*[64]uint64)}
	for i := range hosts {
		st.byHost[hostKey(i)] = new([64]uint64)
	}
	lines := make([]string, 800)
	for i := range lines {
		lines[i] = hostKey(i*20%hosts) + " GET /api/v1/items 200 512 0.004"
	}
	log.Println("analytics: GC percent off, 280 MiB memory limit")
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for range tick.C {
		batch := parseBatch(lines)
		for _, p := range batch {
			if c := st.byHost[p.host]; c != nil {
				c[p.status%64]++
			}
		}
		st.recent = append(st.recent, batch)
		if len(st.recent) > 4 {
			st.recent = append(st.recent[:0], st.recent[len(st.recent)-4:]...)
		}
		requests.Add(int64(len(batch)))
	}
}
