// A product-page cache in front of a renderer: an LRU of at most 16,000
// rendered pages (1 KiB each) over a catalogue of 48,000 products requested
// uniformly at 6,000 requests per second. It fills within a few seconds and
// then evicts one page for every miss.
package main

import (
	"container/list"
	"expvar"
	"log"
	"math/rand/v2"
	"strconv"
	"time"
)

var requests = expvar.NewInt("requests")

type page struct {
	product int
	html    []byte
}

type lru struct {
	cap   int
	order *list.List
	index map[int]*list.Element
	hits  uint64
	miss  uint64
}

func newLRU(n int) *lru {
	return &lru{cap: n, order: list.New(), index: make(map[int]*list.Element, n)}
}

func (c *lru) get(product int, render func(int) *page) *page {
	if e, ok := c.index[product]; ok {
		c.order.MoveToFront(e)
		c.hits++
		return e.Value.(*page)
	}
	c.miss++
	p := render(product)
	c.index[product] = c.order.PushFront(p)
	if c.order.Len() > c.cap {
		last := c.order.Back()
		c.order.Remove(last)
		delete(c.index, last.Value.(*page).product)
	}
	return p
}

func main() {
	template := make([]byte, 1024)
	for i := range template {
		template[i] = "<div class=product></div>"[i%25]
	}
	render := func(product int) *page {
		html := make([]byte, len(template))
		copy(html, template)
		copy(html[12:], strconv.Itoa(product))
		return &page{product: product, html: html}
	}
	c := newLRU(16_000)
	log.Println("page cache: 16,000 entries, 6,000 requests/s over 48,000 products")
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	report := time.NewTicker(5 * time.Second)
	defer report.Stop()
	for {
		select {
		case <-tick.C:
			for range 60 {
				c.get(rand.IntN(48_000), render)
				requests.Add(1)
			}
		case <-report.C:
			log.Printf("cache: %d entries, %d hits, %d misses", c.order.Len(), c.hits, c.miss)
		}
	}
}
