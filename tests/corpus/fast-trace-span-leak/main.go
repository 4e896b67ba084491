// A tracing client that batches finished spans for an exporter. The exporter
// only drains its batch once it has connected to a collector, and with no
// collector address configured it never connects, so every span recorded by
// the instrumented request path stays in the batch.
package main

import (
	"log"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"
)

type attr struct{ key, value string }

type span struct {
	traceID, spanID, parentID uint64
	name                      string
	startNs, durNs            int64
	attrs                     []attr
}

type exporter struct {
	mu        sync.Mutex
	collector string
	connected bool
	pending   []*span
	exported  uint64
}

func (e *exporter) enqueue(batch []*span) {
	e.mu.Lock()
	e.pending = append(e.pending, batch...)
	e.mu.Unlock()
}

func (e *exporter) flushLoop() {
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for range t.C {
		e.mu.Lock()
		if !e.connected && e.collector != "" {
			e.connected = true // a real client would dial here
		}
		if e.connected {
			e.exported += uint64(len(e.pending))
			e.pending = nil
		}
		e.mu.Unlock()
	}
}

var routes = []string{"GET /cart", "POST /cart/items", "GET /product", "POST /checkout", "GET /search"}
var children = []string{"db.query", "cache.get", "http.client", "template.render"}

// traceRequest records one request: a root span and four children.
func traceRequest(buf []*span, now int64) []*span {
	traceID := rand.Uint64()
	route := routes[rand.IntN(len(routes))]
	user := "u" + strconv.FormatUint(rand.Uint64N(60_000_000), 36)
	root := &span{traceID: traceID, spanID: rand.Uint64(), name: route, startNs: now, durNs: 1_200_000,
		attrs: []attr{{"http.route", route}, {"user.id", user}, {"net.peer", "10.0.0.7"}}}
	buf = append(buf, root)
	for i, name := range children {
		buf = append(buf, &span{traceID: traceID, spanID: rand.Uint64(), parentID: root.spanID, name: name,
			startNs: now + int64(i)*200_000, durNs: 150_000,
			attrs: []attr{{"component", name}, {"user.id", user}, {"sampled", "true"}}})
	}
	return buf
}

func main() {
	exp := &exporter{collector: ""} // endpoint left empty in this deployment
	go exp.flushLoop()
	log.Println("tracer: 200 traces (1000 spans) every 10ms")

	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	batch := make([]*span, 0, 1000)
	for now := range tick.C {
		batch = batch[:0]
		for range 200 {
			batch = traceRequest(batch, now.UnixNano())
		}
		exp.enqueue(batch)
	}
}
