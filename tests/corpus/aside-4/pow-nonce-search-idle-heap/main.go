// A proof-of-work miner: two workers each take a slice of the nonce space and
// double-SHA-256 an 80-byte block header for every nonce, counting the ones
// whose hash falls below the target. All the work happens in fixed arrays on
// the workers' stacks, so the program is busy on two cores while its heap
// sits idle.
package main

import (
	"crypto/sha256"
	"encoding/binary"
	"log"
	"sync/atomic"
	"time"
)

const workers = 2

var (
	hashes atomic.Uint64
	found  atomic.Uint64
)

// mine tries nonces w, w+workers, w+2*workers, ... forever.
func mine(w int) {
	var header [80]byte
	copy(header[:], "v2 prev=000000000003a1f5 merkle=9c0e77d2 time=1796112000 bits=1d00ffff")
	for nonce := uint64(w); ; nonce += workers {
		binary.LittleEndian.PutUint64(header[72:], nonce)
		first := sha256.Sum256(header[:])
		second := sha256.Sum256(first[:])
		// The target: twenty leading zero bits.
		if second[0] == 0 && second[1] == 0 && second[2]&0xf0 == 0 {
			found.Add(1)
		}
		if nonce%(1024*workers) == uint64(w) {
			hashes.Add(1024)
		}
	}
}

func main() {
	for w := range workers {
		go mine(w)
	}
	log.Printf("miner: %d workers", workers)
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	for range tick.C {
		log.Printf("miner: %d hashes, %d shares", hashes.Load(), found.Load())
	}
}
