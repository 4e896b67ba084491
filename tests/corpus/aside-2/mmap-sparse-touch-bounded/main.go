// A sparse open-addressing table laid out over a 1 GiB mmap: the address
// space is reserved once, and only the pages that buckets land in become
// resident. The working set of keys stops growing after start-up.
package main

import (
	"log"
	"math/rand/v2"
	"syscall"
	"time"
)

const (
	spaceSize = 1 << 30
	pageSize  = 4096
	maxPages  = (96 << 20) / pageSize
	perTick   = 40 // new pages every 10 ms: 160 KiB
)

func main() {
	space, err := syscall.Mmap(-1, 0, spaceSize, syscall.PROT_READ|syscall.PROT_WRITE,
		syscall.MAP_ANON|syscall.MAP_PRIVATE|syscall.MAP_NORESERVE)
	if err != nil {
		log.Fatalf("mmap: %v", err)
	}
	pages := make([]int, 0, maxPages)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for range tick.C {
		if len(pages) < maxPages {
			for range perTick {
				p := rand.IntN(spaceSize / pageSize)
				space[p*pageSize]++
				pages = append(pages, p)
			}
			continue
		}
		// The key set is complete: updates only touch pages already resident.
		for range perTick {
			space[pages[rand.IntN(len(pages))]*pageSize+rand.IntN(pageSize)]++
		}
	}
}
