// An API gateway that decodes each JSON request body into generic maps, adds
// routing fields and re-encodes it for the backend. Everything a request
// allocates is garbage a moment later and the live heap is tiny, so the
// collector runs many times per second.
package main

import (
	"encoding/json"
	"expvar"
	"log"
	"strconv"
	"strings"
	"time"
)

var requests = expvar.NewInt("requests")

func makeBody(i int) []byte {
	var b strings.Builder
	b.WriteString(`{"order":` + strconv.Itoa(1000+i) + `,"customer":{"id":"c-` + strconv.Itoa(i*37) +
		`","tier":"gold","tags":["a","b","c"]},"items":[`)
	for j := range 12 {
		if j > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"sku":"sku-` + strconv.Itoa(i*100+j) + `","qty":` + strconv.Itoa(j+1) +
			`,"price":` + strconv.Itoa(199+j*50) + `.99,"note":"gift wrap, leave at door"}`)
	}
	b.WriteString(`],"currency":"EUR","coupon":null}`)
	return []byte(b.String())
}

func forward(body []byte, hop int) (int, error) {
	var doc map[string]any
	if err := json.Unmarshal(body, &doc); err != nil {
		return 0, err
	}
	doc["gateway"] = map[string]any{"hop": hop, "region": "eu-west", "ts": time.Now().UnixNano()}
	out, err := json.Marshal(doc)
	return len(out), err
}

func main() {
	bodies := make([][]byte, 16)
	for i := range bodies {
		bodies[i] = makeBody(i)
	}
	log.Printf("gateway: 3,000 requests/s, %d-byte bodies", len(bodies[0]))
	var out int
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for n := 0; ; {
		<-tick.C
		for range 30 {
			m, err := forward(bodies[n%len(bodies)], n)
			if err != nil {
				log.Fatal(err)
			}
			out += m
			n++
			requests.Add(1)
		}
	}
}
