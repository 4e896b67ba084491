// A sync.Map used as a cache leaks when every request stores a new key and
// nothing ever removes one: the map, and all it holds, only grows.
package main

import (
	"expvar"
	"sync"
	"time"
)

// The counter shows how much work was done, so a flat heap can be told
// apart from a program that simply stopped working.
var requests = expvar.NewInt("requests")

// The cache is a package variable, so it stays reachable for the whole
// life of the program, and so does every value stored in it.
var cache sync.Map

// Each request renders a 1 KiB answer and remembers it under its own id.
// The bytes are written so that the memory is really touched.
func handle(id int64) {
	answer := make([]byte, 1024)
	for i := range answer {
		answer[i] = byte(id + int64(i))
	}
	// TODO(you): the cache only ever grows. Decide how much it may remember
	// and make it forget the rest, without serving fewer requests.
	cache.Store(id, answer)
	requests.Add(1)
}

// Requests arrive at a steady pace, a fixed batch every millisecond, so
// the program does the same work per second on a busy or an idle machine.
func main() {
	var id int64
	for range time.Tick(time.Millisecond) {
		for range 20 {
			id++
			handle(id)
		}
	}
}
