// A database connection pool that opens connections at up to 60 per second
// until it holds its configured 250. Each connection has a server-side session
// goroutine and a client-side keepalive goroutine exchanging pings over an
// in-memory pipe; connections are never closed once open.
package main

import (
	"io"
	"log"
	"net"
	"sync/atomic"
	"time"
)

const (
	poolSize = 250
	dialRate = 60
)

var pings atomic.Uint64

func session(conn net.Conn) {
	buf := make([]byte, 16)
	for {
		if _, err := io.ReadFull(conn, buf); err != nil {
			return
		}
		if _, err := conn.Write(buf); err != nil {
			return
		}
	}
}

func keepalive(conn net.Conn, id int) {
	msg := []byte("PING 0000000000\n")
	reply := make([]byte, len(msg))
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for range t.C {
		msg[5] = byte('0' + id%10)
		if _, err := conn.Write(msg); err != nil {
			return
		}
		if _, err := io.ReadFull(conn, reply); err != nil {
			return
		}
		pings.Add(1)
	}
}

func main() {
	var open int
	log.Printf("pool: opening %d connections at %d/s", poolSize, dialRate)
	dial := time.NewTicker(time.Second / dialRate)
	for open < poolSize {
		<-dial.C
		server, client := net.Pipe()
		go session(server)
		go keepalive(client, open)
		open++
	}
	dial.Stop()
	log.Printf("pool: %d connections open", open)
	report := time.NewTicker(5 * time.Second)
	defer report.Stop()
	for range report.C {
		log.Printf("pool: %d pings", pings.Load())
	}
}
