// A batch scheduler whose working set follows the jobs it holds: every 300 to
// 800 ms it picks a new load level and grows or shrinks its set of 1 MiB job
// buffers to match, anywhere between 10 and 60 MiB. Levels are drawn
// independently from a seeded generator, so they jump around without drift.
package main

import (
	"log"
	"math/rand/v2"
	"time"
)

const bufSize = 1 << 20

type scheduler struct {
	rng  *rand.Rand
	jobs [][]byte
}

func (s *scheduler) resize(target int) {
	for len(s.jobs) > target {
		s.jobs[len(s.jobs)-1] = nil
		s.jobs = s.jobs[:len(s.jobs)-1]
	}
	for len(s.jobs) < target {
		b := make([]byte, bufSize)
		for i := 0; i < len(b); i += 4096 {
			b[i] = byte(len(s.jobs))
		}
		s.jobs = append(s.jobs, b)
	}
}

func main() {
	s := &scheduler{rng: rand.New(rand.NewPCG(20240611, 7))}
	log.Println("scheduler: working set between 10 and 60 MiB")
	for {
		target := 10 + s.rng.IntN(51)
		s.resize(target)
		time.Sleep(time.Duration(300+s.rng.IntN(501)) * time.Millisecond)
	}
}
