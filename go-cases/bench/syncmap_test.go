// sync.Map against a map guarded by a sync.RWMutex, for several mixes of
// reads and writes and several numbers of keys. The lab runs it with
// `leaklab bench` and plots where one overtakes the other on this machine.
package bench

import (
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// The two maps behind one small interface: Load and Store of int keys.
type store interface {
	Load(k int) (int, bool)
	Store(k, v int)
}

type rwMap struct {
	mu sync.RWMutex
	m  map[int]int
}

func (s *rwMap) Load(k int) (int, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	v, ok := s.m[k]
	return v, ok
}

func (s *rwMap) Store(k, v int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[k] = v
}

type syncMap struct{ m sync.Map }

func (s *syncMap) Load(k int) (int, bool) {
	v, ok := s.m.Load(k)
	if !ok {
		return 0, false
	}
	return v.(int), true
}

func (s *syncMap) Store(k, v int) { s.m.Store(k, v) }

// Write ratios in percent, and key counts: a small hot set and a larger one.
var (
	writePercents = []int{0, 1, 5, 10, 25, 50, 100}
	keyCounts     = []int{100, 10000}
)

// Every goroutine of RunParallel draws keys and read-or-write choices from
// its own xorshift generator, so the benchmark measures the maps, not a
// shared random source.
func mix(b *testing.B, s store, keys, writes int) {
	for k := 0; k < keys; k++ {
		s.Store(k, k)
	}
	var seed atomic.Uint64
	b.ResetTimer()
	began, cpu := time.Now(), cpuTime()
	defer func() {
		// How many cores the run really had: on a machine busy with other
		// programs the goroutines take turns, nothing contends, and the
		// comparison says little about either map.
		if wall := time.Since(began); wall > 0 {
			b.ReportMetric(float64(cpuTime()-cpu)/float64(wall), "cores")
		}
	}()
	b.RunParallel(func(pb *testing.PB) {
		x := seed.Add(0x9E3779B97F4A7C15)
		for pb.Next() {
			x ^= x << 13
			x ^= x >> 7
			x ^= x << 17
			k := int(x % uint64(keys))
			if int(x>>32%100) < writes {
				s.Store(k, k)
			} else {
				s.Load(k)
			}
		}
	})
}

// cpuTime is the CPU time this process has used so far, in user and kernel mode.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Sub-benchmarks are named keys=N/writes=P%/IMPL, so `-bench` can pick any
// slice of the grid, e.g. -bench 'Maps/keys=100/'.
func BenchmarkMaps(b *testing.B) {
	for _, keys := range keyCounts {
		for _, w := range writePercents {
			b.Run(fmt.Sprintf("keys=%d/writes=%d%%/sync.Map", keys, w), func(b *testing.B) {
				mix(b, &syncMap{}, keys, w)
			})
			b.Run(fmt.Sprintf("keys=%d/writes=%d%%/RWMutex", keys, w), func(b *testing.B) {
				mix(b, &rwMap{m: map[int]int{}}, keys, w)
			})
		}
	}
}
