// The Go Leak Lab probe. The harness adds this file to a main package at build
// time (go build -overlay), so a program is measured without touching its
// source. It does nothing unless LEAKLAB_OUT names a file to write to.
//
// It samples runtime/metrics (never runtime.ReadMemStats, which stops the
// world), process RSS and the program's expvar counters, one JSON object per
// line. When LEAKLAB_DURATION has elapsed, or the harness writes "stop" on
// the pipe LEAKLAB_CONTROL_FD names, it takes the last profiles, writes a
// last record and exits. When that pipe closes (the harness died) it kills
// the program's descendants and the program at once, so nothing it started
// outlives the lab that watches it.
//
// The live heap is only measured by a garbage collection. When the runtime
// has not collected for a while (and the warm-up is over), the probe starts
// one, at most once per 100 times the CPU time of the last one it started,
// and only while the total, the next one counted at twice the last one's
// cost, stays under 1% of a core.
// (Sampling itself costs about 45 us a sample: 0.1% of a core at 20 Hz.)

package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"expvar"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// leaklabMetrics maps the names the harness uses to runtime/metrics names.
// Metrics this toolchain does not have are left out.
var leaklabMetrics = map[string]string{
	"heap_bytes":        "/memory/classes/heap/objects:bytes",
	"live_bytes":        "/gc/heap/live:bytes",
	"heap_objects":      "/gc/heap/objects:objects",
	"goroutines":        "/sched/goroutines:goroutines",
	"gc_cycles":         "/gc/cycles/total:gc-cycles",
	"stack_bytes":       "/memory/classes/heap/stacks:bytes",
	"go_total_bytes":    "/memory/classes/total:bytes",
	"go_released_bytes": "/memory/classes/heap/released:bytes",
	// Mapped, not in use, not returned: it may never have been touched.
	"go_free_bytes":       "/memory/classes/heap/free:bytes",
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
	// The program's children inherit the environment: one that is a probed
	// Go program too must not write here, nor read a pipe it does not have.
	// (LEAKLAB_RUN_ID stays: it marks them as the run's.)
	control := os.Getenv("LEAKLAB_CONTROL_FD")
	os.Unsetenv("LEAKLAB_OUT")
	os.Unsetenv("LEAKLAB_CONTROL_FD")
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
	stop := make(chan struct{})
	if fd, err := strconv.Atoi(control); err == nil {
		syscall.CloseOnExec(fd) // the program's own children must not hold the pipe open
		go leaklabControl(os.NewFile(uintptr(fd), "leaklab-control"), stop)
	}
	p := leaklabNewProbe(bufio.NewWriter(f))
	p.sample() // before main runs: the baseline of memory outside the Go heap
	go p.loop(stop)
}

// leaklabControl closes stop when the harness asks for it, and ends the
// program at once when the harness is gone (the pipe reads end of file).
func leaklabControl(pipe *os.File, stop chan struct{}) {
	buf := make([]byte, 64)
	for {
		n, err := pipe.Read(buf)
		if n > 0 && strings.Contains(string(buf[:n]), "stop") {
			close(stop)
			stop = nil
		}
		if err == io.EOF {
			leaklabEndRun()
		}
		if err != nil {
			return // not the harness's pipe after all: watch no more
		}
	}
}

// leaklabEndRun ends the run when the harness is gone: every process that
// carries the run's mark in its environment (the program's descendants, in
// its session or not: with the harness gone, nobody else would stop those
// that left it), then the program's process group, the program included.
func leaklabEndRun() {
	if mark := os.Getenv("LEAKLAB_RUN_ID"); mark != "" {
		needle, self := []byte("\x00LEAKLAB_RUN_ID="+mark+"\x00"), os.Getpid()
		for round := 0; round < 3; round++ { // one that forked meanwhile is found the next round
			found := false
			entries, _ := os.ReadDir("/proc")
			for _, e := range entries {
				pid, err := strconv.Atoi(e.Name())
				if err != nil || pid == self {
					continue
				}
				env, err := os.ReadFile("/proc/" + e.Name() + "/environ")
				if err == nil && bytes.Contains(append([]byte{0}, env...), needle) {
					syscall.Kill(pid, syscall.SIGKILL)
					found = true
				}
			}
			if !found {
				break
			}
		}
	}
	syscall.Kill(0, syscall.SIGKILL) // the program's own group, itself last
	os.Exit(3)
}

func leaklabSeconds(name string, def float64) time.Duration {
	if v, err := strconv.ParseFloat(os.Getenv(name), 64); err == nil && v >= 0 {
		def = v
	}
	return time.Duration(def * float64(time.Second))
}

