// A telemetry collector reads length-prefixed frames over TCP: a 4-byte
// big-endian length, then the payload. Its decoder reads every payload into
// one fixed 4 KiB buffer and trusts the length. The agent sends 100 small
// frames a second, and at its 150th frame (about 1.5 s in) it flushes a
// 9,000-byte bulk frame. buf[:n] is then out of range: the connection
// goroutine panics, nothing recovers it, and the whole process dies.
package main

import (
	"encoding/binary"
	"hash/crc32"
	"io"
	"log"
	"net"
	"time"
)

const bufSize = 4096

// serve decodes frames from one agent connection.
func serve(c net.Conn) {
	defer c.Close()
	buf := make([]byte, bufSize)
	var hdr [4]byte
	var frames int
	var sum uint32
	for {
		if _, err := io.ReadFull(c, hdr[:]); err != nil {
			return
		}
		n := binary.BigEndian.Uint32(hdr[:])
		// bug: no check that n <= len(buf); a 9,000-byte frame panics here.
		if _, err := io.ReadFull(c, buf[:n]); err != nil {
			return
		}
		sum = crc32.Update(sum, crc32.IEEETable, buf[:n])
		frames++
		if frames%50 == 0 {
			log.Printf("collector: %d frames, crc %08x", frames, sum)
		}
	}
}

// agent sends small frames every 10 ms and a bulk frame as its 150th.
func agent(addr string) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		log.Fatal(err)
	}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for i := 1; ; i++ {
		<-tick.C
		size := 200 + i%800
		if i == 150 {
			size = 9000 // the batched flush
		}
		frame := make([]byte, 4+size)
		binary.BigEndian.PutUint32(frame, uint32(size))
		for j := 4; j < len(frame); j++ {
			frame[j] = byte(i + j)
		}
		if _, err := c.Write(frame); err != nil {
			log.Printf("agent: %v", err)
			return
		}
	}
}

func main() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go agent(ln.Addr().String())
	for {
		c, err := ln.Accept()
		if err != nil {
			log.Fatal(err)
		}
		go serve(c)
	}
}
