// An inventory service: order workers reserve stock under a mutex. Each
// worker runs under a recover() guard that logs a panic and restarts it, so
// its authors believed no bad order could take the process down. But the
// out-of-stock path, written before the deferred Unlock was added, still
// unlocks the mutex itself and then returns through the deferred Unlock.
// Unlocking an unlocked sync.Mutex is not a panic: it is a fatal runtime
// error ("fatal error: sync: unlock of unlocked mutex") that recover cannot
// catch, and the process exits with status 2. Orders arrive 125 a second
// round-robin over five SKUs of 60 units each, so the first SKU runs out at
// order 301, about 2.4 s in.
package main

import (
	"errors"
	"log"
	"sync"
	"time"
)

const (
	skus         = 5
	initialStock = 60
)

type order struct {
	id  int
	sku int
	qty int
}

var errOutOfStock = errors.New("out of stock")

type store struct {
	mu       sync.Mutex
	stock    [skus]int
	reserved [skus]int
}

func (s *store) reserve(o order) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stock[o.sku] < o.qty {
		s.mu.Unlock() // bug: left over from before the defer
		log.Printf("order %d: sku %d out of stock, backordered", o.id, o.sku)
		return errOutOfStock
	}
	s.stock[o.sku] -= o.qty
	s.reserved[o.sku] += o.qty
	return nil
}

// guarded runs fn and restarts it if it panics.
func guarded(name string, fn func()) {
	go func() {
		for {
			func() {
				defer func() {
					if r := recover(); r != nil {
						log.Printf("%s: recovered from panic: %v; restarting", name, r)
					}
				}()
				fn()
			}()
		}
	}()
}

func main() {
	s := &store{}
	for i := range s.stock {
		s.stock[i] = initialStock
	}
	orders := make(chan order, 64)
	for _, name := range []string{"worker-1", "worker-2", "worker-3"} {
		guarded(name, func() {
			for o := range orders {
				if err := s.reserve(o); err != nil && !errors.Is(err, errOutOfStock) {
					panic(err)
				}
			}
		})
	}

	log.Print("inventory: taking orders")
	tick := time.NewTicker(8 * time.Millisecond)
	defer tick.Stop()
	for id := 1; ; id++ {
		<-tick.C
		orders <- order{id: id, sku: id % skus, qty: 1}
		if id%125 == 0 {
			s.mu.Lock()
			log.Printf("orders: %d, stock: %v", id, s.stock)
			s.mu.Unlock()
		}
	}
}
