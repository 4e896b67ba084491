// A per-client rate limiter in front of an API: every client gets a token
// bucket, looked up by client id in a map. Half the traffic comes from 500
// well-known clients; the other half comes from scanners and mobile clients
// whose ids rotate, so each of those requests brings a client never seen
// before. The limiter was meant to have a janitor that drops idle buckets,
// but it was never written, so every bucket ever created stays in the map.
// 5,000 requests a second, 2,500 of them from new clients.
package main

import (
	"expvar"
	"fmt"
	"log"
	"sync"
	"time"
)

var requests = expvar.NewInt("requests")

const (
	rate       = 50.0 // tokens per second per client
	burst      = 100.0
	perTick    = 50 // requests every 10 ms: 5,000/s
	knownCount = 500
)

// A bucket is 40 bytes (float64 + time.Time + two uint32), so it lives in
// the 48-byte size class.
type bucket struct {
	tokens  float64
	last    time.Time
	allowed uint32
	denied  uint32
}

type limiter struct {
	mu      sync.Mutex
	buckets map[string]*bucket
}

// allow refills the client's bucket for the time since its last request
// and takes one token if there is one.
func (l *limiter) allow(client string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[client]
	if !ok {
		// A new client: the bucket and the key string are kept for good.
		b = &bucket{tokens: burst, last: now}
		l.buckets[client] = b
	}
	b.tokens += now.Sub(b.last).Seconds() * rate
	if b.tokens > burst {
		b.tokens = burst
	}
	b.last = now
	if b.tokens < 1 {
		b.denied++
		return false
	}
	b.tokens--
	b.allowed++
	return true
}

func main() {
	l := &limiter{buckets: make(map[string]*bucket)}

	// The known clients' ids are made once, so looking them up allocates
	// nothing.
	known := make([]string, knownCount)
	for i := range known {
		known[i] = fmt.Sprintf("%016x", 0xfeed0000+i)
	}

	var next uint64 = 1 << 40 // ids of clients never seen before
	var ok, denied int
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	report := time.Now()
	for now := range tick.C {
		for i := 0; i < perTick; i++ {
			var client string
			if i%2 == 0 {
				client = known[(i/2+int(next))%knownCount]
			} else {
				// A 16-character id: the string is exactly 16 bytes.
				client = fmt.Sprintf("%016x", next)
				next++
			}
			if l.allow(client, now) {
				ok++
			} else {
				denied++
			}
			requests.Add(1)
		}
		if now.Sub(report) >= 5*time.Second {
			report = now
			l.mu.Lock()
			n := len(l.buckets)
			l.mu.Unlock()
			log.Printf("limiter: %d buckets, %d allowed, %d denied", n, ok, denied)
		}
	}
}
