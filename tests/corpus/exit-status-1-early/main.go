// An order-service process that validates its settings while it connects to
// its dependencies. The built-in listen address is malformed, which it only
// notices after the half-second connection phase; it then logs the error and
// exits with status 1.
package main

import (
	"log"
	"net"
	"os"
	"time"
)

type settings struct {
	listen   string
	database string
	cacheMiB int
}

var defaults = settings{listen: "127.0.0.1:8080:80", database: "postgres://orders@127.0.0.1/orders", cacheMiB: 64}

func connectDependencies(s settings) []byte {
	cache := make([]byte, s.cacheMiB<<20)
	for i := 0; i < len(cache); i += 4096 {
		cache[i] = 1
	}
	time.Sleep(500 * time.Millisecond) // database and cache handshakes
	return cache
}

func main() {
	s := defaults
	log.Printf("orders: starting, database %s", s.database)
	cache := connectDependencies(s)
	if _, _, err := net.SplitHostPort(s.listen); err != nil {
		log.Printf("orders: bad listen address %q: %v", s.listen, err)
		os.Exit(1)
	}
	log.Printf("orders: ready with %d MiB cache", len(cache)>>20)
	select {}
}
