// A log ingester that interns field values so that repeated strings (levels,
// service names, paths) are stored once. It interns every field, including the
// request ID, which is unique per line, so the intern table gains one entry
// per line for ever.
package main

import (
	"expvar"
	"log"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

var requests = expvar.NewInt("requests")

type interner struct {
	table map[string]string
}

func (in *interner) intern(s string) string {
	if v, ok := in.table[s]; ok {
		return v
	}
	v := strings.Clone(s)
	in.table[v] = v
	return v
}

type event struct {
	ts                      int64
	level, svc, path, reqID string
	status                  int
}

func parse(in *interner, line string) (event, bool) {
	var ev event
	for _, field := range strings.Fields(line) {
		k, v, ok := strings.Cut(field, "=")
		if !ok {
			return ev, false
		}
		switch k {
		case "ts":
			ev.ts, _ = strconv.ParseInt(v, 10, 64)
		case "status":
			ev.status, _ = strconv.Atoi(v)
		case "level":
			ev.level = in.intern(v)
		case "svc":
			ev.svc = in.intern(v)
		case "path":
			ev.path = in.intern(v)
		case "req":
			ev.reqID = in.intern(v)
		}
	}
	return ev, true
}

var (
	levels   = []string{"info", "info", "info", "warn", "error"}
	services = []string{"checkout", "cart", "search", "auth"}
	paths    = []string{"/cart/items", "/search", "/login", "/checkout/confirm", "/healthz"}
)

func main() {
	in := &interner{table: make(map[string]string)}
	log.Println("ingester: 4,000 lines/s")
	var errs, last int
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for now := range tick.C {
		for range 40 {
			line := "ts=" + strconv.FormatInt(now.UnixMilli(), 10) +
				" level=" + levels[rand.IntN(len(levels))] +
				" svc=" + services[rand.IntN(len(services))] +
				" path=" + paths[rand.IntN(len(paths))] +
				" status=200 req=" + strconv.FormatUint(rand.Uint64()|1<<63, 16)
			ev, ok := parse(in, line)
			if !ok {
				errs++
				continue
			}
			last = ev.status
			requests.Add(1)
		}
	}
	_ = last
}
