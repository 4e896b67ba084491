// The fixed variant passes the same goleak test the leaky one fails: once
// the channel has room for the result, every worker finishes and exits.
package main

import (
	"testing"

	"go.uber.org/goleak"
)

// goleak waits a little for goroutines that are still finishing, so the
// slow workers, which sleep for 10 ms, have time to deliver and return.
func TestHandleLeavesNoGoroutine(t *testing.T) {
	defer goleak.VerifyNone(t)
	for id := range 10 {
		handle(id)
	}
}
