// A payment gateway that speaks a line protocol over TCP: each CHARGE line is
// parsed, settled and answered with OK. Every settled charge is filed as a
// 256-byte receipt in an in-memory ledger for the end-of-day reconciliation,
// a job that was never written, so the ledger only grows. A loopback client
// sends 400 charges a second over one connection.
package main

import (
	"bufio"
	"errors"
	"expvar"
	"fmt"
	"log"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"
)

var requests = expvar.NewInt("requests")

// A receipt is 256 bytes and holds no pointers: 16 + 8 + 8 + 8 + 216.
type receipt struct {
	id      [16]byte
	account uint64
	cents   int64
	settled int64
	memo    [216]byte
}

// The ledger keeps every receipt ever settled, in order.
var (
	mu     sync.Mutex
	ledger []*receipt
)

// settle turns "CHARGE <id> <account> <cents> <memo>" into a receipt.
func settle(fields []string) (*receipt, error) {
	if len(fields) != 5 || fields[0] != "CHARGE" {
		return nil, errors.New("want CHARGE <id> <account> <cents> <memo>")
	}
	account, err := strconv.ParseUint(fields[2], 10, 64)
	if err != nil {
		return nil, err
	}
	cents, err := strconv.ParseInt(fields[3], 10, 64)
	if err != nil {
		return nil, err
	}
	r := &receipt{account: account, cents: cents, settled: time.Now().UnixNano()}
	copy(r.id[:], fields[1])
	copy(r.memo[:], fields[4])
	return r, nil
}

// serve answers one line per charge until the client hangs up.
func serve(conn net.Conn) {
	defer conn.Close()
	in := bufio.NewScanner(conn)
	out := bufio.NewWriter(conn)
	for in.Scan() {
		r, err := settle(strings.Fields(in.Text()))
		if err != nil {
			fmt.Fprintf(out, "ERR %v\n", err)
		} else {
			mu.Lock()
			ledger = append(ledger, r)
			mu.Unlock()
			requests.Add(1)
			fmt.Fprintf(out, "OK %x\n", r.id[:6])
		}
		if out.Flush() != nil {
			return
		}
	}
}

func main() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				log.Fatal(err)
			}
			go serve(conn)
		}
	}()
	log.Printf("gateway on %s", ln.Addr())

	// The client: four charges every 10 ms, each waiting for its answer.
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		log.Fatal(err)
	}
	in := bufio.NewReader(conn)
	out := bufio.NewWriter(conn)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for n := 1; ; {
		<-tick.C
		for range 4 {
			fmt.Fprintf(out, "CHARGE ch_%012d %d %d order-%d/customer-%d\n",
				n, 100000+n%7919, 199+(n*37)%50000, n, n%7919)
			if err := out.Flush(); err != nil {
				log.Fatal(err)
			}
			if _, err := in.ReadString('\n'); err != nil {
				log.Fatal(err)
			}
			n++
		}
		if n%4000 == 1 {
			mu.Lock()
			log.Printf("ledger: %d receipts", len(ledger))
			mu.Unlock()
		}
	}
}
