// An address-cleaning service that runs every address through a small C
// normalisation routine. normalize returns a buffer it malloc'd, which the
// caller owns and must free; the Go wrapper copies the result into a Go
// string with C.GoString and forgets to free the C buffer. 512 addresses a
// second, each leaving one 504-byte block (a 512-byte glibc chunk) behind.
package main

/*
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

// 504 bytes of user data + 8 bytes of glibc header = a 512-byte chunk.
#define OUT_SIZE 504

// normalize upper-cases letters, keeps digits, turns every run of other
// characters into one space, and writes the result, NUL-padded, into a
// fresh OUT_SIZE-byte buffer that the caller must free.
static char *normalize(const char *in, size_t n) {
	char *out = malloc(OUT_SIZE);
	if (out == NULL) return NULL;
	size_t j = 0;
	int gap = 0;
	for (size_t i = 0; i < n && j < OUT_SIZE - 1; i++) {
		unsigned char c = (unsigned char)in[i];
		if (isalnum(c)) {
			if (gap && j > 0) out[j++] = ' ';
			out[j++] = (char)toupper(c);
			gap = 0;
		} else {
			gap = 1;
		}
	}
	memset(out + j, 0, OUT_SIZE - j);
	return out;
}
*/
import "C"

import (
	"fmt"
	"log"
	"time"
	"unsafe"
)

var streets = []string{"Elm st.", "Oak Avenue", "rue de la Paix", "Baker Street", "Main St", "Hauptstraße", "Calle Mayor", "High st"}

var cities = []string{"Springfield", "Paris", "london", "Berlin", "Madrid", "Shelbyville"}

// normalize cleans one address in C.
func normalize(addr []byte) (string, error) {
	out := C.normalize((*C.char)(unsafe.Pointer(&addr[0])), C.size_t(len(addr)))
	if out == nil {
		return "", fmt.Errorf("normalize: out of memory")
	}
	// Missing: defer C.free(unsafe.Pointer(out))
	return C.GoString(out), nil
}

func main() {
	log.Println("cleaner: 512 addresses/s through C normalize")
	seen := make(map[string]int, 64)
	buf := make([]byte, 0, 128)
	tick := time.NewTicker(time.Second / 64)
	defer tick.Stop()
	for n := 0; ; {
		<-tick.C
		for range 8 {
			buf = fmt.Appendf(buf[:0], "%d,  %s -- apt. %d; %s (%05d)",
				1+n%997, streets[n%len(streets)], n%53, cities[n%len(cities)], n%100000)
			clean, err := normalize(buf)
			if err != nil {
				log.Fatal(err)
			}
			if len(seen) < 64 {
				seen[clean]++
			}
			n++
		}
		if n%5120 == 0 {
			log.Printf("cleaned %d addresses", n)
		}
	}
}
