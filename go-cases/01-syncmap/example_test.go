// Facts about map keys that Go checks itself: `go test ./01-syncmap/` runs
// these examples and compares what they print with their Output comments.
package syncmap_test

import (
	"fmt"
	"sync"
)

// A user whose key holds a slice. A plain map with such a key does not
// compile at all ("invalid map key type"); sync.Map takes keys as `any`, so
// the mistake gets past the compiler and go vet.
type user struct {
	id   int
	tags []string
}

// Storing an unhashable key in a sync.Map does not grow anything: it panics
// on the first call, because the map must hash the key to place it.
func Example_unhashableKeyPanics() {
	var m sync.Map
	defer func() {
		fmt.Println("recovered:", recover())
	}()
	m.Store(user{id: 1, tags: []string{"admin"}}, "session")
	fmt.Println("stored")
	// Output: recovered: runtime error: hash of unhashable type syncmap_test.user
}

// What grows is a key that is new every time, for example one that holds a
// pointer: two keys with equal contents are still different keys.
func Example_pointerKeysAreAllDistinct() {
	var m sync.Map
	for i := 0; i < 1000; i++ {
		tag := "admin"
		m.Store(&tag, "session")
	}
	n := 0
	m.Range(func(_, _ any) bool { n++; return true })
	fmt.Println("entries:", n)
	// Output: entries: 1000
}
