// A fleet prober. Once a second it sweeps every host currently registered,
// one goroutine per host, each running a (simulated) health check that takes
// 20-300 ms, and waits for all of them before the next sweep. The fleet is
// autoscaled, so each sweep sees a different number of hosts, anywhere from
// 100 to 400. The goroutine count jumps by hundreds and falls back to a
// handful every second, but every probe finishes.
package main

import (
	"log"
	"math/rand/v2"
	"sync"
	"time"
)

type result struct {
	host    int
	healthy bool
	latency time.Duration
}

// probe pretends to check one host.
func probe(host int, d time.Duration) result {
	time.Sleep(d)
	return result{host: host, healthy: host%17 != 0, latency: d}
}

// sweep probes hosts concurrently and returns how many were healthy.
func sweep(hosts int, rng *rand.Rand) int {
	results := make([]result, hosts)
	var wg sync.WaitGroup
	for h := range hosts {
		d := 20*time.Millisecond + time.Duration(rng.IntN(280))*time.Millisecond
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[h] = probe(h, d)
		}()
	}
	wg.Wait()
	healthy := 0
	for _, r := range results {
		if r.healthy {
			healthy++
		}
	}
	return healthy
}

func main() {
	rng := rand.New(rand.NewPCG(11, 23))
	log.Println("prober: one sweep per second over 100-400 hosts")
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for n := 1; ; n++ {
		hosts := 100 + rng.IntN(301) // the autoscaler's current fleet size
		healthy := sweep(hosts, rng)
		if n%10 == 0 {
			log.Printf("sweep %d: %d/%d healthy", n, healthy, hosts)
		}
		<-tick.C
	}
}
