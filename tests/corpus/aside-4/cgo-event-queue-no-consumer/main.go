// An audit service that hands every event to a C delivery library. The
// library copies each event into a node of its own and appends it to a queue
// that its sender thread drains, freeing each node once delivered. The sender
// is only started when delivery is enabled in the config, and it is not, so
// the queue keeps every event ever enqueued.
package main

/*
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

// A node is 1,024 bytes: 8 + 8 + 4 + 4 + 1,000.
struct event {
	struct event *next;
	uint64_t seq;
	uint32_t kind;
	uint32_t len;
	char body[1000];
};

static struct event *head, *tail;
static uint64_t queued;

static int enqueue(uint64_t seq, uint32_t kind, const char *body, uint32_t len) {
	struct event *e = malloc(sizeof *e);
	if (e == NULL) return -1;
	if (len > sizeof e->body) len = sizeof e->body;
	e->next = NULL;
	e->seq = seq;
	e->kind = kind;
	e->len = len;
	memcpy(e->body, body, len);
	memset(e->body + len, 0, sizeof e->body - len);
	if (tail != NULL) tail->next = e; else head = e;
	tail = e;
	queued++;
	return 0;
}

static uint64_t queue_length(void) { return queued; }
*/
import "C"

import (
	"fmt"
	"log"
	"time"
	"unsafe"
)

func main() {
	log.Println("audit: 1,000 events/s to the C delivery queue")
	var body [1000]byte
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for seq := uint64(1); ; {
		<-tick.C
		for range 10 {
			n := copy(body[:], fmt.Sprintf("user=%d action=update resource=/orders/%d ip=10.0.%d.%d ",
				seq%5000, seq, seq%256, seq*7%256))
			for i := n; i < len(body); i++ {
				body[i] = 'a' + byte((seq+uint64(i))%26)
			}
			if C.enqueue(C.uint64_t(seq), C.uint32_t(seq%8), (*C.char)(unsafe.Pointer(&body[0])), C.uint32_t(len(body))) != 0 {
				log.Fatal("delivery queue: out of memory")
			}
			seq++
		}
		if seq%5000 == 1 {
			log.Printf("delivery queue: %d events waiting", uint64(C.queue_length()))
		}
	}
}
