// The classic timer leak: a Ticker that is never stopped, and time.After in a
// select that usually takes the other branch. Before Go 1.23 the runtime kept
// every such timer until it fired; since Go 1.23 an unreferenced timer is
// garbage like any other value, so this program stays flat there.
package main

import (
	"expvar"
	"time"
)

// The counter shows how much work was done, so a flat heap can be told
// apart from a program that simply stopped working.
var requests = expvar.NewInt("requests")

// Each request starts a heartbeat it forgets to stop, and waits for its
// answer with an hour-long timeout. The answer is always ready, so the
// timeout's channel is dropped at once, its timer still pending.
func handle(id int, answers chan int) int {
	heartbeat := time.NewTicker(time.Minute)
	_ = heartbeat

	answers <- id
	select {
	case got := <-answers:
		requests.Add(1)
		return got
	case <-time.After(time.Hour):
		return -1
	}
}

// Requests arrive at a steady pace, a fixed batch every millisecond, so
// the program does the same work per second on a busy or an idle machine.
func main() {
	answers := make(chan int, 1)
	id := 0
	for range time.Tick(time.Millisecond) {
		for i := 0; i < 20; i++ {
			id++
			handle(id, answers)
		}
	}
}
