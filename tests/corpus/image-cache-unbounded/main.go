// A thumbnail service that caches decoded images by source URL. Sources come
// with a signed, expiring query string, so the same picture arrives under a
// new URL each time and the cache, which has no size limit, keeps every
// 512x512 RGBA decode (1 MiB each).
package main

import (
	"image"
	"image/color"
	"log"
	"strconv"
	"sync"
	"time"
)

type decodeCache struct {
	mu     sync.Mutex
	byURL  map[string]*image.RGBA
	hits   int
	decode int
}

func render(seed int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, 512, 512))
	for y := 0; y < 512; y++ {
		row := img.Pix[y*img.Stride : (y+1)*img.Stride]
		for x := 0; x < 512; x++ {
			row[4*x] = uint8(x + seed)
			row[4*x+1] = uint8(y)
			row[4*x+2] = uint8(x ^ y)
			row[4*x+3] = 0xff
		}
	}
	return img
}

func (c *decodeCache) get(url string, seed int) *image.RGBA {
	c.mu.Lock()
	if img, ok := c.byURL[url]; ok {
		c.hits++
		c.mu.Unlock()
		return img
	}
	c.mu.Unlock()
	img := render(seed)
	c.mu.Lock()
	c.byURL[url] = img
	c.decode++
	c.mu.Unlock()
	return img
}

func thumbnail(img *image.RGBA) color.RGBA {
	return img.RGBAAt(256, 256)
}

func main() {
	c := &decodeCache{byURL: make(map[string]*image.RGBA)}
	stable := []string{"/logo.png", "/banner.png", "/avatar-default.png", "/sprite.png"}
	log.Println("thumbnails: 2 signed-URL decodes/s plus cache hits")
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for n := 0; ; n++ {
		now := <-tick.C
		thumbnail(c.get(stable[n%len(stable)], n%len(stable)))
		if n%5 == 0 {
			url := "/photos/" + strconv.Itoa(n%40) + ".jpg?expires=" + strconv.FormatInt(now.UnixNano(), 10) + "&sig=" + strconv.Itoa(n*7919)
			thumbnail(c.get(url, n))
		}
	}
}
