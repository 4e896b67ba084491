// A sidecar that health-checks four upstream services, each once a second,
// and logs the ones that are down. It only looks at the status code and never
// closes the response body. An unread, unclosed body keeps its connection
// busy, so the HTTP transport cannot put it back in the idle pool: every check
// dials a fresh connection, and each abandoned one leaves its transport read
// loop waiting for the body to be consumed, its write loop waiting for a next
// request, and the upstream's server goroutine for it waiting to read one.
// Here the four upstreams are paths on one loopback server with no timeouts.
package main

import (
	"expvar"
	"log"
	"net"
	"net/http"
	"runtime"
	"time"
)

var requests = expvar.NewInt("requests")

func main() {
	mux := http.NewServeMux()
	for _, svc := range []string{"billing", "catalog", "search", "users"} {
		mux.HandleFunc("GET /"+svc+"/healthz", func(w http.ResponseWriter, r *http.Request) {
			requests.Add(1)
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"status":"ok","service":"` + svc + `"}`))
		})
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go http.Serve(ln, mux)
	base := "http://" + ln.Addr().String()
	log.Printf("upstreams on %s", base)

	targets := []string{
		base + "/billing/healthz",
		base + "/catalog/healthz",
		base + "/search/healthz",
		base + "/users/healthz",
	}
	client := &http.Client{}

	// One check every 250 ms, round-robin, so each target once a second.
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for n := 0; ; n++ {
		<-tick.C
		url := targets[n%len(targets)]
		resp, err := client.Get(url)
		if err != nil {
			log.Printf("check %s: %v", url, err)
			continue
		}
		// bug: resp.Body is never closed (and never read).
		if resp.StatusCode != http.StatusOK {
			log.Printf("check %s: down (%s)", url, resp.Status)
		}
		if n%40 == 39 {
			log.Printf("checks: %d, goroutines: %d", n+1, runtime.NumGoroutine())
		}
	}
}
