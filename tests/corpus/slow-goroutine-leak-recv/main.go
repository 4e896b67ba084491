// A notification broker: every client connection subscribes and gets a
// channel plus a delivery goroutine that ranges over it. On disconnect the
// client is removed from the broker's table but its channel is never closed,
// so its delivery goroutine waits on it for ever.
package main

import (
	"log"
	"sync"
	"sync/atomic"
	"time"
)

type event struct {
	seq   uint64
	topic string
}

type broker struct {
	mu   sync.Mutex
	subs map[uint64]chan event
}

var delivered atomic.Uint64

func (b *broker) subscribe(id uint64) {
	ch := make(chan event, 8)
	b.mu.Lock()
	b.subs[id] = ch
	b.mu.Unlock()
	go func() {
		for ev := range ch {
			if ev.topic != "" {
				delivered.Add(1)
			}
		}
	}()
}

func (b *broker) disconnect(id uint64) {
	b.mu.Lock()
	delete(b.subs, id) // the channel should be closed here too
	b.mu.Unlock()
}

func (b *broker) publish(ev event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, ch := range b.subs {
		select {
		case ch <- ev:
		default: // slow subscriber: drop
		}
	}
}

func main() {
	b := &broker{subs: make(map[uint64]chan event)}
	go func() {
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		var seq uint64
		for range t.C {
			seq++
			b.publish(event{seq: seq, topic: "orders"})
		}
	}()
	log.Println("broker: 30 short-lived connections/s")
	tick := time.NewTicker(time.Second / 30)
	defer tick.Stop()
	var id uint64
	for range tick.C {
		id++
		b.subscribe(id)
		conn := id
		time.AfterFunc(300*time.Millisecond, func() { b.disconnect(conn) })
	}
}