type leaklabProbe struct {
	w        *bufio.Writer
	enc      *json.Encoder
	start    time.Time
	names    []string
	samples  []metrics.Sample
	cycles   int // index of gc_cycles in samples, or -1
	lastGC   uint64
	lastSeen time.Time     // when the GC count last changed
	cost     time.Duration // the CPU time the last forced GC took
	quietAt  time.Time     // when the last forced GC ended (or the probe started), and
	quietCPU time.Duration // the process's CPU time then: the program's own rate since
	forced   int
	forcedS  float64
}

func leaklabNewProbe(w *bufio.Writer) *leaklabProbe {
	p := &leaklabProbe{w: w, enc: json.NewEncoder(w), start: time.Now(), cycles: -1}
	p.lastSeen, p.quietAt, p.quietCPU = p.start, p.start, leaklabCPU()
	// Only ask for the metrics this runtime knows, so one probe fits every Go version.
	known := map[string]bool{}
	for _, d := range metrics.All() {
		known[d.Name] = true
	}
	for short, long := range leaklabMetrics {
		if known[long] {
			if short == "gc_cycles" {
				p.cycles = len(p.samples)
			}
			p.names = append(p.names, short)
			p.samples = append(p.samples, metrics.Sample{Name: long})
		}
	}
	p.enc.Encode(map[string]any{"type": "start", "go": runtime.Version(), "pid": os.Getpid(), "metrics": p.names})
	p.w.Flush()
	return p
}

func (p *leaklabProbe) sample() {
	metrics.Read(p.samples)
	rec := map[string]any{"t": time.Since(p.start).Seconds(), "rss_bytes": leaklabRSS(), "vm_bytes": leaklabVM(),
		"forced_gcs": p.forced, "forced_gc_s": p.forcedS, "cpu_s": leaklabCPU().Seconds()}
	for i, s := range p.samples {
		if s.Value.Kind() == metrics.KindUint64 {
			rec[p.names[i]] = s.Value.Uint64()
		}
	}
	if vars := leaklabExpvars(); len(vars) > 0 {
		rec["expvar"] = vars
	}
	p.enc.Encode(rec)
	p.w.Flush()
}

// collect forces a GC when none has run for a while, so that the live heap
// is measured even in a program that allocates too little to trigger one.
// Not in the warm-up, whose points are never judged: the budget it saves is
// spent after it (a start-up's first forced GC cost 5 ms, half of a leaky
// family's budget for its first second).
func (p *leaklabProbe) collect(now time.Time, wait, warmup time.Duration) {
	if p.cycles < 0 {
		return
	}
	if n := p.samples[p.cycles].Value.Uint64(); n != p.lastGC {
		p.lastGC, p.lastSeen = n, now
		return
	}
	if now.Sub(p.start) < warmup {
		return
	}
	if now.Sub(p.lastSeen) < max(wait, 100*p.cost) {
		return
	}
	// A heap that grows makes each collection dearer than the last: keep the
	// total under 1% of a core, counting the next one at twice the last, and
	// spending 0.9%: a fast-growing heap's next one can cost more than twice
	// the last (syncmap/leaky, spending 1%: up to 1.07% in 4 runs of 20).
	// (Counting it at the last one's cost scaled by the heap's growth kept
	// the bound better, but left fast-growing heaps on Go 1.22, whose
	// collections cost more, too few live-heap points in 10 s.)
	if p.forcedS+2*p.cost.Seconds() > 0.009*now.Sub(p.start).Seconds() {
		return
	}
	// The cost is the CPU time the process used from the start of the
	// collection until 5 ms after its mark ended (the sweep and the threads
	// it woke run then), less what the program's own work used meanwhile (its
	// CPU rate since the last forced one). The smaller of the runtime's GC CPU
	// estimate and the CPU used meanwhile is the floor.
	cpu := []metrics.Sample{{Name: "/cpu/classes/gc/total:cpu-seconds"}}
	metrics.Read(cpu)
	began, before, used := time.Now(), cpu[0].Value, leaklabCPU()
	if !p.trigger() {
		runtime.GC()
	}
	time.Sleep(5 * time.Millisecond)
	wall, after := time.Since(began), leaklabCPU()
	p.cost = wall // with no CPU measure: the wall time
	if used >= 0 && after >= used {
		p.cost = after - used
		if p.quietCPU >= 0 && began.After(p.quietAt) {
			rate := float64(used-p.quietCPU) / float64(began.Sub(p.quietAt))
			p.cost -= time.Duration(max(0, rate) * float64(wall))
		}
	}
	if before.Kind() == metrics.KindFloat64 {
		metrics.Read(cpu)
		gc := time.Duration((cpu[0].Value.Float64() - before.Float64()) * float64(time.Second))
		if used < 0 {
			p.cost = gc
		} else {
			p.cost = max(p.cost, min(gc, after-used))
		}
	}
	p.quietAt, p.quietCPU = time.Now(), leaklabCPU()
	p.forced++
	p.forcedS += p.cost.Seconds()
	p.lastSeen = time.Now()
}

