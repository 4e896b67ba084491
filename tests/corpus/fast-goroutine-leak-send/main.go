// A product page handler that asks a recommendation backend for extras but
// does not wait for them: if the answer is not already there it renders the
// page without. The backend call runs in its own goroutine and delivers on an
// unbuffered channel that nobody reads any more.
package main

import (
	"expvar"
	"log"
	"strconv"
	"strings"
	"time"
)

var requests = expvar.NewInt("requests")

func fetchRecommendations(productID int) <-chan []int {
	ch := make(chan []int)
	go func() {
		time.Sleep(2 * time.Millisecond) // backend latency
		ch <- []int{productID + 1, productID + 7, productID + 13}
	}()
	return ch
}

func renderPage(productID int) string {
	recs := fetchRecommendations(productID)
	var b strings.Builder
	b.WriteString("<h1>product ")
	b.WriteString(strconv.Itoa(productID))
	b.WriteString("</h1>")
	select {
	case r := <-recs:
		for _, id := range r {
			b.WriteString("<a>" + strconv.Itoa(id) + "</a>")
		}
	default:
		// not ready: render without recommendations
	}
	return b.String()
}

func main() {
	log.Println("catalog: 1000 page views/s")
	served := 0
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for n := 0; ; {
		<-tick.C
		for range 10 {
			n++
			served += len(renderPage(n % 5000))
			requests.Add(1)
		}
	}
}
