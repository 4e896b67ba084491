// A job scheduler where each job waits for a dependency (a fetched input)
// before it runs. The job's waiter goroutine parks on the dependency's
// sync.Cond until the resolver marks it done and broadcasts. When the fetch
// fails, the resolver records the error and returns early, without the
// Broadcast; and the waiter only checks done anyway. So the waiter of every
// failed dependency is parked in Cond.Wait forever. 200 jobs a second, and
// every 10th dependency fails.
package main

import (
	"errors"
	"log"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

type dep struct {
	mu   sync.Mutex
	cond *sync.Cond
	done bool
	err  error
	data []byte
}

func newDep() *dep {
	d := &dep{}
	d.cond = sync.NewCond(&d.mu)
	return d
}

var ran, failed atomic.Int64

// resolve fetches the dependency (2 ms) and wakes its waiters.
func resolve(d *dep, id int) {
	time.Sleep(2 * time.Millisecond)
	d.mu.Lock()
	defer d.mu.Unlock()
	if id%10 == 7 {
		d.err = errors.New("fetch: upstream returned 503")
		failed.Add(1)
		return // bug: no d.cond.Broadcast(), and done stays false
	}
	d.data = make([]byte, 256)
	d.done = true
	d.cond.Broadcast()
}

// wait is the job: it parks until the dependency is done, then runs.
func wait(d *dep) {
	d.mu.Lock()
	for !d.done { // bug: should also stop when d.err != nil
		d.cond.Wait()
	}
	n := len(d.data)
	d.mu.Unlock()
	if n > 0 {
		ran.Add(1)
	}
}

func main() {
	tick := time.NewTicker(5 * time.Millisecond) // 200 jobs/s
	defer tick.Stop()
	id := 0
	for range tick.C {
		d := newDep()
		// The waiter starts first, so it is already parked when the
		// resolver finishes.
		go wait(d)
		go resolve(d, id)
		id++
		if id%1000 == 0 {
			log.Printf("scheduler: %d jobs, %d ran, %d deps failed, %d goroutines",
				id, ran.Load(), failed.Load(), runtime.NumGoroutine())
		}
	}
}
