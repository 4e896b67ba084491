// An in-process audit journal for an authorization service: every permission
// check appends a fixed-size entry to one slice so that an admin endpoint can
// page through recent history. The journal is never truncated or spilled.
package main

import (
	"log"
	"math/rand/v2"
	"sync"
	"time"
)

type entry struct {
	at     int64
	user   uint64
	action uint32
	status uint32
	bytes  uint64
}

type journal struct {
	mu      sync.Mutex
	entries []entry
}

func (j *journal) record(e entry) {
	j.mu.Lock()
	j.entries = append(j.entries, e)
	j.mu.Unlock()
}

// tail returns a copy of the last n entries, as the admin page would show.
func (j *journal) tail(n int) []entry {
	j.mu.Lock()
	defer j.mu.Unlock()
	n = min(n, len(j.entries))
	return append([]entry(nil), j.entries[len(j.entries)-n:]...)
}

var policy = map[uint32]uint64{1: 0b0111, 2: 0b0011, 3: 0b0001, 4: 0b1111}

func authorize(user uint64, action uint32) uint32 {
	role := uint32(user%4) + 1
	if policy[role]&(1<<(action%4)) != 0 {
		return 200
	}
	return 403
}

const checksPerTick = 655 // every 10 ms: 65,500 checks per second

func main() {
	j := &journal{}
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for range t.C {
			denied := 0
			for _, e := range j.tail(100) {
				if e.status != 200 {
					denied++
				}
			}
			_ = denied
		}
	}()
	log.Println("authz: journaling every check")
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for now := range tick.C {
		for range checksPerTick {
			user := rand.Uint64N(50_000)
			action := rand.Uint32N(16)
			j.record(entry{at: now.UnixNano(), user: user, action: action,
				status: authorize(user, action), bytes: rand.Uint64N(4096)})
		}
	}
}
