// A request router that hot-reloads its configuration six seconds after start,
// as a config watcher would. The reloaded config turns on per-request tracing
// hooks; each hook registers an observer in a global list and the code that
// should unregister it on request completion was never written.
package main

import (
	"log"
	"sync"
	"sync/atomic"
	"time"
)

type config struct {
	version int
	tracing bool
}

type reqInfo struct {
	id     uint64
	route  string
	status int
	took   time.Duration
}

type observer struct {
	id  uint64
	buf [2040]byte
}

var (
	current   atomic.Pointer[config]
	obsMu     sync.Mutex
	observers []*observer
	recent    [1024]*reqInfo
)

var routeTable = []string{"/", "/api/items", "/api/items/:id", "/api/users/:id", "/static/*"}

func handle(id uint64) {
	cfg := current.Load()
	info := &reqInfo{id: id, route: routeTable[id%uint64(len(routeTable))], status: 200, took: time.Duration(id%900) * time.Microsecond}
	if cfg.tracing {
		o := &observer{id: id}
		copy(o.buf[:], info.route)
		obsMu.Lock()
		observers = append(observers, o)
		obsMu.Unlock()
	}
	recent[id%uint64(len(recent))] = info
}

func main() {
	current.Store(&config{version: 1})
	time.AfterFunc(6*time.Second, func() {
		current.Store(&config{version: 2, tracing: true})
		log.Println("config reloaded: version 2, tracing on")
	})
	log.Println("router: 500 requests/s")
	var id uint64
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for range tick.C {
		for range 5 {
			id++
			handle(id)
		}
	}
}
