// A service that keeps every request it served, only to show the last ten,
// leaks: each request adds an entry that nothing ever removes, so its memory
// grows with the traffic it gets, and stays flat while nobody calls it.
// This is the fixed variant: the log is a ring of ten entries.
package main

import (
	"encoding/json"
	"expvar"
	"flag"
	"fmt"
	"log"
	"net/http"
	"sync"
	"time"
)

// The counter shows how much work was done; leaklab's --load counts the
// answers it got as well, and the two agree.
var requests = expvar.NewInt("requests")

// An entry is what /debug/recent shows about one request: when, what was
// asked, with which headers, and what the service answered.
type entry struct {
	When   time.Time   `json:"when"`
	Path   string      `json:"path"`
	Header http.Header `json:"header"`
	Answer []byte      `json:"answer"`
}

// The log of recent requests is a ring of ten: a new entry overwrites the
// oldest, so the log never holds more than the page shows.
var (
	mu     sync.Mutex
	recent [10]entry
	added  int
)

func remember(e entry) {
	mu.Lock()
	defer mu.Unlock()
	recent[added%len(recent)] = e
	added++
}

func lastTen() []entry {
	mu.Lock()
	defer mu.Unlock()
	var out []entry
	for i := max(0, added-len(recent)); i < added; i++ {
		out = append(out, recent[i%len(recent)])
	}
	return out
}

// The catalogue every /items request is answered with: about 1 KiB of JSON.
var catalogue = func() []byte {
	items := make([]string, 16)
	for i := range items {
		items[i] = fmt.Sprintf("item %02d: a thing the shop sells, described in a sentence", i)
	}
	b, _ := json.Marshal(items)
	return b
}()

// Each answer is a copy, as a real service would render it per request.
func items(w http.ResponseWriter, r *http.Request) {
	answer := append([]byte(nil), catalogue...)
	w.Header().Set("Content-Type", "application/json")
	w.Write(answer)
	remember(entry{When: time.Now(), Path: r.URL.Path, Header: r.Header.Clone(), Answer: answer})
	requests.Add(1)
}

func debugRecent(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(lastTen())
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "the address to listen on")
	flag.Parse()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /items", items)
	mux.HandleFunc("GET /debug/recent", debugRecent)
	log.Fatal(http.ListenAndServe(*addr, mux))
}
