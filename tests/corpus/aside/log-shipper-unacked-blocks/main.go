// A log shipper that packs lines into 16 KiB blocks and keeps each block in a
// resend buffer until the sink acknowledges it. The sink client was built
// without an endpoint, so its acknowledgement callback is never invoked and
// every block stays buffered.
package main

import (
	"log"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"
)

const blockSize = 16 << 10

type block struct {
	seq      uint64
	data     []byte
	attempts int
}

type shipper struct {
	mu      sync.Mutex
	unacked map[uint64]*block
	seq     uint64
}

func (s *shipper) seal(data []byte) {
	s.mu.Lock()
	s.seq++
	s.unacked[s.seq] = &block{seq: s.seq, data: data}
	s.mu.Unlock()
}

func (s *shipper) ack(seq uint64) {
	s.mu.Lock()
	delete(s.unacked, seq)
	s.mu.Unlock()
}

type sinkClient struct {
	endpoint string
	onAck    func(uint64)
}

func (c *sinkClient) send(seq uint64) {
	if c.endpoint == "" {
		return // not connected: nothing sent, nothing acknowledged
	}
	c.onAck(seq)
}

var levels = []string{"INFO", "INFO", "INFO", "WARN", "DEBUG"}

// fill packs formatted lines into one block-sized buffer.
func fill(line uint64, stamp []byte) ([]byte, uint64) {
	buf := make([]byte, 0, blockSize)
	for {
		var tmp [160]byte
		l := tmp[:0]
		l = append(l, stamp...)
		l = append(l, ' ')
		l = append(l, levels[line%uint64(len(levels))]...)
		l = append(l, " worker="...)
		l = strconv.AppendInt(l, int64(rand.IntN(64)), 10)
		l = append(l, " msg=\"processed batch\" line="...)
		l = strconv.AppendUint(l, line, 10)
		l = append(l, '\n')
		if len(buf)+len(l) > blockSize {
			return buf, line
		}
		buf = append(buf, l...)
		line++
	}
}

func main() {
	s := &shipper{unacked: make(map[uint64]*block)}
	sink := &sinkClient{onAck: s.ack}
	log.Println("shipper: 640 blocks/s of 16 KiB")
	var line uint64
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	for now := range tick.C {
		stamp := now.AppendFormat(nil, time.RFC3339Nano)
		for range 16 {
			var data []byte
			data, line = fill(line, stamp)
			s.seal(data)
			sink.send(s.seq)
		}
	}
}
