// A goroutine leaks when it sends its result on an unbuffered channel that
// nobody will ever read: the caller gave up waiting, and the sender blocks
// forever, holding its stack and everything it refers to.
package main

import (
	"expvar"
	"time"
)

// The counter shows how much work was done, so a flat goroutine count can
// be told apart from a program that simply stopped working.
var requests = expvar.NewInt("requests")

// A worker prepares a 1 KiB result. Every other worker is slow, so that the
// caller's patience runs out at a steady, predictable rate.
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

// The caller waits a millisecond for the worker and then answers without
// it. An unbuffered channel needs a receiver at the moment of the send, so
// a worker that finishes after the caller left can never deliver.
func handle(id int) {
	// TODO(you): a late worker blocks forever on its send. Make sure every
	// worker can finish, whether or not the caller is still waiting.
	results := make(chan []byte)
	go work(id, results)
	select {
	case <-results:
	case <-time.After(time.Millisecond):
	}
	requests.Add(1)
}

// Requests arrive at a steady pace, a fixed batch every millisecond, each
// served by its own goroutine as a server would.
func main() {
	id := 0
	for range time.Tick(time.Millisecond) {
		for range 3 {
			id++
			go handle(id)
		}
	}
}
