// A storefront's price endpoint, which must answer within a 20 ms budget.
// Each request asks the pricing backend in a goroutine and waits for the
// answer or the deadline, whichever comes first. The answer goes back on an
// unbuffered channel, so when the deadline wins nobody is left to receive it
// and the pricing goroutine blocks on its send forever. Every fifth SKU is not
// in the backend's hot cache and takes 50 ms, so every fifth request leaves
// one goroutine behind. A loopback client asks 30 times a second.
package main

import (
	"expvar"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

var requests = expvar.NewInt("requests")

const (
	budget   = 20 * time.Millisecond
	hotCost  = 2 * time.Millisecond
	coldCost = 50 * time.Millisecond
)

var timeouts atomic.Int64

// backendPrice is the pricing service: fast for hot SKUs, slow for the rest.
func backendPrice(sku int) int {
	if sku%5 == 0 {
		time.Sleep(coldCost)
	} else {
		time.Sleep(hotCost)
	}
	return 999 + (sku*37)%4000
}

func price(w http.ResponseWriter, r *http.Request) {
	requests.Add(1)
	sku, err := strconv.Atoi(r.URL.Query().Get("sku"))
	if err != nil {
		http.Error(w, "bad sku", http.StatusBadRequest)
		return
	}
	answer := make(chan int) // bug: should be make(chan int, 1)
	go func() {
		answer <- backendPrice(sku)
	}()
	deadline := time.NewTimer(budget)
	defer deadline.Stop()
	select {
	case cents := <-answer:
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"sku":%d,"cents":%d}`, sku, cents)
	case <-deadline.C:
		timeouts.Add(1)
		http.Error(w, "pricing timed out", http.StatusGatewayTimeout)
	}
}

func main() {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /price", price)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	log.Printf("prices on %s", ln.Addr())

	// The storefront: one price lookup every 1/30 s over a kept-alive
	// connection, SKUs 1, 2, 3, ... so every fifth one is cold.
	base := "http://" + ln.Addr().String() + "/price?sku="
	client := &http.Client{Timeout: 2 * time.Second}
	tick := time.NewTicker(time.Second / 30)
	defer tick.Stop()
	for sku := 1; ; sku++ {
		<-tick.C
		resp, err := client.Get(base + strconv.Itoa(sku))
		if err != nil {
			log.Print(err)
			continue
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if sku%300 == 0 {
			log.Printf("lookups: %d, timed out: %d", sku, timeouts.Load())
		}
	}
}
