// Facts about timers and defer that Go checks itself: `go test ./02-timer/`
// runs these examples and compares what they print with their Output comments.
package timer_test

import (
	"fmt"
	"runtime"
	"sync"
	"time"
)

// A panic does not skip deferred calls: they run while the stack unwinds.
// The second Stop reports false because the deferred Stop already stopped
// the timer, long before its hour was up.
func Example_deferredStopRunsOnPanic() {
	t := time.NewTimer(time.Hour)
	func() {
		defer func() { recover() }()
		defer t.Stop()
		panic("request failed")
	}()
	fmt.Println("still pending after the panic:", t.Stop())
	// Output: still pending after the panic: false
}

// runtime.Goexit, which testing.T.FailNow uses to end a test, runs the
// deferred calls too. Only os.Exit (and so log.Fatal) skips them.
func Example_deferredStopRunsOnGoexit() {
	t := time.NewTimer(time.Hour)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer t.Stop()
		runtime.Goexit()
	}()
	wg.Wait()
	fmt.Println("still pending after Goexit:", t.Stop())
	// Output: still pending after Goexit: false
}
