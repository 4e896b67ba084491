// A client library that keeps idle connections in a pool keyed by route, so
// that the next call to the same backend can reuse one. A refactor put the
// request ID into the route key, so get never finds an idle connection:
// every call dials a new one, and put files it under a key that no later
// call asks for. The backend has no idle timeout, so each pooled connection
// keeps one server goroutine blocked in Read, waiting for a command that
// never comes. Four calls a second.
package main

import (
	"bufio"
	"fmt"
	"log"
	"net"
	"strings"
	"sync"
	"time"
)

// serve answers one GET per line until the client hangs up.
func serve(conn net.Conn) {
	defer conn.Close()
	r := bufio.NewReader(conn)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		key := strings.TrimSpace(strings.TrimPrefix(line, "GET "))
		if _, err := fmt.Fprintf(conn, "VALUE %s %d\n", key, len(key)*31); err != nil {
			return
		}
	}
}

type pooledConn struct {
	net.Conn
	r *bufio.Reader
}

// A pool holds idle connections by route until a call for that route
// takes one back out.
type pool struct {
	mu   sync.Mutex
	idle map[string][]*pooledConn
}

func (p *pool) get(route string) *pooledConn {
	p.mu.Lock()
	defer p.mu.Unlock()
	conns := p.idle[route]
	if len(conns) == 0 {
		return nil
	}
	c := conns[len(conns)-1]
	p.idle[route] = conns[:len(conns)-1]
	return c
}

func (p *pool) put(route string, c *pooledConn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.idle[route] = append(p.idle[route], c)
}

func (p *pool) size() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, conns := range p.idle {
		n += len(conns)
	}
	return n
}

// call looks a user up on the backend through the pool.
func call(p *pool, addr string, id int) (string, error) {
	route := fmt.Sprintf("%s/req-%d", addr, id) // meant to be just addr
	c := p.get(route)
	if c == nil {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			return "", err
		}
		c = &pooledConn{Conn: conn, r: bufio.NewReaderSize(conn, 256)}
	}
	if _, err := fmt.Fprintf(c, "GET user:%d\n", id%1000); err != nil {
		c.Close()
		return "", err
	}
	reply, err := c.r.ReadString('\n')
	if err != nil {
		c.Close()
		return "", err
	}
	p.put(route, c)
	return reply, nil
}

func main() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				log.Fatal(err)
			}
			go serve(conn)
		}
	}()
	addr := ln.Addr().String()
	log.Printf("backend on %s", addr)

	p := &pool{idle: make(map[string][]*pooledConn)}
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for id := 1; ; id++ {
		<-tick.C
		if _, err := call(p, addr, id); err != nil {
			log.Printf("call %d: %v", id, err)
		}
		if id%40 == 0 {
			log.Printf("pool: %d idle connections", p.size())
		}
	}
}
