// A context with a deadline holds a runtime timer, and all the context
// refers to, until the deadline passes, unless its cancel function is
// called. go vet's lostcancel check catches the forgotten call before the
// program ever runs.
//
// This program is wrong on purpose. It lives under testdata/, which
// `go vet ./...` skips, and the lab's tests vet it by name to show the check.
package main

import (
	"context"
	"fmt"
	"time"
)

// Throwing the cancel function away is the plainest form of the mistake.
func lookup(parent context.Context) error {
	ctx, _ := context.WithTimeout(parent, time.Hour)
	return ctx.Err()
}

// Keeping it but forgetting it on one path is the more common form: the
// early return leaves the context, and its timer, alive for an hour.
func fetch(parent context.Context, cached bool) error {
	ctx, cancel := context.WithTimeout(parent, time.Hour)
	if cached {
		return nil
	}
	defer cancel()
	return ctx.Err()
}

func main() {
	fmt.Println(lookup(context.Background()), fetch(context.Background(), true))
}
