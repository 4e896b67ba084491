// A VM image builder that allocates its whole 200 MiB disk image up front and
// then streams content into it block by block (about 16 MiB/s) before serving
// reads from it. The allocation is made once at start-up; its pages only
// become resident as they are first written.
package main

import (
	"encoding/binary"
	"hash/crc32"
	"log"
	"math/rand/v2"
	"time"
)

const (
	imageSize     = 200 << 20
	blockSize     = 4096
	blocksPerTick = 40 // every 10 ms: 160 KiB
)

type image struct {
	data    []byte
	written int
}

func (im *image) writeBlock(n int) {
	b := im.data[im.written : im.written+blockSize]
	for i := 0; i < blockSize; i += 8 {
		binary.LittleEndian.PutUint64(b[i:], uint64(n)<<20|uint64(i))
	}
	im.written += blockSize
}

func (im *image) readBlock(n int) uint32 {
	off := (n % (im.written / blockSize)) * blockSize
	return crc32.ChecksumIEEE(im.data[off : off+blockSize])
}

func main() {
	im := &image{data: make([]byte, imageSize)}
	log.Printf("builder: %d MiB image, streaming in", imageSize>>20)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	block := 0
	for im.written < imageSize {
		<-tick.C
		for range blocksPerTick {
			if im.written == imageSize {
				break
			}
			im.writeBlock(block)
			block++
		}
	}
	log.Printf("builder: image complete after %d blocks, serving reads", block)
	var sum uint32
	for range tick.C {
		for range 20 {
			sum ^= im.readBlock(rand.IntN(block))
		}
	}
}
