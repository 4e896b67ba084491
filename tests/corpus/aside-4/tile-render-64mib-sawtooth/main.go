// A map-tile service that re-renders its 4096x4096 overview image every two
// seconds. Each render paints a fresh 64 MiB RGBA canvas band by band,
// checksums the pixels for the CDN and drops the canvas; only the last 16
// checksums are kept.
package main

import (
	"hash/crc32"
	"image"
	"image/color"
	"log"
	"time"
)

const (
	side   = 4096
	band   = 256
	period = 2 * time.Second
)

// paint fills rows [y0, y0+band) with a shaded relief for generation gen.
func paint(img *image.RGBA, gen, y0 int) {
	for y := y0; y < y0+band; y++ {
		for x := 0; x < side; x++ {
			h := uint8((x*x + y*y + gen*977) >> 12)
			img.SetRGBA(x, y, color.RGBA{R: h, G: uint8(x >> 4), B: uint8(y >> 4), A: 0xff})
		}
	}
}

func render(gen int) uint32 {
	img := image.NewRGBA(image.Rect(0, 0, side, side))
	for y := 0; y < side; y += band {
		paint(img, gen, y)
		time.Sleep(25 * time.Millisecond) // let the tile queue in between bands
	}
	return crc32.ChecksumIEEE(img.Pix)
}

func main() {
	var sums [16]uint32
	log.Println("tiles: a 64 MiB overview every 2s")
	tick := time.NewTicker(period)
	defer tick.Stop()
	for gen := 0; ; gen++ {
		sums[gen%len(sums)] = render(gen)
		if gen%5 == 0 {
			log.Printf("overview %d: crc %08x", gen, sums[gen%len(sums)])
		}
		<-tick.C
	}
}
