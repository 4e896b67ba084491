// What one entry costs in a sync.Map and in a plain map, on the Go that
// builds this program: the live heap after filling each with 100,000 int
// keys, divided by the number of keys. Go 1.24 rewrote both (sync.Map as a
// hash trie, maps as Swiss tables), so the answer depends on the release.
// `leaklab report --versions` runs it on every toolchain it measures.
package main

import (
	"encoding/json"
	"os"
	"runtime"
	"sync"
)

// Enough entries that the map's fixed overhead does not count, and not a
// power of two, so no map is caught just after it doubled.
const entries = 100_000

// liveHeap is the heap still in use after a full collection.
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// perEntry fills a fresh container and says what each entry kept on the
// heap; the container stays alive until the second measurement.
func perEntry(fill func() any) float64 {
	before := liveHeap()
	kept := fill()
	after := liveHeap()
	runtime.KeepAlive(kept)
	return float64(after-before) / entries
}

func main() {
	// The keys and values are ints above 255, so a sync.Map boxes each one,
	// as it must box whatever it stores; the plain map stores them inline.
	costs := map[string]float64{
		"sync.Map": perEntry(func() any {
			var m sync.Map
			for i := range entries {
				m.Store(1000+i, 1000+i)
			}
			return &m
		}),
		"map[int]int": perEntry(func() any {
			m := make(map[int]int)
			for i := range entries {
				m[1000+i] = 1000 + i
			}
			return m
		}),
	}
	json.NewEncoder(os.Stdout).Encode(map[string]any{"entries": entries, "bytes_per_entry": costs,
		"go_version": runtime.Version()})
}
