// An external sort that spills each sorted run of keys into its own 4 MiB
// anonymous mmap (off the Go heap, so the GC never scans or copies it) and
// merges every three runs into one output checksum. After a merge the runs
// are supposed to go back to the OS, but release only truncates the slice of
// runs (runs = runs[:0]) and never calls munmap, so every run ever spilled
// stays mapped and resident. Six runs are spilled a second.
package main

import (
	"log"
	"math/rand/v2"
	"syscall"
	"time"
	"unsafe"
)

const (
	runBytes   = 4 << 20
	runKeys    = runBytes / 8
	runsPerSec = 6
	fanIn      = 3
)

type run struct {
	mem  []byte   // the mapping
	keys []uint64 // the same memory, as keys
}

// spill writes one sorted run of runKeys keys into a fresh mapping.
func spill(rng *rand.Rand) run {
	mem, err := syscall.Mmap(-1, 0, runBytes, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		log.Fatalf("mmap: %v", err)
	}
	keys := unsafe.Slice((*uint64)(unsafe.Pointer(&mem[0])), runKeys)
	k := rng.Uint64N(1 << 20)
	for i := range keys {
		k += 1 + rng.Uint64N(256)
		keys[i] = k
	}
	return run{mem: mem, keys: keys}
}

// merge does a k-way merge of the runs and returns a checksum of the output.
func merge(runs []run) uint64 {
	pos := make([]int, len(runs))
	var sum uint64
	for {
		best := -1
		for r := range runs {
			if pos[r] < len(runs[r].keys) && (best < 0 || runs[r].keys[pos[r]] < runs[best].keys[pos[best]]) {
				best = r
			}
		}
		if best < 0 {
			return sum
		}
		sum = sum*31 + runs[best].keys[pos[best]]
		pos[best]++
	}
}

func main() {
	rng := rand.New(rand.NewPCG(4, 20))
	var runs []run
	spilled, merges := 0, 0
	tick := time.NewTicker(time.Second / runsPerSec)
	defer tick.Stop()
	log.Printf("sorter: %d runs/s of %d MiB, merged %d at a time", runsPerSec, runBytes>>20, fanIn)
	for range tick.C {
		runs = append(runs, spill(rng))
		spilled++
		if len(runs) == fanIn {
			sum := merge(runs)
			merges++
			// bug: should syscall.Munmap(r.mem) for each run first.
			runs = runs[:0]
			if merges%10 == 0 {
				log.Printf("merged %d batches (%d runs, %d MiB spilled), last checksum %x",
					merges, spilled, spilled*runBytes>>20, sum)
			}
		}
	}
}
