// A webhook service where each incoming API call registers a callback for the
// event type it touched, capturing a per-call context of about 1 KiB. Calls
// finish without unregistering, so the callback lists only grow. A loopback
// client drives it at 250 calls per second.
package main

import (
	"expvar"
	"io"
	"log"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

var requests = expvar.NewInt("requests")

type event struct {
	kind string
	id   uint64
}

type callContext struct {
	id      uint64
	tenant  string
	started int64
	flags   uint64
	trace   [984]byte
}

type registry struct {
	mu    sync.Mutex
	hooks map[string][]func(event)
	fired uint64
}

func (r *registry) on(kind string, fn func(event)) {
	r.mu.Lock()
	r.hooks[kind] = append(r.hooks[kind], fn)
	r.mu.Unlock()
}

var callSeq struct {
	sync.Mutex
	n uint64
}

func handler(reg *registry) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		kind := r.PathValue("kind")
		callSeq.Lock()
		callSeq.n++
		cc := &callContext{id: callSeq.n, tenant: r.Header.Get("X-Tenant"), started: time.Now().UnixNano()}
		callSeq.Unlock()
		copy(cc.trace[:], r.URL.Path)
		reg.on(kind, func(ev event) {
			if ev.id == cc.id {
				cc.flags |= 1
			}
		})
		w.WriteHeader(http.StatusNoContent)
	}
}

func main() {
	reg := &registry{hooks: make(map[string][]func(event))}
	mux := http.NewServeMux()
	mux.HandleFunc("PUT /objects/{kind}", handler(reg))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	log.Printf("webhooks on %s", ln.Addr())

	kinds := []string{"invoice", "customer", "shipment", "refund"}
	base := "http://" + ln.Addr().String() + "/objects/"
	client := &http.Client{Timeout: 2 * time.Second}
	tick := time.NewTicker(4 * time.Millisecond)
	defer tick.Stop()
	for n := 0; ; n++ {
		<-tick.C
		req, err := http.NewRequest(http.MethodPut, base+kinds[n%len(kinds)], nil)
		if err != nil {
			log.Fatal(err)
		}
		req.Header.Set("X-Tenant", "t"+strconv.Itoa(n%20))
		resp, err := client.Do(req)
		if err != nil {
			continue
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}
