// A client call with an optional timeout and optional cancellation, talking
// to a backend that sheds load when its queue is full by dropping the request
// without replying. With no timeout configured and no cancel channel passed,
// a shed call waits in a select none of whose cases can ever become ready.
package main

import (
	"log"
	"strconv"
	"sync/atomic"
	"time"
)

type call struct {
	key   string
	reply chan string
}

type backend struct {
	queue chan call
	shed  atomic.Uint64
}

// submit drops the call when the queue is full; the caller is not told.
func (b *backend) submit(c call) {
	select {
	case b.queue <- c:
	default:
		b.shed.Add(1)
	}
}

func (b *backend) worker() {
	for c := range b.queue {
		time.Sleep(100 * time.Millisecond)
		c.reply <- "value-of-" + c.key
	}
}

type client struct {
	b       *backend
	timeout time.Duration // 0: wait as long as it takes
}

func (c *client) get(key string, cancel <-chan struct{}) (string, bool) {
	reply := make(chan string, 1)
	c.b.submit(call{key: key, reply: reply})
	var timeout <-chan time.Time
	if c.timeout > 0 {
		timeout = time.After(c.timeout)
	}
	select {
	case v := <-reply:
		return v, true
	case <-timeout:
		return "", false
	case <-cancel:
		return "", false
	}
}

var answered atomic.Uint64

func main() {
	b := &backend{queue: make(chan call, 16)}
	go b.worker()
	c := &client{b: b}
	log.Println("client: 60 async lookups/s against a backend doing 10/s")
	tick := time.NewTicker(time.Second / 60)
	defer tick.Stop()
	for n := 0; ; n++ {
		<-tick.C
		key := "user:" + strconv.Itoa(n)
		go func() {
			if _, ok := c.get(key, nil); ok {
				answered.Add(1)
			}
		}()
	}
}
