// A tile renderer with a fixed 128-slot cache of 512 KiB tiles that is
// recycled constantly: every request renders a fresh tile into a slot. Each
// request also appends a 2 KiB audit record (a digest of what was served) to
// a history that is never trimmed.
package main

import (
	"expvar"
	"log"
	"time"
)

var requests = expvar.NewInt("requests")

const (
	slots    = 128
	tileSize = 512 << 10
)

type auditRecord struct {
	at     int64
	client uint64
	digest [2032]byte
}

type renderer struct {
	template []byte
	tiles    [slots][]byte
	history  []*auditRecord
}

func (r *renderer) serve(n uint64, now int64) {
	t := make([]byte, tileSize)
	copy(t, r.template)
	for i := 0; i < len(t); i += 4096 {
		t[i] ^= byte(n)
	}
	r.tiles[n%slots] = t
	rec := &auditRecord{at: now, client: n % 977}
	copy(rec.digest[:], t[:len(rec.digest)])
	r.history = append(r.history, rec)
	requests.Add(1)
}

func main() {
	r := &renderer{template: make([]byte, tileSize)}
	for i := range r.template {
		r.template[i] = byte(i * 7)
	}
	log.Println("renderer: 100 tiles/s, 128-slot cache")
	var n uint64
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for now := range tick.C {
		n++
		r.serve(n, now.UnixNano())
	}
}
