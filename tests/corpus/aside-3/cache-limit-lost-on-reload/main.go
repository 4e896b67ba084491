// A page renderer with an LRU cache of 2 KiB fragments, capped at 1,000
// entries. Five seconds in, a config reload re-reads the settings; the new
// text has no max_entries line, so the limit parses as 0, which the cache
// treats as "no limit", and from then on nothing is ever evicted.
package main

import (
	"container/list"
	"log"
	"strconv"
	"strings"
	"sync"
	"time"
)

const (
	startupConfig = "listen=127.0.0.1:0\nmax_entries=1000\nfragment_kib=2\n"
	reloadConfig  = "listen=127.0.0.1:0\nfragment_kib=2\n" // max_entries was dropped
)

type config struct {
	maxEntries int
}

func parseConfig(text string) config {
	var c config
	for _, line := range strings.Split(text, "\n") {
		k, v, ok := strings.Cut(line, "=")
		if ok && k == "max_entries" {
			c.maxEntries, _ = strconv.Atoi(v)
		}
	}
	return c
}

type entry struct {
	key  string
	html []byte
}

type lru struct {
	mu    sync.Mutex
	limit int // 0 means unlimited
	ll    *list.List
	items map[string]*list.Element
}

func newLRU(limit int) *lru {
	return &lru{limit: limit, ll: list.New(), items: make(map[string]*list.Element)}
}

func (c *lru) setLimit(n int) {
	c.mu.Lock()
	c.limit = n
	c.mu.Unlock()
}

func (c *lru) get(key string, render func() []byte) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[key]; ok {
		c.ll.MoveToFront(e)
		return e.Value.(*entry).html
	}
	e := c.ll.PushFront(&entry{key: key, html: render()})
	c.items[key] = e
	for c.limit > 0 && c.ll.Len() > c.limit {
		old := c.ll.Back()
		c.ll.Remove(old)
		delete(c.items, old.Value.(*entry).key)
	}
	return e.Value.(*entry).html
}

func renderFragment(key string) []byte {
	b := make([]byte, 2048)
	n := copy(b, "<div class=\"product\">"+key+"</div>")
	for i := n; i < len(b); i++ {
		b[i] = ' '
	}
	return b
}

func main() {
	cache := newLRU(parseConfig(startupConfig).maxEntries)
	time.AfterFunc(5*time.Second, func() {
		cfg := parseConfig(reloadConfig)
		cache.setLimit(cfg.maxEntries)
		log.Printf("config reloaded: max_entries=%d", cfg.maxEntries)
	})
	log.Println("renderer: 1,200 page views/s, 1,000 new fragments/s")
	var n int
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for range tick.C {
		for i := range 12 {
			key := "p/" + strconv.Itoa(n)
			if i%5 == 4 {
				key = "p/" + strconv.Itoa(n-3) // a product viewed a moment ago
			} else {
				n++
			}
			cache.get(key, func() []byte { return renderFragment(key) })
		}
	}
}
