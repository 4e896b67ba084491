// A log pipeline that parses 1,000 batches of 64 lines a second into
// short-lived key=value maps and, for each batch, files one 512-byte summary
// in a global index "so batches can be looked up later". Nothing ever removes
// an entry from the index.
package main

import (
	"fmt"
	"log"
	"strings"
	"time"
)

const linesPerBatch = 64

type batchSummary struct {
	seq    uint64
	first  int64
	last   int64
	bytes  uint64
	levels [8]uint32
	sample [448]byte // the batch's first line, for display
}

// index holds every batch summary ever made, in sequence order.
var index []*batchSummary

var levelNames = []string{"debug", "info", "info", "info", "warn", "error"}

func levelOf(s string) int {
	switch s {
	case "debug":
		return 0
	case "info":
		return 1
	case "warn":
		return 2
	case "error":
		return 3
	}
	return 7
}

// parse splits a line into its key=value fields.
func parse(line string) map[string]string {
	fields := make(map[string]string)
	for _, f := range strings.Fields(line) {
		if k, v, ok := strings.Cut(f, "="); ok {
			fields[k] = v
		}
	}
	return fields
}

func processBatch(seq uint64, now time.Time) *batchSummary {
	s := &batchSummary{seq: seq, first: now.UnixNano()}
	for i := range linesPerBatch {
		n := seq*linesPerBatch + uint64(i)
		line := fmt.Sprintf("ts=%d level=%s src=api-%d req=%016x dur=%dus msg=handled",
			now.UnixNano()+int64(i), levelNames[n%uint64(len(levelNames))], n%16, n*2654435761, n%5000)
		fields := parse(line)
		s.levels[levelOf(fields["level"])]++
		s.bytes += uint64(len(line))
		if i == 0 {
			copy(s.sample[:], line)
		}
	}
	s.last = time.Now().UnixNano()
	return s
}

func main() {
	log.Println("pipeline: 1,000 batches/s of 64 lines")
	var seq uint64
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for now := range tick.C {
		for range 10 {
			seq++
			index = append(index, processBatch(seq, now))
		}
	}
}
