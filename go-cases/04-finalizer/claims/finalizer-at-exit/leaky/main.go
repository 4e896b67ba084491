// Finalizers are not run when a program exits: main returning ends the
// process at once, with whatever finalizers are still queued. So a finalizer
// that frees memory cannot crash "after exit"; it simply never runs.
package main

import (
	"fmt"
	"runtime"
)

// A handle to a resource whose finalizer reports that it ran.
type handle struct{ buf []byte }

// Many handles become garbage and one collection queues their finalizers;
// then main returns straight away. Whoever runs the program counts the
// lines: the finalizers that had no time to run before the exit never will.
func main() {
	for i := 0; i < 100000; i++ {
		h := &handle{buf: make([]byte, 16)}
		runtime.SetFinalizer(h, func(*handle) { fmt.Println("finalizer ran") })
	}
	runtime.GC()
	fmt.Println("main returns")
}
