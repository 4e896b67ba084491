// A metrics middleware that keeps a counter and latency histogram per label
// set. The label set is built from the raw request path rather than the route
// template, so every order ID seen creates a series that is never dropped.
package main

import (
	"expvar"
	"log"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"
)

var requests = expvar.NewInt("requests")

type series struct {
	labels  string
	count   uint64
	sum     float64
	buckets [16]uint32
}

type registry struct {
	mu sync.Mutex
	m  map[string]*series
}

var bounds = [16]float64{0.5, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 1e18}

func (r *registry) observe(method, path string, status int, ms float64) {
	key := method + " " + path + " " + strconv.Itoa(status)
	r.mu.Lock()
	s, ok := r.m[key]
	if !ok {
		s = &series{labels: key}
		r.m[key] = s
	}
	s.count++
	s.sum += ms
	for i, b := range bounds {
		if ms <= b {
			s.buckets[i]++
			break
		}
	}
	r.mu.Unlock()
}

var fixedPaths = []string{"/healthz", "/api/cart", "/api/search", "/api/me"}

func main() {
	reg := &registry{m: make(map[string]*series)}
	nextOrder := 1_000_000
	log.Println("api: 12,000 requests/s through the metrics middleware")
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for range tick.C {
		for i := range 120 {
			ms := rand.ExpFloat64() * 20
			if i%5 == 4 {
				reg.observe("GET", fixedPaths[rand.IntN(len(fixedPaths))], 200, ms)
			} else {
				nextOrder++
				reg.observe("GET", "/api/orders/"+strconv.Itoa(nextOrder), 200, ms)
			}
			requests.Add(1)
		}
	}
}
