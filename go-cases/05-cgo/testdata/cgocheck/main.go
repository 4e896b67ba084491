// Go may hand C a pointer to Go memory only if that memory holds no Go
// pointers C could keep, unless those pointers are pinned. The runtime's
// cgocheck (on by default) stops a program that breaks the rule, and
// runtime.Pinner is how a program keeps it.
//
// Run it as `go run .` to see cgocheck panic, `PIN=1 go run .` to see the
// pinned version pass. It lives under testdata/ so that `go vet ./...` and
// `go build ./...` over the module leave it alone.
package main

/*
#include <stdint.h>
static int first(int **p) { return **p; }
*/
import "C"

import (
	"fmt"
	"os"
	"runtime"
	"unsafe"
)

// A request holds a pointer to its value, and C is handed the request.
type request struct {
	value *C.int
}

func main() {
	req := &request{value: new(C.int)}
	*req.value = 42

	// Pinning the inner pointer tells the runtime it must neither move nor
	// free that value while C may look at it.
	if os.Getenv("PIN") == "1" {
		var pinner runtime.Pinner
		pinner.Pin(req.value)
		defer pinner.Unpin()
	}
	fmt.Println("C read", C.first((**C.int)(unsafe.Pointer(req))))
}
