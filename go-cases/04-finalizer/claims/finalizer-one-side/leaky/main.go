// Objects that point at each other leak once they carry a finalizer: a
// finalizer is handed its object, so the collector must keep alive all the
// object points to, and in a cycle that path leads back to the object.
//
// This variant tries a common "fix" that does not work: a finalizer on only
// one object of the cycle. That object still reaches itself through its peer.
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
// often do, and each holds an 8 KiB buffer.
type node struct {
	peer *node
	buf  []byte
}

func newNode(id int) *node {
	n := &node{buf: make([]byte, 8<<10)}
	for i := range n.buf {
		n.buf[i] = byte(id + i)
	}
	return n
}

// Each request builds the pair and asks the runtime to count the session
// when it is collected; the connection gets no finalizer. After the
// request nothing refers to the pair.
func handle(id int) {
	session, conn := newNode(id), newNode(id)
	session.peer, conn.peer = conn, session
	runtime.SetFinalizer(session, func(*node) { released.Add(1) })
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
