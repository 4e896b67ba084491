// An HTTP publish endpoint that hands each message to an in-process broker and
// starts a goroutine waiting for the delivery ack. The broker only acks
// messages routed to a durable queue, so waiters for best-effort messages
// never return. A loopback client publishes 100 best-effort messages a second.
package main

import (
	"bytes"
	"expvar"
	"io"
	"log"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

var requests = expvar.NewInt("requests")

type message struct {
	id      uint64
	topic   string
	durable bool
	body    []byte
	ack     chan struct{}
}

type broker struct {
	inbox     chan *message
	delivered atomic.Uint64
}

func (b *broker) run() {
	for m := range b.inbox {
		b.delivered.Add(1)
		if m.durable {
			close(m.ack)
		}
	}
}

var (
	seq   atomic.Uint64
	acked atomic.Uint64
)

func publishHandler(b *broker) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		body, err := io.ReadAll(io.LimitReader(r.Body, 4096))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		m := &message{id: seq.Add(1), topic: r.URL.Query().Get("topic"),
			durable: r.URL.Query().Get("durable") == "1", body: body, ack: make(chan struct{})}
		b.inbox <- m
		go func() {
			<-m.ack
			acked.Add(1)
		}()
		w.WriteHeader(http.StatusAccepted)
	}
}

func main() {
	b := &broker{inbox: make(chan *message, 256)}
	go b.run()
	mux := http.NewServeMux()
	mux.HandleFunc("/publish", publishHandler(b))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	log.Printf("publisher on %s", ln.Addr())

	url := "http://" + ln.Addr().String() + "/publish?topic=clicks&durable=0"
	client := &http.Client{Timeout: 2 * time.Second}
	payload := make([]byte, 128)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for n := 0; ; n++ {
		<-tick.C
		copy(payload, "click "+strconv.Itoa(n))
		resp, err := client.Post(url, "application/octet-stream", bytes.NewReader(payload))
		if err != nil {
			continue
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}
