// A checkout endpoint that remembers each request's idempotency key together
// with its 8 KiB response so a retried POST gets the same answer. Keys expire
// after two seconds and a janitor deletes expired ones four times a second. A
// loopback client drives it at 200 checkouts per second.
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

const keyTTL = 2 * time.Second

type stored struct {
	response []byte
	expires  time.Time
}

type idempotency struct {
	mu   sync.Mutex
	keys map[string]*stored
}

func (s *idempotency) lookupOrStore(key string, render func() []byte) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.keys[key]; ok && time.Now().Before(e.expires) {
		return e.response
	}
	resp := render()
	s.keys[key] = &stored{response: resp, expires: time.Now().Add(keyTTL)}
	return resp
}

func (s *idempotency) janitor() {
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for now := range t.C {
		s.mu.Lock()
		for k, e := range s.keys {
			if now.After(e.expires) {
				delete(s.keys, k)
			}
		}
		s.mu.Unlock()
	}
}

func renderReceipt(order string) []byte {
	b := make([]byte, 8<<10)
	n := copy(b, "receipt for order "+order+"\n")
	for i := n; i < len(b); i++ {
		b[i] = ' ' + byte(i%90)
	}
	return b
}

func main() {
	store := &idempotency{keys: make(map[string]*stored)}
	go store.janitor()
	mux := http.NewServeMux()
	mux.HandleFunc("POST /checkout", func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		key := r.Header.Get("Idempotency-Key")
		order := r.URL.Query().Get("order")
		if key == "" || order == "" {
			http.Error(w, "missing key or order", http.StatusBadRequest)
			return
		}
		w.Write(store.lookupOrStore(key, func() []byte { return renderReceipt(order) }))
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	log.Printf("checkout on %s", ln.Addr())

	base := "http://" + ln.Addr().String() + "/checkout?order="
	client := &http.Client{Timeout: 2 * time.Second}
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for n := 1; ; n++ {
		<-tick.C
		req, err := http.NewRequest(http.MethodPost, base+strconv.Itoa(n), nil)
		if err != nil {
			log.Fatal(err)
		}
		req.Header.Set("Idempotency-Key", "k-"+strconv.Itoa(n))
		resp, err := client.Do(req)
		if err != nil {
			continue
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}
