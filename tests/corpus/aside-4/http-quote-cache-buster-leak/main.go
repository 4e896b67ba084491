// A market-data front end with a response cache in front of its quote
// handler. The cache is keyed by the full request URI, and the dashboards
// that poll it add a cache-busting "_=<counter>" parameter to every request,
// so every lookup misses and every response is stored under a key that is
// never asked for again. Nothing is ever evicted. A loopback client polls
// 500 times a second over one kept-alive connection.
package main

import (
	"bytes"
	"expvar"
	"fmt"
	"hash/fnv"
	"io"
	"log"
	"net"
	"net/http"
	"sync"
	"time"
)

var requests = expvar.NewInt("requests")

const points = 180

// quote renders a symbol's intraday series as JSON. Every price is printed
// nine characters wide, so a body is always about 1,850 bytes.
func quote(r *http.Request) []byte {
	sym := r.URL.Query().Get("sym")
	h := fnv.New32a()
	h.Write([]byte(sym))
	seed := h.Sum32()
	var b bytes.Buffer
	b.Grow(2048)
	fmt.Fprintf(&b, `{"sym":%q,"ts":%d,"px":[`, sym, time.Now().UnixNano())
	for i := range points {
		if i > 0 {
			b.WriteByte(',')
		}
		seed = seed*1664525 + 1013904223
		fmt.Fprintf(&b, "%9.3f", 50+float64(seed%900000)/1000)
	}
	b.WriteString("]}")
	return bytes.Clone(b.Bytes())
}

// A responseCache remembers each rendered body by its request URI.
type responseCache struct {
	mu      sync.Mutex
	entries map[string][]byte
}

func (c *responseCache) wrap(render func(*http.Request) []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		key := r.URL.RequestURI()
		c.mu.Lock()
		body, ok := c.entries[key]
		c.mu.Unlock()
		if !ok {
			body = render(r)
			c.mu.Lock()
			c.entries[key] = body
			c.mu.Unlock()
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}
}

func (c *responseCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

var symbols = []string{"ACME", "GLOBX", "INITE", "UMBR", "WAYN", "STRK", "CYBD", "OCP",
	"TYRL", "SOYL", "VAND", "MASS", "HOOLI", "PIED", "AVIA", "DUFF"}

func main() {
	cache := &responseCache{entries: make(map[string][]byte)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /quote", cache.wrap(quote))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	log.Printf("quotes on %s", ln.Addr())

	// The dashboard: five polls every 10 ms, each with a fresh "_" counter.
	base := "http://" + ln.Addr().String() + "/quote"
	client := &http.Client{Timeout: 2 * time.Second}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for n := 0; ; {
		<-tick.C
		for range 5 {
			n++
			url := fmt.Sprintf("%s?sym=%s&_=%d", base, symbols[n%len(symbols)], n)
			resp, err := client.Get(url)
			if err != nil {
				continue
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		if n%5000 == 0 {
			log.Printf("cache: %d entries", cache.len())
		}
	}
}
