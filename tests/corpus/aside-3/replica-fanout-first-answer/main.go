// A price lookup that asks three replicas at once and takes the first answer,
// 20 lookups a second. The replicas reply on an unbuffered channel, so once
// the caller has its answer and returns, the two slower replicas block on
// their send forever.
package main

import (
	"errors"
	"log"
	"math/rand/v2"
	"time"
)

type quote struct {
	replica int
	sku     string
	cents   int
}

var replicaDelay = []time.Duration{2 * time.Millisecond, 4 * time.Millisecond, 6 * time.Millisecond}

func askReplica(replica int, sku string, jitter time.Duration) quote {
	time.Sleep(replicaDelay[replica] + jitter)
	return quote{replica: replica, sku: sku, cents: 1999 + 100*len(sku)}
}

// firstQuote returns the fastest replica's answer.
func firstQuote(sku string, rng *rand.Rand) (quote, error) {
	answers := make(chan quote) // bug: should have room for every replica
	for r := range replicaDelay {
		jitter := time.Duration(rng.IntN(1000)) * time.Microsecond
		go func() {
			answers <- askReplica(r, sku, jitter)
		}()
	}
	select {
	case q := <-answers:
		return q, nil
	case <-time.After(time.Second):
		return quote{}, errors.New("all replicas timed out")
	}
}

func main() {
	rng := rand.New(rand.NewPCG(3, 7))
	log.Println("pricing: 20 lookups/s over 3 replicas")
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	wins := make([]int, len(replicaDelay))
	for n := 0; ; n++ {
		<-tick.C
		q, err := firstQuote("sku-"+string(rune('a'+n%26)), rng)
		if err != nil {
			log.Print(err)
			continue
		}
		wins[q.replica]++
	}
}
