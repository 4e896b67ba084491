// A job runner that hands 4 KiB payloads to a downstream service and retries
// the ones it rejects, with backoff. After the last attempt a job is parked in
// a dead-letter list "for inspection", which nothing ever reads or trims.
package main

import (
	"log"
	"sync"
	"time"
)

type job struct {
	id       uint64
	payload  []byte
	attempts int
	due      time.Time
}

const maxAttempts = 4

type runner struct {
	mu          sync.Mutex
	retry       []*job
	deadLetters []*job
	done        uint64
}

// deliver stands in for the downstream call: it rejects every fifth job
// (a payload it cannot parse), however often it is retried.
func deliver(j *job) bool {
	return j.id%5 != 0 && j.payload[0] != 0xff
}

func (r *runner) submit(j *job) {
	if deliver(j) {
		r.mu.Lock()
		r.done++
		r.mu.Unlock()
		return
	}
	j.attempts = 1
	j.due = time.Now().Add(200 * time.Millisecond)
	r.mu.Lock()
	r.retry = append(r.retry, j)
	r.mu.Unlock()
}

func (r *runner) retryLoop() {
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for now := range t.C {
		r.mu.Lock()
		keep := r.retry[:0]
		for _, j := range r.retry {
			if now.Before(j.due) {
				keep = append(keep, j)
				continue
			}
			if deliver(j) {
				r.done++
				continue
			}
			j.attempts++
			if j.attempts >= maxAttempts {
				r.deadLetters = append(r.deadLetters, j)
				continue
			}
			j.due = now.Add(time.Duration(j.attempts) * 200 * time.Millisecond)
			keep = append(keep, j)
		}
		clear(r.retry[len(keep):])
		r.retry = keep
		r.mu.Unlock()
	}
}

func main() {
	r := &runner{}
	go r.retryLoop()
	log.Println("runner: 500 jobs/s")
	var id uint64
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for range tick.C {
		for range 5 {
			id++
			p := make([]byte, 4096)
			for i := 0; i < len(p); i += 256 {
				p[i] = byte(id + uint64(i))
			}
			p[0] = 1
			r.submit(&job{id: id, payload: p})
		}
	}
}
