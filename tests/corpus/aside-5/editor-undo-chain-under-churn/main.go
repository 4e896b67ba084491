// A collaborative editor's document server. Every edit overwrites a run of
// bytes in the document, then the whole document is rendered afresh and
// compared with the previous rendering to find the range to broadcast (a
// 128 KiB copy per edit, garbage once the next edit is rendered). Before the
// edit is applied, the bytes it replaces are saved in an undo entry pushed
// onto the undo chain. The chain is meant to be cut to the last 100 entries
// whenever the document is saved, but autosave is off, so it only grows.
// 200 edits a second.
package main

import (
	"expvar"
	"log"
	"math/rand/v2"
	"time"
)

var requests = expvar.NewInt("requests")

const (
	docSize  = 128 << 10
	maxPatch = 744
)

// An undo entry is exactly 768 bytes: 8 + 8 + 4 + 4 + 744.
type undo struct {
	prev   *undo
	seq    uint64
	off    uint32
	n      uint32
	before [maxPatch]byte
}

type editor struct {
	doc      []byte
	rendered []byte // the last rendering, for diffing
	history  *undo  // newest first; trimmed only by save
	seq      uint64
	sent     uint64 // bytes broadcast to collaborators
}

// render makes a fresh copy of the document, as a layout pass would.
func (e *editor) render() []byte {
	out := make([]byte, len(e.doc))
	copy(out, e.doc)
	return out
}

// changed returns the range in which a and b differ.
func changed(a, b []byte) (lo, hi int) {
	lo, hi = 0, len(a)
	for lo < hi && a[lo] == b[lo] {
		lo++
	}
	for hi > lo && a[hi-1] == b[hi-1] {
		hi--
	}
	return lo, hi
}

func (e *editor) edit(off int, patch []byte) {
	e.seq++
	u := &undo{prev: e.history, seq: e.seq, off: uint32(off), n: uint32(len(patch))}
	copy(u.before[:], e.doc[off:off+len(patch)])
	e.history = u

	copy(e.doc[off:], patch)
	r := e.render()
	lo, hi := changed(e.rendered, r)
	e.sent += uint64(hi - lo)
	e.rendered = r
}

// save would cut the undo chain to its last 100 entries. Autosave is off.
func (e *editor) save() {
	u := e.history
	for i := 1; u != nil && i < 100; i++ {
		u = u.prev
	}
	if u != nil {
		u.prev = nil
	}
}

func main() {
	rng := rand.New(rand.NewPCG(5, 8))
	e := &editor{doc: make([]byte, docSize)}
	for i := range e.doc {
		e.doc[i] = "lorem ipsum dolor sit amet\n"[i%27]
	}
	e.rendered = e.render()
	autosave := false
	log.Println("editor: 200 edits/s on a 128 KiB document")

	patch := make([]byte, maxPatch)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		<-tick.C
		for range 2 {
			n := 64 + rng.IntN(maxPatch-64+1)
			for i := range n {
				patch[i] = 'a' + byte(rng.IntN(26))
			}
			e.edit(rng.IntN(docSize-n), patch[:n])
			requests.Add(1)
		}
		if autosave && e.seq%1000 == 0 {
			e.save()
		}
		if e.seq%2000 == 0 {
			log.Printf("edits: %d, broadcast %d KiB", e.seq, e.sent>>10)
		}
	}
}
