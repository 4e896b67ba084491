// Check-then-act on a sync.Map is a race: between the Load that checks an
// entry and the Store or Delete that acts on it, another goroutine may have
// changed the entry. Each call is atomic; the pair of calls is not.
//
// This is the fixed variant: CompareAndSwap and CompareAndDelete act only if
// the entry is still the one that was checked.
package main

import (
	"crypto/sha256"
	"expvar"
	"sync"
	"time"
)

// The program counts what went wrong, because the heap cannot show it: an
// entry that came back after a logout, and a fresh login that was deleted.
var (
	requests    = expvar.NewInt("requests")
	resurrected = expvar.NewInt("resurrected")
	lost        = expvar.NewInt("lost")
)

type session struct {
	token   [32]byte
	expired bool
}

var sessions sync.Map

// A new token comes from the auth service, and an expiry is written to the
// audit log: each is a short wait (here 20 us), which is all the time another
// goroutine needs to slip in between a check and an act.
func sign(token [32]byte) [32]byte {
	time.Sleep(20 * time.Microsecond)
	return sha256.Sum256(token[:])
}

// A refresh re-signs the token of a session that is still there. If the
// user logged out since the Load, CompareAndSwap finds no such entry and
// does nothing, so a deleted session cannot come back.
func refresh(user int) {
	if v, ok := sessions.Load(user); ok {
		next := &session{token: sign(v.(*session).token)}
		sessions.CompareAndSwap(user, v, next)
	}
}

// The janitor deletes an expired session. If the user logged in again
// since the Load, CompareAndDelete sees a different session and keeps it.
func expire(user int) {
	if v, ok := sessions.Load(user); ok && v.(*session).expired {
		_ = sign(v.(*session).token) // the audit record of the expiry
		sessions.CompareAndDelete(user, v)
	}
}

// Each round races a refresh against a logout, then an expiry against a
// new login, on one user: the second request arrives 10 us after the first,
// while the first is waiting. Then it checks what the map holds.
func round(user int) {
	var wg sync.WaitGroup
	sessions.Store(user, &session{})
	wg.Add(1)
	go func() { defer wg.Done(); refresh(user) }()
	time.Sleep(10 * time.Microsecond)
	sessions.Delete(user)
	wg.Wait()
	if _, ok := sessions.Load(user); ok {
		resurrected.Add(1)
	}

	sessions.Store(user, &session{expired: true})
	wg.Add(1)
	go func() { defer wg.Done(); expire(user) }()
	time.Sleep(10 * time.Microsecond)
	sessions.Store(user, &session{})
	wg.Wait()
	if _, ok := sessions.Load(user); !ok {
		lost.Add(1)
	}
	sessions.Delete(user)
	requests.Add(1)
}

// Rounds start at a steady pace, a fixed batch every millisecond, so the
// program does the same work per second on a busy or an idle machine.
func main() {
	user := 0
	for range time.Tick(time.Millisecond) {
		for i := 0; i < 5; i++ {
			user++
			go round(user)
		}
	}
}
