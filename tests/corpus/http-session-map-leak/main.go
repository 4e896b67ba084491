// A login endpoint that creates a server-side session per sign-in, holding the
// user's serialized profile and cart (8 KiB). Nothing logs out and sessions
// have no expiry, so the session table only grows. The process drives itself
// with a loopback client at 200 logins per second.
package main

import (
	"expvar"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

var requests = expvar.NewInt("requests")

type session struct {
	id      string
	user    string
	created time.Time
	state   []byte
}

type sessionStore struct {
	mu   sync.Mutex
	seq  uint64
	byID map[string]*session
}

func (s *sessionStore) create(user string) *session {
	state := make([]byte, 8<<10)
	n := copy(state, user)
	for i := n; i < len(state); i += 64 {
		state[i] = byte(i >> 6)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	id := strconv.FormatUint(s.seq, 16) + "-" + strconv.FormatUint(rand.Uint64(), 16)
	sess := &session{id: id, user: user, created: time.Now(), state: state}
	s.byID[id] = sess
	return sess
}

func main() {
	store := &sessionStore{byID: make(map[string]*session)}
	mux := http.NewServeMux()
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		user := r.URL.Query().Get("user")
		if user == "" {
			http.Error(w, "missing user", http.StatusBadRequest)
			return
		}
		sess := store.create(user)
		http.SetCookie(w, &http.Cookie{Name: "sid", Value: sess.id, HttpOnly: true})
		io.WriteString(w, "welcome "+user+"\n")
	})

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	log.Printf("login service on %s", ln.Addr())

	base := "http://" + ln.Addr().String() + "/login?user=u"
	client := &http.Client{Timeout: 2 * time.Second}
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for n := 1; ; n++ {
		<-tick.C
		resp, err := client.Get(base + strconv.Itoa(n))
		if err != nil {
			continue
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}
