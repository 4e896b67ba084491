// Objects that point at each other leak once they carry a finalizer: a
// finalizer is handed its object, so the collector must keep alive all the
// object points to, and in a cycle that path leads back to the object.
//
// This is the fix of the years before runtime.AddCleanup (Go 1.24): the
// finalizer goes on a small handle outside the cycle, which points at
// nothing, so collecting it never has to keep the cycle alive.
package main

import (
	"expvar"
	"runtime"
	"time"
)

// The first counter shows how much work was done; the second counts the
// objects whose release actually ran, which is the heart of the lesson.
var (
	requests = expvar.NewInt("requests")
	released = expvar.NewInt("released")
)

// A session and its connection know each other, as a parent and a child
// often do, and each holds an 8 KiB buffer. The session also holds the
// handle of what the pair stands for.
type node struct {
	peer   *node
	buf    []byte
	handle *resource
}

// The handle refers to no object of the cycle: once the pair is garbage,
// the handle is too, and its finalizer runs with nothing to resurrect.
type resource struct{ id, halves int }

func newNode(id int) *node {
	n := &node{buf: make([]byte, 8<<10)}
	for i := range n.buf {
		n.buf[i] = byte(id + i)
	}
	return n
}

// Each request builds the pair and asks the runtime to count both halves
// when their handle is collected. After the request nothing refers to it.
func handle(id int) {
	session, conn := newNode(id), newNode(id)
	session.peer, conn.peer = conn, session
	session.handle = &resource{id: id, halves: 2}
	runtime.SetFinalizer(session.handle, func(r *resource) { released.Add(int64(r.halves)) })
	requests.Add(1)
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
