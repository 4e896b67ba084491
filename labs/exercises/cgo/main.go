// Memory taken with C.malloc leaks when it is never handed to C.free: the
// Go garbage collector does not know it exists, so only the process size
// shows it growing.
package main

/*
#include <stdlib.h>
#include <string.h>
*/
import "C"

import (
	"expvar"
	"time"
	"unsafe"
)

// The counter shows how much work was done, so a flat process size can be
// told apart from a program that simply stopped working.
var requests = expvar.NewInt("requests")

// Messages live in C memory, where a C library can keep them, and which
// Go's collector neither scans nor frees.
const size = 16 << 10

// Each request builds a message and reads a byte of it back. It fills every
// byte, because pages that are never touched do not cost a process memory.
func handle(id int) byte {
	p := C.malloc(size)
	// TODO(you): nothing ever gives this C memory back. Go's collector will
	// not do it for you.
	C.memset(p, C.int(id), size)
	msg := unsafe.Slice((*byte)(p), size)
	requests.Add(1)
	return msg[id%size]
}

// Requests arrive at a steady pace, one every millisecond, so the program
// does the same work per second on a busy or an idle machine.
func main() {
	id := 0
	for range time.Tick(time.Millisecond) {
		id++
		handle(id)
	}
}
