// A three-stage ingest pipeline: a reader produces CSV lines, four parser
// goroutines turn them into records, and one aggregator folds them into
// per-account totals over a fixed set of 1,000 accounts. Channels are bounded
// and no stage keeps what it has passed on.
package main

import (
	"expvar"
	"log"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"
)

var requests = expvar.NewInt("requests")

type record struct {
	account  int
	cents    int64
	currency string
}

type total struct {
	count int
	cents int64
}

var currencies = []string{"EUR", "USD", "GBP", "CHF"}

func reader(out chan<- string) {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for range t.C {
		for range 200 {
			out <- strconv.Itoa(rand.IntN(1000)) + "," + strconv.Itoa(rand.IntN(100000)) + "," + currencies[rand.IntN(4)]
		}
	}
}

func parser(in <-chan string, out chan<- record) {
	for line := range in {
		f := strings.Split(line, ",")
		if len(f) != 3 {
			continue
		}
		acct, err1 := strconv.Atoi(f[0])
		cents, err2 := strconv.ParseInt(f[1], 10, 64)
		if err1 != nil || err2 != nil {
			continue
		}
		out <- record{account: acct, cents: cents, currency: f[2]}
	}
}

func main() {
	lines := make(chan string, 256)
	records := make(chan record, 256)
	go reader(lines)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			parser(lines, records)
		}()
	}
	log.Println("pipeline: 20,000 lines/s, 4 parsers, 1,000 accounts")
	totals := make(map[int]*total, 1000)
	for r := range records {
		t := totals[r.account]
		if t == nil {
			t = &total{}
			totals[r.account] = t
		}
		t.count++
		t.cents += r.cents
		requests.Add(1)
	}
	wg.Wait()
}
