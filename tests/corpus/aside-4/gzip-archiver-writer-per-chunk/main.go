// A log archiver: four workers take 32 KiB chunks of log text off a queue,
// gzip each one and "upload" the result (here, a CRC and a byte count). Each
// chunk gets a fresh gzip.Writer instead of one reused from a pool, and a
// fresh writer carries most of a megabyte of compressor state, so the
// archiver makes garbage at over 100 MiB/s while keeping nothing.
package main

import (
	"bytes"
	"compress/gzip"
	"expvar"
	"fmt"
	"hash/crc32"
	"log"
	"sync/atomic"
	"time"
)

var requests = expvar.NewInt("requests")

const chunkSize = 32 << 10

var (
	rawBytes  atomic.Uint64
	gzipBytes atomic.Uint64
	checksum  atomic.Uint32
)

var levels = []string{"INFO", "INFO", "INFO", "DEBUG", "WARN", "ERROR"}

// chunk renders about 32 KiB of log lines for one shipping interval.
func chunk(seq int) []byte {
	var b bytes.Buffer
	b.Grow(chunkSize + 256)
	for i := 0; b.Len() < chunkSize; i++ {
		n := seq*1000 + i
		fmt.Fprintf(&b, "2026-12-01T10:%02d:%02d.%03dZ %-5s svc=checkout pod=checkout-%d trace=%016x took=%dms msg=\"order %d placed\"\n",
			n/60000%60, n/1000%60, n%1000, levels[n%len(levels)], n%12, uint64(n)*0x9e3779b97f4a7c15, n%250, n)
	}
	return b.Bytes()
}

// archive compresses one chunk with a writer of its own.
func archive(raw []byte) error {
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	if _, err := zw.Write(raw); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	rawBytes.Add(uint64(len(raw)))
	gzipBytes.Add(uint64(out.Len()))
	checksum.Store(crc32.ChecksumIEEE(out.Bytes()))
	return nil
}

func main() {
	queue := make(chan []byte, 16)
	for range 4 {
		go func() {
			for raw := range queue {
				if err := archive(raw); err != nil {
					log.Fatal(err)
				}
				requests.Add(1)
			}
		}()
	}
	log.Println("archiver: 150 chunks/s of 32 KiB")

	// Three chunks every 20 ms; the queue blocks the producer if it fills.
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for seq := 0; ; {
		<-tick.C
		for range 3 {
			queue <- chunk(seq)
			seq++
		}
		if seq%1500 == 0 {
			log.Printf("archived %d chunks, %d -> %d bytes, last crc %08x",
				requests.Value(), rawBytes.Load(), gzipBytes.Load(), checksum.Load())
		}
	}
}
