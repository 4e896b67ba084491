// A profile service caches each user's rendered profile card the first time
// it is asked for and never evicts: there are only 50,000 users, so the
// cache can hold them all. Lookups pick users uniformly at random, so the
// cache fills fast at first and ever more slowly as the misses get rarer
// (the fraction cached is 1 - exp(-t/2 s) at 25,000 lookups a second), and
// once every user is in, a lookup allocates nothing at all.
package main

import (
	"encoding/binary"
	"expvar"
	"log"
	"math/rand/v2"
	"sync"
	"time"
)

var requests = expvar.NewInt("requests")

const (
	users    = 50_000
	cardSize = 1024 // exactly the 1024-byte size class
	workers  = 5
	perTick  = 50 // 5 x 50 = 250 lookups every 10 ms: 25,000/s
)

type cache struct {
	mu    sync.Mutex
	cards map[uint32][]byte
	miss  int
}

// render builds a user's profile card: a fixed-size, pointer-free block.
func render(uid uint32) []byte {
	card := make([]byte, cardSize)
	binary.LittleEndian.PutUint32(card, uid)
	for i := 4; i < cardSize; i++ {
		card[i] = byte(uid>>(i%24)) ^ byte(i)
	}
	return card
}

func (c *cache) get(uid uint32) []byte {
	c.mu.Lock()
	card, ok := c.cards[uid]
	if !ok {
		card = render(uid)
		c.cards[uid] = card
		c.miss++
	}
	c.mu.Unlock()
	return card
}

func worker(c *cache, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 7))
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	var sum byte
	for range tick.C {
		for i := 0; i < perTick; i++ {
			card := c.get(uint32(rng.IntN(users)))
			sum ^= card[100] // use the card, as a handler would
			requests.Add(1)
		}
	}
	_ = sum
}

func main() {
	c := &cache{cards: make(map[uint32][]byte)}
	for w := 0; w < workers; w++ {
		go worker(c, uint64(w+1))
	}
	for range time.Tick(2 * time.Second) {
		c.mu.Lock()
		n, miss := len(c.cards), c.miss
		c.mu.Unlock()
		log.Printf("profiles: %d of %d cached (%.1f%%), %d misses, %d lookups",
			n, users, 100*float64(n)/users, miss, requests.Value())
	}
}
