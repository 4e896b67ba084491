// A client of a replicated key-value service that fails over to the secondary
// five seconds in, when the health checker marks the primary down. Replies from
// the secondary do not echo the request ID the client routes them by, so every
// call from then on leaves its goroutine waiting for a reply never delivered.
package main

import (
	"expvar"
	"log"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

var requests = expvar.NewInt("requests")

type reply struct {
	reqID uint64
	value string
}

type replica struct {
	name    string
	echoIDs bool
	in      chan [2]string
	out     chan reply
}

func (r *replica) serve() {
	for req := range r.in {
		id, _ := strconv.ParseUint(req[0], 10, 64)
		if !r.echoIDs {
			id = 0
		}
		r.out <- reply{reqID: id, value: r.name + ":" + req[1]}
	}
}

type client struct {
	mu      sync.Mutex
	pending map[uint64]chan string
	nextID  uint64
	current atomic.Pointer[replica]
}

func (c *client) readLoop(r *replica) {
	for rep := range r.out {
		c.mu.Lock()
		ch := c.pending[rep.reqID]
		delete(c.pending, rep.reqID)
		c.mu.Unlock()
		if ch != nil {
			ch <- rep.value
		}
	}
}

func (c *client) get(key string) string {
	ch := make(chan string, 1)
	c.mu.Lock()
	c.nextID++
	id := c.nextID
	c.pending[id] = ch
	c.mu.Unlock()
	c.current.Load().in <- [2]string{strconv.FormatUint(id, 10), key}
	return <-ch
}

func newReplica(name string, echo bool) *replica {
	r := &replica{name: name, echoIDs: echo, in: make(chan [2]string, 64), out: make(chan reply, 64)}
	go r.serve()
	return r
}

func main() {
	c := &client{pending: make(map[uint64]chan string)}
	primary := newReplica("primary", true)
	secondary := newReplica("secondary", false)
	go c.readLoop(primary)
	go c.readLoop(secondary)
	c.current.Store(primary)
	time.AfterFunc(5*time.Second, func() {
		c.current.Store(secondary)
		log.Println("health: primary down, failing over to secondary")
	})
	var answered atomic.Uint64
	log.Println("client: 40 calls/s")
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	for n := 0; ; n++ {
		<-tick.C
		key := "session:" + strconv.Itoa(n%500)
		go func() {
			if c.get(key) != "" {
				answered.Add(1)
			}
		}()
		requests.Add(1)
	}
}
