// An auth proxy that caches the decoded claims (4 KiB) of each verified token
// for 1.5 s. A sweeper deletes expired entries every 100 ms. Every request
// brings a new token, so the cache holds about 1.5 s worth of tokens.
package main

import (
	"log"
	"strconv"
	"sync"
	"time"
)

const ttl = 1500 * time.Millisecond

type claims struct {
	subject string
	expires time.Time
	raw     []byte
}

type tokenCache struct {
	mu      sync.Mutex
	entries map[string]*claims
}

func (c *tokenCache) verify(token string, now time.Time) *claims {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cl, ok := c.entries[token]; ok {
		return cl
	}
	raw := make([]byte, 4096)
	copy(raw, `{"sub":"`+token+`","scope":"read write","aud":"api"}`)
	cl := &claims{subject: token, expires: now.Add(ttl), raw: raw}
	c.entries[token] = cl
	return cl
}

func (c *tokenCache) sweep(now time.Time) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for k, cl := range c.entries {
		if now.After(cl.expires) {
			delete(c.entries, k)
			n++
		}
	}
	return n
}

func main() {
	c := &tokenCache{entries: make(map[string]*claims)}
	go func() {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for now := range t.C {
			c.sweep(now)
		}
	}()
	log.Println("auth proxy: 3,000 new tokens/s, 1.5s claim cache")
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	seq := 0
	for now := range tick.C {
		for range 30 {
			seq++
			c.verify("tok-"+strconv.Itoa(seq), now)
		}
	}
}
