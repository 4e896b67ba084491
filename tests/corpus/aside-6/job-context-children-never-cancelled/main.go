// A job runner. Each job gets its own context, carrying the job's request as
// a context value and cancellable so that an abandoned job can be stopped;
// every job context derives from the runner's root context, so shutting the
// runner down cancels them all. The job keeps its cancel function, but only
// the abandon path calls it, never the path where the job completes. A
// context that is never cancelled stays registered in its parent's set of
// children, so the long-lived root keeps every job context ever made, and
// with it the request hanging off it. 1,000 jobs a second; none is abandoned.
package main

import (
	"context"
	"expvar"
	"hash/crc32"
	"log"
	"math/rand/v2"
	"time"
)

var requests = expvar.NewInt("requests")

type requestKey struct{}

// A request is 1,024 bytes and holds no pointers: 8 + 56 + 960.
type request struct {
	id     uint64
	tenant [56]byte
	body   [960]byte
}

type job struct {
	ctx    context.Context
	cancel context.CancelFunc
	crc    uint32
}

func submit(root context.Context, req *request) *job {
	ctx := context.WithValue(root, requestKey{}, req)
	ctx, cancel := context.WithCancel(ctx)
	return &job{ctx: ctx, cancel: cancel, crc: crc32.ChecksumIEEE(req.body[:])}
}

// run does the job. A job whose payload fails its checksum is abandoned and
// its context cancelled; a job that succeeds just returns (bug: without
// calling j.cancel).
func run(j *job) bool {
	if j.ctx.Err() != nil {
		return false
	}
	req := j.ctx.Value(requestKey{}).(*request)
	if crc32.ChecksumIEEE(req.body[:]) != j.crc {
		j.cancel()
		return false
	}
	requests.Add(1)
	return true
}

func main() {
	root, shutdown := context.WithCancel(context.Background())
	defer shutdown()

	rng := rand.New(rand.NewPCG(10, 24))
	tenants := []string{"acme", "globex", "initech", "umbrella", "hooli"}
	var id uint64
	done := 0
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	log.Print("runner: 1,000 jobs/s")
	for i := 1; ; i++ {
		<-tick.C
		for range 10 {
			id++
			req := &request{id: id}
			copy(req.tenant[:], tenants[id%uint64(len(tenants))])
			for k := 0; k < len(req.body); k += 8 {
				v := rng.Uint64()
				for b := range 8 {
					req.body[k+b] = byte(v >> (8 * b))
				}
			}
			if run(submit(root, req)) {
				done++
			}
		}
		if i%500 == 0 {
			log.Printf("jobs done: %d", done)
		}
	}
}
