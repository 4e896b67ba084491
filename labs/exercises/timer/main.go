// A timer started with time.AfterFunc leaks when its request ends without
// stopping it: the runtime keeps the timer, and everything its function
// holds, until it fires.
package main

import (
	"expvar"
	"log"
	"time"
)

// The counter shows how much work was done, so a flat heap can be told
// apart from a program that simply stopped working.
var requests = expvar.NewInt("requests")

// Each request guards itself with a watchdog that would report it if it
// were still running an hour from now. The report needs the request's
// 16 KiB buffer, so the watchdog's function keeps that buffer alive.
func handle(id int) {
	buf := make([]byte, 16<<10)
	for i := range buf {
		buf[i] = byte(id + i)
	}
	// TODO(you): this watchdog outlives its request by an hour, and so does
	// the buffer its function holds. Make the request clean up after itself.
	time.AfterFunc(time.Hour, func() {
		log.Printf("request %d is stuck with %d bytes", id, len(buf))
	})

	// The request itself is over in a moment, long before the hour.
	requests.Add(1)
}

// Requests arrive at a steady pace, one every millisecond, so the program
// does the same work per second on a busy or an idle machine.
func main() {
	id := 0
	for range time.Tick(time.Millisecond) {
		id++
		handle(id)
	}
}
