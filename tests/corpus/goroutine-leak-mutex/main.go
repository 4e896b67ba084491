// An inventory store whose reconciler, holding the store lock, reports to a
// notifier over an unbuffered channel. The notifier only reads the first
// report, so the second reconcile blocks with the lock held and every request
// goroutine after that queues on the lock for ever.
package main

import (
	"log"
	"math/rand/v2"
	"sync"
	"time"
)

type store struct {
	mu     sync.Mutex
	stock  map[string]int
	drift  int
	notify chan int
}

func (s *store) reconcile() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.drift = 0
	for k, v := range s.stock {
		if v < 0 {
			s.stock[k] = 0
			s.drift++
		}
	}
	s.notify <- s.drift // blocks once nobody listens, lock still held
}

func (s *store) reserve(sku string, n int) {
	s.mu.Lock()
	s.stock[sku] -= n
	s.mu.Unlock()
}

func main() {
	s := &store{stock: map[string]int{}, notify: make(chan int)}
	for i := range 500 {
		s.stock["sku-"+string(rune('a'+i%26))+string(rune('a'+i/26%26))] = 100
	}
	// Startup notifier: logs the first reconcile, then its job is done.
	go func() {
		log.Printf("first reconcile: %d drifted", <-s.notify)
	}()
	go func() {
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for range t.C {
			s.reconcile()
		}
	}()
	log.Println("inventory: 40 reservations/s")
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	for range tick.C {
		i := rand.IntN(500)
		sku := "sku-" + string(rune('a'+i%26)) + string(rune('a'+i/26%26))
		go s.reserve(sku, 1+rand.IntN(3))
	}
}
