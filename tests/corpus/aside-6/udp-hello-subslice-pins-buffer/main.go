// A telemetry collector that takes datagrams from devices over UDP. Every
// datagram is read into a fresh 64 KiB buffer (the largest a UDP datagram can
// be) so that the reader can hand it to the parser goroutine without copying.
// When a device says HELLO, the collector opens a session and keeps the HELLO
// packet for diagnostics as hello = buf[:n]: a slice of some forty bytes that
// pins the whole 64 KiB array behind it. Sessions are never expired (devices
// are meant to send BYE, and this firmware never does). A loopback fleet
// brings five new devices online every second and sends 300 readings a
// second from the devices already known.
package main

import (
	"bytes"
	"fmt"
	"log"
	"math/rand/v2"
	"net"
	"strconv"
	"time"
)

const maxDatagram = 64 << 10

type session struct {
	id      string
	hello   []byte // bug: pins the 64 KiB read buffer; should be bytes.Clone(pkt)
	packets uint64
	sum     float64
	last    time.Time
}

type collector struct {
	sessions map[string]*session
	unknown  uint64
}

// handle parses one datagram. It runs on the parser goroutine, which owns the
// session table.
func (c *collector) handle(pkt []byte) {
	fields := bytes.Fields(pkt)
	if len(fields) < 3 {
		return
	}
	id := string(fields[1])
	switch string(fields[0]) {
	case "HELLO":
		c.sessions[id] = &session{id: id, hello: pkt, last: time.Now()}
	case "DATA":
		s := c.sessions[id]
		if s == nil {
			c.unknown++
			return
		}
		v, err := strconv.ParseFloat(string(bytes.TrimPrefix(fields[2], []byte("temp="))), 64)
		if err != nil {
			return
		}
		s.packets++
		s.sum += v
		s.last = time.Now()
	}
}

func main() {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("collector on %s", pc.LocalAddr())

	// Reader: one fresh buffer per datagram, handed to the parser.
	packets := make(chan []byte, 256)
	go func() {
		for {
			buf := make([]byte, maxDatagram)
			n, _, err := pc.ReadFrom(buf)
			if err != nil {
				log.Fatal(err)
			}
			packets <- buf[:n]
		}
	}()

	// Parser.
	go func() {
		c := &collector{sessions: make(map[string]*session)}
		report := time.NewTicker(5 * time.Second)
		defer report.Stop()
		for {
			select {
			case pkt := <-packets:
				c.handle(pkt)
			case <-report.C:
				log.Printf("sessions: %d, readings from unknown devices: %d", len(c.sessions), c.unknown)
			}
		}
	}()

	// The fleet: every 10 ms three readings from known devices, and every
	// 200 ms a HELLO from a device that was not online before.
	conn, err := net.Dial("udp", pc.LocalAddr().String())
	if err != nil {
		log.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(6, 60))
	online := 0
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for i := 0; ; i++ {
		<-tick.C
		if i%20 == 0 {
			fmt.Fprintf(conn, "HELLO dev-%06d fw=2.4.1 model=TH-20 rev=C", online)
			online++
		}
		for range 3 {
			dev := rng.IntN(online)
			fmt.Fprintf(conn, "DATA dev-%06d temp=%.2f seq=%d", dev, 18+rng.Float64()*8, i)
		}
	}
}
