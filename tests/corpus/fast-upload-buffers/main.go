// An upload gateway that assembles incoming file chunks into 256 KiB parts.
// Each finished part is remembered under a content key so that a client
// retrying an upload can be answered without re-sending the data. Parts are
// added for every upload and nothing ever removes one.
package main

import (
	"encoding/binary"
	"hash/fnv"
	"log"
	"sync"
	"time"
)

const (
	partSize       = 256 << 10
	partsPerUpload = 16
	partInterval   = 20 * time.Millisecond // 50 parts per second
)

type part struct {
	upload uint64
	index  int
	data   []byte
	stored time.Time
}

type dedupIndex struct {
	mu      sync.Mutex
	parts   map[uint64]*part
	retries int
}

func contentKey(b []byte) uint64 {
	h := fnv.New64a()
	h.Write(b[:4096])
	h.Write(b[len(b)-4096:])
	return h.Sum64()
}

func (d *dedupIndex) store(p *part) {
	key := contentKey(p.data)
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, seen := d.parts[key]; seen {
		d.retries++
		return
	}
	d.parts[key] = p
}

// receive stands in for reading one part off the wire.
func receive(upload uint64, index int) *part {
	buf := make([]byte, partSize)
	x := upload*0x9E3779B97F4A7C15 ^ uint64(index+1)*0xBF58476D1CE4E5B9
	for off := 0; off < len(buf); off += 8 {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		binary.LittleEndian.PutUint64(buf[off:], x)
	}
	return &part{upload: upload, index: index, data: buf, stored: time.Now()}
}

func main() {
	idx := &dedupIndex{parts: make(map[uint64]*part)}
	log.Printf("upload gateway: %d KiB parts, one every %v", partSize>>10, partInterval)
	tick := time.NewTicker(partInterval)
	defer tick.Stop()
	var upload uint64 = 1
	index := 0
	for range tick.C {
		idx.store(receive(upload, index))
		index++
		if index == partsPerUpload {
			upload++
			index = 0
		}
	}
}
