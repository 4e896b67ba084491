// A worker that reads its task channel with `task := <-tasks` in an endless
// loop does not block once the channel is closed: a receive from a closed
// channel returns the zero value at once, so the worker spins and burns a
// CPU core. It leaks CPU time, not goroutines.
//
// This is the fixed variant: `for t := range tasks` ends at the close.
package main

import (
	"expvar"
	"time"
)

// The counters show the work asked for and the work the worker did; once
// the channel is closed, the second keeps climbing on empty tasks.
var (
	requests = expvar.NewInt("requests")
	handled  = expvar.NewInt("handled")
)

type task struct{ id int }

// The worker handles tasks until the channel is closed and drained; the
// range loop then ends, and so does the goroutine.
func worker(tasks <-chan task) {
	for t := range tasks {
		_ = t.id
		handled.Add(1)
	}
}

// One worker gets a batch of 1000 tasks, then the channel is closed because
// the batch is over. The program then idles, as a server between batches.
func main() {
	tasks := make(chan task)
	go worker(tasks)
	for i := 0; i < 1000; i++ {
		tasks <- task{id: i}
		requests.Add(1)
	}
	close(tasks)
	for range time.Tick(time.Second) {
	}
}
