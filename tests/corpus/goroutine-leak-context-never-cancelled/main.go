// Every request gets a cancellable context and a watcher goroutine that
// releases the request's connection slot when the context ends. Only the error
// path calls cancel; successful requests return without it, so their watchers
// wait on ctx.Done() for ever.
package main

import (
	"context"
	"errors"
	"expvar"
	"log"
	"sync/atomic"
	"time"
)

var requests = expvar.NewInt("requests")

var inFlight atomic.Int64

type request struct {
	id     uint64
	ctx    context.Context
	cancel context.CancelFunc
}

func begin(id uint64) *request {
	ctx, cancel := context.WithCancel(context.Background())
	inFlight.Add(1)
	go func() {
		<-ctx.Done()
		inFlight.Add(-1) // release the connection slot
	}()
	return &request{id: id, ctx: ctx, cancel: cancel}
}

var errBadInput = errors.New("bad input")

func (r *request) run() error {
	if r.id == 0 {
		r.cancel()
		return errBadInput
	}
	select {
	case <-r.ctx.Done():
		return r.ctx.Err()
	default:
	}
	sum := uint64(0)
	for i := range uint64(200) {
		sum += (r.id ^ i) * 2654435761
	}
	if sum == 1 {
		r.cancel()
		return errBadInput
	}
	return nil // success: the context is left open
}

func main() {
	log.Println("service: 25 requests/s")
	tick := time.NewTicker(40 * time.Millisecond)
	defer tick.Stop()
	for id := uint64(1); ; id++ {
		<-tick.C
		if err := begin(id).run(); err != nil {
			log.Printf("request %d: %v", id, err)
		}
		requests.Add(1)
	}
}
