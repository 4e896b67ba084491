// A telemetry hub that runs one goroutine ("actor") per device, started on the
// device's first message. The fleet is fixed at 320 devices, which come online
// one every 10 ms at start-up, so the actors grow to 320 in 3.2 s; after that
// every message goes to an actor that already exists.
package main

import (
	"log"
	"math/rand/v2"
	"sync"
	"time"
)

const fleetSize = 320

type reading struct {
	device int
	at     int64
	temp   float64
	volts  float64
}

type actor struct {
	inbox  chan reading
	recent [64]reading // the last 64 readings, a ring
	count  int
}

func (a *actor) run() {
	for r := range a.inbox {
		a.recent[a.count%len(a.recent)] = r
		a.count++
	}
}

type hub struct {
	mu     sync.Mutex
	actors map[int]*actor
}

func (h *hub) deliver(r reading) {
	h.mu.Lock()
	a, ok := h.actors[r.device]
	if !ok {
		a = &actor{inbox: make(chan reading, 16)}
		h.actors[r.device] = a
		go a.run()
	}
	h.mu.Unlock()
	a.inbox <- r
}

func main() {
	h := &hub{actors: make(map[int]*actor)}
	rng := rand.New(rand.NewPCG(11, 5))
	log.Printf("hub: %d devices, 4,000 readings/s", fleetSize)
	online := 0
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for now := range tick.C {
		if online < fleetSize {
			h.deliver(reading{device: online, at: now.UnixNano()}) // hello
			online++
		}
		for range 40 {
			d := rng.IntN(online)
			h.deliver(reading{device: d, at: now.UnixNano(), temp: 20 + rng.Float64()*15, volts: 3.3})
		}
	}
}
