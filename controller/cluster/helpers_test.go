package cluster

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// testLogger discards logs unless TONEWALL_TEST_LOG is set.
func testLogger(tb testing.TB) *slog.Logger {
	tb.Helper()
	if os.Getenv("TONEWALL_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// startServer runs an embedded nats-server with JetStream on loopback and
// a temporary directory, until the test ends.
func startServer(tb testing.TB) *server.Server {
	tb.Helper()
	s, err := server.NewServer(&server.Options{
		Host:      "127.0.0.1",
		Port:      server.RANDOM_PORT,
		JetStream: true,
		StoreDir:  tb.TempDir(),
		NoLog:     true,
		NoSigs:    true,
	})
	if err != nil {
		tb.Fatal(err)
	}
	s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		tb.Fatal("nats-server not ready")
	}
	tb.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return s
}

func connect(tb testing.TB, s *server.Server) *nats.Conn {
	tb.Helper()
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(nc.Close)
	return nc
}

// stubLocal is a Local whose contents the test sets.
type stubLocal struct {
	mu       sync.Mutex
	calls    map[string]bool
	captures map[string]bool
}

func newStubLocal() *stubLocal {
	return &stubLocal{calls: map[string]bool{}, captures: map[string]bool{}}
}

func (l *stubLocal) HasCall(id string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.calls[id]
}

func (l *stubLocal) HasCapture(id string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.captures[id]
}

func (l *stubLocal) set(m map[string]bool, id string, v bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	m[id] = v
}

// echo is what the stub API handler answers: who served the request and
// what it saw.
type echo struct {
	Node      string `json:"node"`
	Method    string `json:"method"`
	Path      string `json:"path"`
	Query     string `json:"query"`
	Auth      string `json:"auth"`
	Body      string `json:"body"`
	Forwarded string `json:"forwarded"`
}

// node is one controller under test: its cluster member, its stub Local
// and API handler, and an HTTP server for the wrapped handler.
type node struct {
	id    string
	c     *Cluster
	local *stubLocal
	srv   *httptest.Server

	mu    sync.Mutex
	block chan struct{} // while non-nil, the handler waits on it
	hits  int
}

// newNode starts a cluster member on nc with a stub API: POST
// /v1/calls/{id}/captures creates capture "cap_"+id (201 with Location),
// everything else echoes; unknown ids answer 404 as the API would.
func newNode(tb testing.TB, nc *nats.Conn, id string, mutate func(*Options)) *node {
	tb.Helper()
	n := &node{id: id, local: newStubLocal()}
	opts := Options{Conn: nc, NodeID: id, Local: n.local, Logger: testLogger(tb).With("node", id), RequestTimeout: 2 * time.Second}
	if mutate != nil {
		mutate(&opts)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := New(ctx, opts)
	if err != nil {
		tb.Fatal(err)
	}
	n.c = c
	tb.Cleanup(func() { c.Close() })
	n.srv = httptest.NewServer(c.Middleware(http.HandlerFunc(n.api)))
	tb.Cleanup(n.srv.Close)
	return n
}

func (n *node) api(w http.ResponseWriter, r *http.Request) {
	n.mu.Lock()
	n.hits++
	block := n.block
	n.mu.Unlock()
	if block != nil {
		select {
		case <-block:
		case <-r.Context().Done():
			return
		}
	}
	t, _ := parseTarget(r.URL.Path)
	held := (t.kind == kindCall && n.local.HasCall(t.id)) || (t.kind == kindCapture && n.local.HasCapture(t.id))
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Served-By", n.id)
	if !held {
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"error":{"code":"not_found","message":"`+n.id+`"}}`)
		return
	}
	body, _ := io.ReadAll(r.Body)
	status := http.StatusOK
	if t.createsCapture(r.Method) {
		capID := "cap_" + t.id
		n.local.set(n.local.captures, capID, true)
		w.Header().Set("Location", "/v1/captures/"+capID)
		status = http.StatusCreated
	}
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(echo{
		Node: n.id, Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery,
		Auth: r.Header.Get("Authorization"), Body: string(body), Forwarded: r.Header.Get(HeaderForwarded),
	})
}

func (n *node) hitCount() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.hits
}

// do sends a request to the node's HTTP server.
func (n *node) do(tb testing.TB, method, path, body string, hdr map[string]string) (*http.Response, []byte) {
	tb.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, n.srv.URL+path, rd)
	if err != nil {
		tb.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := n.srv.Client().Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return resp, b
}

// startCall makes the node hold a call and records it in the directory as
// the call manager would.
func (n *node) startCall(tb testing.TB, id string) {
	tb.Helper()
	n.local.set(n.local.calls, id, true)
	n.c.Observe(callEvent("call.started", id, ""))
	waitFor(tb, "directory entry for "+id, func() bool {
		owner, err := n.c.Owner(context.Background(), id)
		return err == nil && owner == n.id
	})
}

// waitFor polls cond until it holds or ten seconds pass.
func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func decodeEcho(tb testing.TB, b []byte) echo {
	tb.Helper()
	var e echo
	if err := json.Unmarshal(b, &e); err != nil {
		tb.Fatalf("answer %q: %v", b, err)
	}
	return e
}

func errorCode(tb testing.TB, b []byte) string {
	tb.Helper()
	var e errorBody
	if err := json.Unmarshal(b, &e); err != nil {
		tb.Fatalf("error answer %q: %v", b, err)
	}
	return e.Error.Code
}
