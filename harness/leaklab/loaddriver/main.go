// Command leaklab-load sends HTTP requests at a steady rate to a program that
// Go Leak Lab measures, and writes what happened as JSON lines.
//
// The requests are vegeta's (github.com/tsenart/vegeta/v12/lib): an open
// model, so a slow server gets the requests it is due and its latency shows,
// instead of being asked less. Only loopback addresses are dialled, no proxy
// is used and no redirect is followed.
//
// It first asks every target until each answers (any HTTP status), writes a
// "ready" record, and then attacks them in turn at -rate requests a second,
// writing the counts every -every. A "stop" line on stdin, or its end of file
// (the lab is gone), ends the attack; the last record holds the latencies.
// Times are CLOCK_MONOTONIC seconds, the clock the lab reads too.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
	"golang.org/x/sys/unix"
)

type urls []string

func (u *urls) String() string     { return strings.Join(*u, " ") }
func (u *urls) Set(s string) error { *u = append(*u, s); return nil }

// A writer of JSON lines, shared by the counting and the attacking goroutines.
type out struct {
	mu  sync.Mutex
	enc *json.Encoder
	w   *bufio.Writer
}

func (o *out) write(rec map[string]any) {
	o.mu.Lock()
	defer o.mu.Unlock()
	rec["mono"] = mono()
	o.enc.Encode(rec)
	o.w.Flush()
}

func mono() float64 {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return float64(ts.Sec) + float64(ts.Nsec)/1e9
}

// loopbackOnly refuses to connect anywhere but this machine's loopback, so a
// name that resolves elsewhere, or a redirect, cannot take the load off it.
func loopbackOnly(network, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("leaklab-load sends requests only to loopback addresses, not %s", address)
	}
	return nil
}

// client dials at most maxConns connections to each host: a server keeps
// buffers for every connection it has open, and a load generator that opens
// more whenever answers are slow (vegeta adds a worker each time all are
// busy) would grow the server's memory with its own latency, which a verdict
// could read as memory kept per request.
func client(timeout time.Duration, maxConns int) *http.Client {
	dialer := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second, Control: loopbackOnly}
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			Proxy:               nil,
			DialContext:         dialer.DialContext,
			MaxIdleConnsPerHost: maxConns,
			MaxConnsPerHost:     maxConns,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// ready asks each target until it answers, or stop closes; it returns the
// status each target first answered with, and writes each first answer.
func ready(o *out, targets []string, stop <-chan struct{}) (map[string]int, bool) {
	c := client(time.Second, 1)
	seen := map[string]int{}
	for len(seen) < len(targets) {
		for _, t := range targets {
			if _, ok := seen[t]; ok {
				continue
			}
			if resp, err := c.Get(t); err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				seen[t] = resp.StatusCode
				o.write(map[string]any{"type": "answered", "url": t, "status": resp.StatusCode})
			}
		}
		select {
		case <-stop:
			return seen, false
		case <-time.After(20 * time.Millisecond):
		}
	}
	return seen, true
}

func main() {
	var targets urls
	flag.Var(&targets, "target", "a loopback URL to send GET requests to (repeatable)")
	rate := flag.Int("rate", 200, "requests per second, over all targets")
	timeout := flag.Duration("timeout", 2*time.Second, "how long a request may take before it counts as failed")
	every := flag.Duration("every", 50*time.Millisecond, "how often the counts are written")
	outPath := flag.String("out", "", "the file to append JSON lines to")
	maxWorkers := flag.Uint64("max-workers", 1000, "at most this many requests in flight")
	maxConns := flag.Int("max-conns", 8, "at most this many connections to each host")
	flag.Parse()
	if len(targets) == 0 || *rate < 1 || *outPath == "" {
		fmt.Fprintln(os.Stderr, "usage: leaklab-load -out FILE -rate N -target URL [-target URL...]")
		os.Exit(2)
	}
	for _, t := range targets {
		u, err := url.Parse(t)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Port() == "" && u.Hostname() == "" {
			fmt.Fprintf(os.Stderr, "leaklab-load: %q is not an http:// URL\n", t)
			os.Exit(2)
		}
	}
	f, err := os.OpenFile(*outPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		fmt.Fprintln(os.Stderr, "leaklab-load:", err)
		os.Exit(2)
	}
	w := bufio.NewWriter(f)
	o := &out{enc: json.NewEncoder(w), w: w}
	o.write(map[string]any{"type": "start", "targets": []string(targets), "rate": *rate})

	// The lab says "stop", or goes away: either way the attack ends.
	stop := make(chan struct{})
	go func() {
		in := bufio.NewScanner(os.Stdin)
		for in.Scan() && strings.TrimSpace(in.Text()) != "stop" {
		}
		close(stop)
	}()

	status, ok := ready(o, targets, stop)
	if !ok {
		o.write(map[string]any{"type": "end", "ready": false, "answered_before": status})
		return
	}
	o.write(map[string]any{"type": "ready", "status": status})

	// Each call of the targeter is a request about to be sent.
	var sent, answered, failed atomic.Uint64
	var lastError atomic.Value
	lastError.Store("")
	var tgts []vegeta.Target
	for _, t := range targets {
		tgts = append(tgts, vegeta.Target{Method: "GET", URL: t})
	}
	next := vegeta.NewStaticTargeter(tgts...)
	targeter := func(t *vegeta.Target) error {
		sent.Add(1)
		return next(t)
	}
	attacker := vegeta.NewAttacker(vegeta.Client(client(*timeout, *maxConns)), vegeta.MaxBody(0),
		vegeta.MaxWorkers(*maxWorkers), vegeta.Redirects(vegeta.NoFollow))
	results := attacker.Attack(targeter, vegeta.ConstantPacer{Freq: *rate, Per: time.Second}, 0, "leaklab")
	go func() {
		<-stop
		attacker.Stop()
	}()

	counts := func(kind string) map[string]any {
		return map[string]any{"type": kind, "sent": sent.Load(), "answered": answered.Load(), "failed": failed.Load(),
			"last_error": lastError.Load()}
	}
	finished := make(chan struct{})
	go func() {
		tick := time.NewTicker(*every)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				o.write(counts("counts"))
			case <-finished:
				return
			}
		}
	}()

	var m vegeta.Metrics
	errs := map[string]int{}
	for res := range results {
		m.Add(res)
		if res.Code >= 200 && res.Code < 400 {
			answered.Add(1)
		} else {
			failed.Add(1)
			// Messages can name a connection's own port: keep the first few kinds only.
			if _, ok := errs[res.Error]; ok || len(errs) < 20 {
				errs[res.Error]++
			} else {
				errs["(other errors)"]++
			}
			lastError.Store(res.Error)
		}
	}
	close(finished)
	m.Close()
	ms := func(d time.Duration) float64 { return d.Seconds() * 1000 }
	end := counts("end")
	end["ready"] = true
	end["latency_ms"] = map[string]float64{"mean": ms(m.Latencies.Mean), "p50": ms(m.Latencies.P50),
		"p90": ms(m.Latencies.P90), "p99": ms(m.Latencies.P99), "max": ms(m.Latencies.Max)}
	end["status_codes"] = m.StatusCodes
	end["errors"] = errs
	end["sent_per_s"] = m.Rate
	o.write(end)
}
