// A usage-metering service whose workers keep per-tenant counters in maps that
// are created when a tenant is provisioned. A tenant that was never
// provisioned starts sending events about 1.5 s in; the worker writes into its
// nil map and the process dies with "assignment to entry in nil map".
package main

import (
	"log"
	"strconv"
	"sync"
	"time"
)

type usage struct {
	mu      sync.Mutex
	tenants map[string]map[string]int
}

func (u *usage) provision(tenant string) {
	u.mu.Lock()
	u.tenants[tenant] = make(map[string]int)
	u.mu.Unlock()
}

func (u *usage) record(tenant, meter string, n int) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.tenants[tenant][meter] += n
}

type event struct {
	tenant, meter string
	n             int
}

func main() {
	u := &usage{tenants: make(map[string]map[string]int)}
	for i := range 20 {
		u.provision("tenant-" + strconv.Itoa(i))
	}
	events := make(chan event, 128)
	for range 4 {
		go func() {
			for ev := range events {
				u.record(ev.tenant, ev.meter, ev.n)
			}
		}()
	}
	log.Println("metering: 200 events/s from 20 tenants")
	start := time.Now()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for n := 0; ; n++ {
		now := <-tick.C
		tenant := "tenant-" + strconv.Itoa(n%20)
		if now.Sub(start) > 1500*time.Millisecond && n%7 == 0 {
			tenant = "tenant-trial-" + strconv.Itoa(n)
		}
		events <- event{tenant: tenant, meter: "api_calls", n: 1}
	}
}
