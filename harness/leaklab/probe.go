// The Go Leak Lab probe. The harness adds this file to a main package at build
// time (go build -overlay), so a program is measured without touching its
// source. It does nothing unless LEAKLAB_OUT names a file to write to.
//
// It samples runtime/metrics (never runtime.ReadMemStats, which stops the
// world), process RSS and the program's expvar counters, one JSON object per
// line. When LEAKLAB_DURATION has elapsed it writes a last record and exits.

package main

import (
	"bufio"
	"encoding/json"
	"expvar"
	"os"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"
)

// leaklabMetrics maps the names the harness uses to runtime/metrics names.
// Metrics this toolchain does not have are left out.
var leaklabMetrics = map[string]string{
	"heap_bytes":          "/memory/classes/heap/objects:bytes",
	"live_bytes":          "/gc/heap/live:bytes",
	"heap_objects":        "/gc/heap/objects:objects",
	"goroutines":          "/sched/goroutines:goroutines",
	"gc_cycles":           "/gc/cycles/total:gc-cycles",
	"stack_bytes":         "/memory/classes/heap/stacks:bytes",
	"go_total_bytes":      "/memory/classes/total:bytes",
	"go_released_bytes":   "/memory/classes/heap/released:bytes",
	"finalizers_queued":   "/gc/finalizers/queued:finalizers",
	"finalizers_executed": "/gc/finalizers/executed:finalizers",
	"cleanups_queued":     "/gc/cleanups/queued:cleanups",
	"cleanups_executed":   "/gc/cleanups/executed:cleanups",
	// What the program did, for leaklab check: a "fix" that counts requests
	// without doing their work allocates nothing and calls no C.
	"alloc_bytes": "/gc/heap/allocs:bytes",
	"cgo_calls":   "/cgo/go-to-c-calls:calls",
}

func init() {
	path := os.Getenv("LEAKLAB_OUT")
	if path == "" {
		return
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		println("leaklab probe:", err.Error())
		os.Exit(97)
	}
	// Heap profiles sample one allocation per 512 KiB by default: too coarse to
	// tell a few MiB of growth from sampling noise in a run of seconds.
	if os.Getenv("LEAKLAB_PROFILE_DIR") != "" {
		runtime.MemProfileRate = 16 << 10
	}
	go leaklabLoop(bufio.NewWriter(f))
}

func leaklabSeconds(name string, def float64) time.Duration {
	if v, err := strconv.ParseFloat(os.Getenv(name), 64); err == nil && v >= 0 {
		def = v
	}
	return time.Duration(def * float64(time.Second))
}

func leaklabLoop(w *bufio.Writer) {
	start := time.Now()
	interval := leaklabSeconds("LEAKLAB_INTERVAL", 0.05)
	duration := leaklabSeconds("LEAKLAB_DURATION", 0)
	warmup := leaklabSeconds("LEAKLAB_WARMUP", 1)
	profiles := os.Getenv("LEAKLAB_PROFILE_DIR")

	// Only ask for the metrics this runtime knows, so one probe fits every Go version.
	known := map[string]bool{}
	for _, d := range metrics.All() {
		known[d.Name] = true
	}
	var names []string
	var samples []metrics.Sample
	for short, long := range leaklabMetrics {
		if known[long] {
			names = append(names, short)
			samples = append(samples, metrics.Sample{Name: long})
		}
	}
	enc := json.NewEncoder(w)
	enc.Encode(map[string]any{"type": "start", "go": runtime.Version(), "pid": os.Getpid(),
		"interval_s": interval.Seconds(), "metrics": names})
	w.Flush()

	sample := func() {
		metrics.Read(samples)
		rec := map[string]any{"t": time.Since(start).Seconds(), "rss_bytes": leaklabRSS()}
		for i, s := range samples {
			if s.Value.Kind() == metrics.KindUint64 {
				rec[names[i]] = s.Value.Uint64()
			}
		}
		if vars := leaklabExpvars(); len(vars) > 0 {
			rec["expvar"] = vars
		}
		enc.Encode(rec)
		w.Flush()
	}

	tick := time.NewTicker(interval)
	profiled := profiles == ""
	for now := range tick.C {
		sample()
		if !profiled && now.Sub(start) >= warmup {
			leaklabProfile(profiles, "heap-start.txt", "heap", 1)
			leaklabProfile(profiles, "goroutines-start.txt", "goroutine", 2)
			profiled = true
		}
		if duration > 0 && now.Sub(start) >= duration {
			break
		}
	}
	if profiles != "" {
		leaklabProfile(profiles, "heap-end.txt", "heap", 1)
		leaklabProfile(profiles, "goroutines.txt", "goroutine", 2)
		leaklabProfile(profiles, "goroutineleak.txt", "goroutineleak", 1)
	}
	enc.Encode(map[string]any{"type": "end", "t": time.Since(start).Seconds()})
	w.Flush()
	os.Exit(0)
}

// leaklabProfile writes one pprof profile as text (debug 1 or 2) after a GC,
// so the heap profile shows what is still reachable. The heap's text form
// gives, per stack, the sampled objects and bytes in use and each frame's
// file:line, and ends with the time of that GC (# LastGC), which dates the
// snapshot. Profiles this toolchain lacks are skipped.
func leaklabProfile(dir, file, name string, debug int) {
	p := pprof.Lookup(name)
	if p == nil {
		return
	}
	runtime.GC()
	f, err := os.Create(dir + "/" + file)
	if err != nil {
		return
	}
	defer f.Close()
	p.WriteTo(f, debug)
}

// leaklabRSS reads the resident set size from /proc/self/statm (pages).
func leaklabRSS() uint64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	fields := strings.Fields(string(b))
	if len(fields) < 2 {
		return 0
	}
	pages, _ := strconv.ParseUint(fields[1], 10, 64)
	return pages * uint64(os.Getpagesize())
}

// leaklabExpvars collects the numbers the program publishes with expvar.
// Functions (memstats, cmdline) are skipped: memstats would stop the world.
func leaklabExpvars() map[string]any {
	vars := map[string]any{}
	expvar.Do(func(kv expvar.KeyValue) {
		switch v := kv.Value.(type) {
		case *expvar.Int:
			vars[kv.Key] = v.Value()
		case *expvar.Float:
			vars[kv.Key] = v.Value()
		}
	})
	return vars
}
