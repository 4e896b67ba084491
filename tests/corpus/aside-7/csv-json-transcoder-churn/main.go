// An ingest worker pool that turns CSV rows from a partner feed into JSON
// documents for a downstream queue. Every row is formatted, split, parsed
// and marshalled afresh, so each one leaves a few hundred bytes of small
// garbage behind; nothing but a short ring of recent outputs (for a debug
// page) and some counters is kept. Four workers, 100,000 rows a second.
package main

import (
	"encoding/json"
	"expvar"
	"fmt"
	"log"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

var requests = expvar.NewInt("requests")

const (
	workers = 4
	perTick = 250 // rows per worker every 10 ms: 4 x 25,000/s
	ringLen = 64
)

type record struct {
	ID       int64   `json:"id"`
	SKU      string  `json:"sku"`
	Qty      int     `json:"qty"`
	Price    float64 `json:"price"`
	Currency string  `json:"currency"`
	Region   string  `json:"region"`
}

var (
	ringMu sync.Mutex
	ring   [ringLen][]byte // the last 64 documents: the only thing kept
	ringAt int
	bytes  atomic.Int64
)

// feedRow stands in for reading one line of the partner's CSV.
func feedRow(n int64) string {
	return fmt.Sprintf("%d,SKU-%06d,%d,%d.%02d,EUR,eu-west-%d", n, n%999983, n%17+1, n%500, n%100, n%3)
}

// transcode parses one CSV row and returns it as a JSON document.
func transcode(row string) ([]byte, error) {
	f := strings.Split(row, ",")
	if len(f) != 6 {
		return nil, fmt.Errorf("want 6 fields, got %d", len(f))
	}
	id, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil {
		return nil, err
	}
	qty, _ := strconv.Atoi(f[2])
	price, _ := strconv.ParseFloat(f[3], 64)
	return json.Marshal(&record{ID: id, SKU: f[1], Qty: qty, Price: price, Currency: f[4], Region: f[5]})
}

func worker(w int) {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	n := int64(w) << 40
	for range tick.C {
		for i := 0; i < perTick; i++ {
			doc, err := transcode(feedRow(n))
			n++
			requests.Add(1)
			if err != nil {
				log.Printf("worker %d: %v", w, err)
				continue
			}
			bytes.Add(int64(len(doc)))
			if n%1000 == 0 {
				// Keep a sample for the debug page, overwriting the oldest.
				ringMu.Lock()
				ring[ringAt%ringLen] = doc
				ringAt++
				ringMu.Unlock()
			}
		}
	}
}

func main() {
	for w := 0; w < workers; w++ {
		go worker(w)
	}
	for range time.Tick(5 * time.Second) {
		ringMu.Lock()
		last := string(ring[(ringAt+ringLen-1)%ringLen])
		ringMu.Unlock()
		log.Printf("ingest: %d rows, %d JSON bytes; last %s", requests.Value(), bytes.Load(), last)
	}
}
