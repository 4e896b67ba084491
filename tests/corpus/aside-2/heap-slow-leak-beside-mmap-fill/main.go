// A gateway that loads a 96 MiB mmap'd routing table at start-up and keeps a
// copy of every request's 4 KiB header block in an audit trail that no one
// ever trims.
package main

import (
	"log"
	"syscall"
	"time"
)

const (
	tableSize = 96 << 20
	perTick   = 160 << 10 // every 10 ms
)

var audit [][]byte

func main() {
	table, err := syscall.Mmap(-1, 0, tableSize, syscall.PROT_READ|syscall.PROT_WRITE,
		syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		log.Fatalf("mmap: %v", err)
	}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	loaded := 0
	for i := 0; ; i++ {
		<-tick.C
		if loaded < tableSize {
			end := min(loaded+perTick, tableSize)
			for off := loaded; off < end; off += 4096 {
				table[off] = byte(i)
			}
			loaded = end
		}
		header := make([]byte, 4096)
		header[0] = byte(i)
		audit = append(audit, header)
	}
}
