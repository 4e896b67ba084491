// The goroutine leak profile finds a blocked goroutine only once nothing
// running can reach what it waits on. Here every channel is also kept in a
// registry, so the stuck senders are leaked all the same, yet invisible to it.
//
// It lives under testdata/ as a demonstration of the profile's blind spot;
// the lab's tests run it and check that the profile stays silent.
package main

import (
	"expvar"
	"sync"
	"time"
)

var requests = expvar.NewInt("requests")

// A registry of in-flight requests that is never pruned keeps every result
// channel reachable from a global variable.
var (
	mu       sync.Mutex
	inflight []chan []byte
)

func work(id int, results chan []byte) {
	result := make([]byte, 1024)
	for i := range result {
		result[i] = byte(id + i)
	}
	if id%2 == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	results <- result
}

func handle(id int) {
	results := make(chan []byte)
	mu.Lock()
	inflight = append(inflight, results)
	mu.Unlock()
	go work(id, results)
	select {
	case <-results:
	case <-time.After(time.Millisecond):
	}
	requests.Add(1)
}

func main() {
	id := 0
	for range time.Tick(time.Millisecond) {
		for range 3 {
			id++
			go handle(id)
		}
	}
}
