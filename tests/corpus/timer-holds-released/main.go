// A seat-reservation service that holds each seat for 800 ms and releases it
// from a time.AfterFunc callback unless the booking is confirmed first (one in
// ten are, and stop their timer). Callbacks run and drop their holds, so about
// 800 ms worth of holds are pending at any time.
package main

import (
	"expvar"
	"log"
	"sync"
	"time"
)

var requests = expvar.NewInt("requests")

type hold struct {
	seat    uint64
	session [1000]byte
	timer   *time.Timer
}

type venue struct {
	mu       sync.Mutex
	holds    map[uint64]*hold
	released uint64
	booked   uint64
}

func (v *venue) reserve(seat uint64) {
	h := &hold{seat: seat}
	h.session[0] = byte(seat)
	v.mu.Lock()
	v.holds[seat] = h
	h.timer = time.AfterFunc(800*time.Millisecond, func() { v.release(seat) })
	v.mu.Unlock()
}

func (v *venue) release(seat uint64) {
	v.mu.Lock()
	if _, ok := v.holds[seat]; ok {
		delete(v.holds, seat)
		v.released++
	}
	v.mu.Unlock()
}

func (v *venue) confirm(seat uint64) {
	v.mu.Lock()
	if h, ok := v.holds[seat]; ok {
		h.timer.Stop()
		delete(v.holds, seat)
		v.booked++
	}
	v.mu.Unlock()
}

func main() {
	v := &venue{holds: make(map[uint64]*hold)}
	log.Println("reservations: 2,000 holds/s, 800ms each")
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	var seat uint64
	for range tick.C {
		for range 20 {
			seat++
			v.reserve(seat)
			if seat%10 == 0 {
				v.confirm(seat - 5)
			}
			requests.Add(1)
		}
	}
}
