// A finalizer that frees C memory can run while C is still reading that
// memory: once Go code no longer uses the owning object, the collector may
// reclaim it in the middle of the C call. Nothing leaks and nothing
// crashes; C silently reads freed memory. runtime.KeepAlive prevents it.
//
// This is the fixed variant: runtime.KeepAlive(b) after the C call.
package main

/*
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

// The C library takes a moment before it reads the buffer (it waits for a
// device, say), then adds up its bytes.
static long checksum(const unsigned char *p, int n) {
	usleep(200);
	long sum = 0;
	for (int i = 0; i < n; i++) sum += p[i];
	return sum;
}
*/
import "C"

import (
	"expvar"
	"runtime"
	"time"
	"unsafe"
)

// The program counts its C calls and the answers that were wrong, because
// neither the heap nor the process size can show corrupted data.
var (
	requests = expvar.NewInt("requests")
	wrong    = expvar.NewInt("wrong")
)

// A Buffer owns C memory and frees it in a finalizer, a common way to tie
// C memory to a Go object.
type Buffer struct {
	p *C.uchar
	n C.int
}

const size = 256

func NewBuffer() *Buffer {
	b := &Buffer{p: (*C.uchar)(C.malloc(size)), n: size}
	C.memset(unsafe.Pointer(b.p), 1, size)
	runtime.SetFinalizer(b, func(b *Buffer) { C.free(unsafe.Pointer(b.p)) })
	return b
}

// runtime.KeepAlive(b) is a use of b after the C call returns, so b, and
// the C memory its finalizer would free, lives until then.
func (b *Buffer) Checksum() int {
	sum := int(C.checksum(b.p, b.n))
	runtime.KeepAlive(b)
	return sum
}

// Each request fills a buffer with ones and checks that C counts them all.
func handle() {
	b := NewBuffer()
	if b.Checksum() != size {
		wrong.Add(1)
	}
	requests.Add(1)
}

// The other work's latest allocation; the previous one is garbage.
var garbage []byte

// Requests arrive every millisecond while other work keeps allocating, so
// the collector runs often, as in any busy server.
func main() {
	go func() {
		for {
			garbage = make([]byte, 256<<10)
			time.Sleep(10 * time.Microsecond)
		}
	}()
	for range time.Tick(time.Millisecond) {
		go handle()
	}
}
