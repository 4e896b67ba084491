// The goroutine leak shows up in an ordinary Go test: goleak lists the
// goroutines still alive when the test ends, with the line each waits on.
package main

import (
	"strings"
	"testing"

	"go.uber.org/goleak"
)

// A few requests must leave no goroutine behind; here the slow workers stay
// blocked on their send. This test passes only when goleak reports them, so
// the lab notices if the leak ever stops reproducing.
func TestHandleLeavesBlockedWorkers(t *testing.T) {
	for id := range 10 {
		handle(id)
	}
	err := goleak.Find()
	if err == nil {
		t.Fatal("goleak found no leaked goroutine, but the slow workers should be stuck on their send")
	}
	if !strings.Contains(err.Error(), ".work(") || !strings.Contains(err.Error(), "chan send") {
		t.Fatalf("goleak reported something other than the blocked workers:\n%v", err)
	}
	t.Logf("goleak found the leak, as it should:\n%v", err)
}
