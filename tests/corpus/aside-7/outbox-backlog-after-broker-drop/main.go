// A service publishes events to a message broker over TCP. Publish writes
// straight to the connection while the link is up; while it is down, events
// go to an outbox backlog that the reconnect loop is meant to flush. At 7 s
// the broker fails over to another host and closes the connection. The
// client only ever redials the address it was configured with, which now
// refuses, so the link never comes back and the backlog, which has no
// limit, grows by every event published. 400 events a second of 2 KiB.
package main

import (
	"expvar"
	"io"
	"log"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

var requests = expvar.NewInt("requests")

const msgSize = 2048 // exactly the 2048-byte size class

// broker accepts one connection, reads and discards frames for 7 s, then
// goes away: the connection and the listener are both closed.
func broker(ln net.Listener) {
	c, err := ln.Accept()
	if err != nil {
		log.Fatal(err)
	}
	time.AfterFunc(7*time.Second, func() {
		log.Print("broker: failing over to another host")
		ln.Close()
		c.Close()
	})
	buf := make([]byte, msgSize)
	for {
		if _, err := io.ReadFull(c, buf); err != nil {
			return
		}
	}
}

type publisher struct {
	addr    string
	up      atomic.Bool
	mu      sync.Mutex
	conn    net.Conn
	backlog [][]byte // unbounded
}

// watch notices the broker closing the connection and starts reconnecting.
func (p *publisher) watch(c net.Conn) {
	var b [1]byte
	c.Read(b[:]) // the broker never writes: this returns at EOF
	p.down()
}

func (p *publisher) down() {
	if p.up.Swap(false) {
		log.Print("publisher: link down, buffering to outbox")
		go p.reconnect()
	}
}

// reconnect redials the configured address with backoff; it never succeeds
// once the broker has moved, so the backlog is never flushed.
func (p *publisher) reconnect() {
	backoff := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		time.Sleep(backoff)
		c, err := net.Dial("tcp", p.addr)
		if err == nil {
			c.Close() // a real client would flush here; never reached
			return
		}
		if attempt%5 == 0 {
			p.mu.Lock()
			log.Printf("publisher: redial %d failed (%v), %d events in outbox", attempt, err, len(p.backlog))
			p.mu.Unlock()
		}
		backoff = min(backoff*2, 2*time.Second)
	}
}

func (p *publisher) publish(msg []byte) {
	if p.up.Load() {
		if _, err := p.conn.Write(msg); err == nil {
			return
		}
		p.down()
	}
	p.mu.Lock()
	p.backlog = append(p.backlog, msg) // kept until a flush that never comes
	p.mu.Unlock()
}

func main() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go broker(ln)
	p := &publisher{addr: ln.Addr().String()}
	p.conn, err = net.Dial("tcp", p.addr)
	if err != nil {
		log.Fatal(err)
	}
	p.up.Store(true)
	go p.watch(p.conn)

	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	var seq uint64
	for range tick.C {
		for i := 0; i < 4; i++ { // 4 every 10 ms: 400/s
			msg := make([]byte, msgSize) // a fresh buffer per event
			for j := 0; j < 8; j++ {
				msg[j] = byte(seq >> (8 * j))
			}
			copy(msg[8:], "event: order.updated")
			seq++
			p.publish(msg)
			requests.Add(1)
		}
	}
}