var leaklabSink []byte

// trigger starts a collection as an allocation does and waits for its mark
// to end, which is when the live heap is measured. runtime.GC also waits for
// the sweep, yielding in a loop until it ends, each yield waking another
// thread: with two cores that costs 2.5-4 ms of CPU for a 1 MiB heap (0.2 ms
// with one), and this 1.2-1.5 ms, all it wakes included (measured with
// getrusage against the same program not collecting). GOGC is lowered to 0
// for one allocation, then turned off, which waits for the mark in progress,
// then restored: a program setting GOGC meanwhile would see its setting
// undone. Reports whether a collection ran.
func (p *leaklabProbe) trigger() bool {
	prev := debug.SetGCPercent(0)
	leaklabSink = make([]byte, 40<<10) // a large object: its allocation checks the trigger
	leaklabSink = nil
	debug.SetGCPercent(-1)
	debug.SetGCPercent(prev)
	metrics.Read(p.samples[p.cycles : p.cycles+1])
	return p.samples[p.cycles].Value.Uint64() != p.lastGC
}

func (p *leaklabProbe) loop(stop chan struct{}) {
	interval := leaklabSeconds("LEAKLAB_INTERVAL", 0.05)
	duration := leaklabSeconds("LEAKLAB_DURATION", 0)
	warmup := leaklabSeconds("LEAKLAB_WARMUP", 1)
	// With no collection for 50 ms (or 100 times the CPU the last one took),
	// force one: a small heap then gives a live-heap point at most samples.
	gcWait := leaklabSeconds("LEAKLAB_GC_WAIT", 0.05)
	profiles := os.Getenv("LEAKLAB_PROFILE_DIR")

	tick := time.NewTicker(interval)
	profiled := profiles == ""
	for running := true; running; {
		var now time.Time
		select {
		case now = <-tick.C:
		case <-stop:
			now, running = time.Now(), false
		}
		p.sample()
		if os.Getenv("LEAKLAB_FORCE_GC") != "0" {
			p.collect(now, gcWait, warmup)
		}
		if !profiled && now.Sub(p.start) >= warmup {
			leaklabProfile(profiles, "heap-start.txt", "heap", 1)
			leaklabProfile(profiles, "goroutines-start.txt", "goroutine", 2)
			profiled = true
		}
		if duration > 0 && now.Sub(p.start) >= duration {
			running = false
		}
	}
	if profiles != "" {
		leaklabProfile(profiles, "heap-end.txt", "heap", 1)
		leaklabProfile(profiles, "goroutines.txt", "goroutine", 2)
		leaklabProfile(profiles, "goroutineleak.txt", "goroutineleak", 1)
	}
	p.enc.Encode(map[string]any{"type": "end", "t": time.Since(p.start).Seconds()})
	p.w.Flush()
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

// leaklabCPU is the CPU time the process has used (user and system), or -1.
func leaklabCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return -1
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
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

// leaklabVM adds up the address space mapped with some access, from
// /proc/self/maps. Reservations with no access (---p: the runtime's and
// glibc's arenas before they are used) are left out, so this grows when an
// allocator takes more memory and stays put while a program writes into a
// mapping it already has. Thread stacks are left out too: a new thread maps
// one (8 MiB under the usual stack limit), which is not the program's memory
// growing. A pthread stack is an anonymous read-write region right above its
// guard, a small no-access region at the adjacent lower address.
func leaklabVM() uint64 {
	b, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return 0
	}
	var total, guardEnd uint64
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		// address perms offset dev inode [path], without allocating: the
		// probe's garbage would be the measured program's.
		span, rest, _ := bytes.Cut(line, []byte{' '})
		perms, rest, _ := bytes.Cut(rest, []byte{' '})
		_, rest, _ = bytes.Cut(rest, []byte{' '}) // offset
		_, rest, _ = bytes.Cut(rest, []byte{' '}) // device
		inode, path, _ := bytes.Cut(rest, []byte{' '})
		anonymous := string(inode) == "0" && len(bytes.TrimSpace(path)) == 0
		lo, hi, _ := bytes.Cut(span, []byte{'-'})
		start, err1 := strconv.ParseUint(string(lo), 16, 64)
		end, err2 := strconv.ParseUint(string(hi), 16, 64)
		if err1 != nil || err2 != nil || end <= start {
			continue
		}
		switch {
		case bytes.HasPrefix(perms, []byte("---")):
			guardEnd = 0
			if end-start <= 64<<10 {
				guardEnd = end
			}
			continue
		case anonymous && start == guardEnd && bytes.HasPrefix(perms, []byte("rw")):
			guardEnd = 0
			continue // a thread's stack
		}
		guardEnd = 0
		total += end - start
	}
	return total
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
