package cluster

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/tonewall/tonewall/controller/call"
)

func callEvent(typ, callID, captureID string) call.Event {
	return call.Event{Type: typ, CallID: callID, CaptureID: captureID, At: time.Now()}
}

// twoNodes runs two cluster members on one embedded nats-server.
func twoNodes(t *testing.T) (a, b *node, nc *nats.Conn) {
	t.Helper()
	s := startServer(t)
	a = newNode(t, connect(t, s), "node-a", nil)
	b = newNode(t, connect(t, s), "node-b", nil)
	return a, b, connect(t, s)
}

// spy records every payload on the tonewall subjects and in the directory.
type spy struct {
	mu   sync.Mutex
	msgs []string
}

func newSpy(t *testing.T, nc *nats.Conn) *spy {
	t.Helper()
	sp := &spy{}
	for _, subj := range []string{"tonewall.>", "$KV.>"} {
		sub, err := nc.Subscribe(subj, func(m *nats.Msg) {
			sp.mu.Lock()
			sp.msgs = append(sp.msgs, m.Subject+" "+string(m.Data))
			sp.mu.Unlock()
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { sub.Unsubscribe() })
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return sp
}

func (sp *spy) all() string {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	return strings.Join(sp.msgs, "\n")
}

func TestForwarding(t *testing.T) {
	a, b, _ := twoNodes(t)
	b.startCall(t, "call-b")
	a.startCall(t, "call-a")

	tests := []struct {
		name       string
		method     string
		path       string
		body       string
		hdr        map[string]string
		wantStatus int
		wantNode   string // who served it
		forwarded  bool
	}{
		{"call held elsewhere", "GET", "/v1/calls/call-b?verbose=1", "", map[string]string{"Authorization": "Bearer t0k"}, 200, "node-b", true},
		{"captures of a call held elsewhere", "GET", "/v1/calls/call-b/captures", "", nil, 200, "node-b", true},
		{"post with body", "POST", "/v1/calls/call-b/agent-tokens", `{"ttl":"5m"}`, map[string]string{"Content-Type": "application/json"}, 200, "node-b", true},
		{"call held here", "GET", "/v1/calls/call-a", "", nil, 200, "node-a", false},
		{"unknown call: the local API answers", "GET", "/v1/calls/nobody", "", nil, 404, "node-a", false},
		{"list of calls is local", "GET", "/v1/calls", "", nil, 404, "node-a", false},
		{"malformed path is local", "GET", "/v1/calls/call-b/../call-b", "", nil, 404, "node-a", false},
		{"loop guard: a forwarded request is served here", "GET", "/v1/calls/call-b", "", map[string]string{HeaderForwarded: "node-x"}, 404, "node-a", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := a.do(t, tt.method, tt.path, tt.body, tt.hdr)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.wantStatus, body)
			}
			if got := resp.Header.Get("X-Served-By"); got != tt.wantNode {
				t.Errorf("served by %q, want %q", got, tt.wantNode)
			}
			if got := resp.Header.Get(HeaderController); tt.forwarded != (got == tt.wantNode) {
				t.Errorf("%s = %q", HeaderController, got)
			}
			if tt.wantStatus != 200 {
				return
			}
			e := decodeEcho(t, body)
			if e.Method != tt.method || e.Body != tt.body || e.Auth != tt.hdr["Authorization"] {
				t.Errorf("the handler saw %+v", e)
			}
			if want := strings.SplitN(tt.path, "?", 2); e.Path != want[0] || (len(want) == 2 && e.Query != want[1]) {
				t.Errorf("path %q query %q, want %q", e.Path, e.Query, tt.path)
			}
			if tt.forwarded && e.Forwarded != "node-a" {
				t.Errorf("forwarded header %q, want node-a", e.Forwarded)
			}
		})
	}
}

func TestCaptureReadableEverywhereOnceCreated(t *testing.T) {
	a, b, _ := twoNodes(t)
	b.startCall(t, "call-b")
	// Created through A: B writes the capture's entry before its 201 leaves,
	// so the very next request, through A again, finds it.
	resp, body := a.do(t, "POST", "/v1/calls/call-b/captures", `{"amount":1250}`, nil)
	if resp.StatusCode != 201 || resp.Header.Get("Location") != "/v1/captures/cap_call-b" {
		t.Fatalf("create: %d %v %s", resp.StatusCode, resp.Header, body)
	}
	for _, p := range []string{"/v1/captures/cap_call-b", "/v1/captures/cap_call-b/fields/pan/restart"} {
		resp, body = a.do(t, "GET", p, "", nil)
		if resp.StatusCode != 200 || decodeEcho(t, body).Node != "node-b" {
			t.Fatalf("GET %s: %d %s", p, resp.StatusCode, body)
		}
	}
	// Created on B directly: the same holds.
	b.startCall(t, "call-b2")
	if resp, body := b.do(t, "POST", "/v1/calls/call-b2/captures", `{}`, nil); resp.StatusCode != 201 {
		t.Fatalf("create on the owner: %d %s", resp.StatusCode, body)
	}
	if resp, body := a.do(t, "POST", "/v1/captures/cap_call-b2/cancel", "", nil); resp.StatusCode != 200 || decodeEcho(t, body).Node != "node-b" {
		t.Fatalf("cancel through A: %d %s", resp.StatusCode, body)
	}
}

func TestStreamsAreNotForwarded(t *testing.T) {
	a, b, _ := twoNodes(t)
	b.startCall(t, "call-b")
	b.local.set(b.local.captures, "cap_1", true)
	b.c.Observe(callEvent(call.EventCaptureStarted, "call-b", "cap_1"))
	waitFor(t, "capture entry", func() bool {
		_, err := a.c.locate(context.Background(), target{kind: kindCapture, id: "cap_1"})
		return err == nil
	})
	for _, tc := range []struct {
		path string
		hdr  map[string]string
	}{
		{"/v1/calls/call-b/events", nil},
		{"/v1/captures/cap_1/events?access_token=secret", nil},
		{"/v1/calls/call-b", map[string]string{"Accept": "text/event-stream"}},
	} {
		resp, body := a.do(t, "GET", tc.path, "", tc.hdr)
		if resp.StatusCode != http.StatusMisdirectedRequest || errorCode(t, body) != CodeWrongController {
			t.Errorf("%s: %d %s", tc.path, resp.StatusCode, body)
		}
		if got := resp.Header.Get(HeaderController); got != "node-b" {
			t.Errorf("%s: %s = %q, want node-b", tc.path, HeaderController, got)
		}
	}
	if n := b.hitCount(); n != 0 {
		t.Errorf("the owner served %d requests", n)
	}
}

func TestOwnerGone(t *testing.T) {
	a, b, _ := twoNodes(t)
	// A crashed owner: its entry is still in the directory, nobody answers.
	if _, err := a.c.kv.Put(context.Background(), callKey("call-ghost"), []byte("node-ghost")); err != nil {
		t.Fatal(err)
	}
	resp, body := a.do(t, "GET", "/v1/calls/call-ghost", "", nil)
	if resp.StatusCode != http.StatusServiceUnavailable || errorCode(t, body) != CodeControllerUnavailable {
		t.Fatalf("no responders: %d %s", resp.StatusCode, body)
	}

	// An owner too slow to answer within RequestTimeout.
	b.startCall(t, "call-slow")
	release := make(chan struct{})
	b.mu.Lock()
	b.block = release
	b.mu.Unlock()
	defer close(release)
	start := time.Now()
	resp, body = a.do(t, "GET", "/v1/calls/call-slow", "", nil)
	if resp.StatusCode != http.StatusServiceUnavailable || errorCode(t, body) != CodeControllerUnavailable {
		t.Fatalf("timeout: %d %s", resp.StatusCode, body)
	}
	if d := time.Since(start); d < 2*time.Second || d > 5*time.Second {
		t.Errorf("answered after %s, want about the 2 s RequestTimeout", d)
	}
}

func TestCardDataIsNotForwarded(t *testing.T) {
	a, b, nc := twoNodes(t)
	sp := newSpy(t, nc)
	b.startCall(t, "call-b")
	for _, body := range []string{
		`{"amount":1250,"currency":"GBP","reference":"4242424242424242"}`,
		`{"amount":1250,"currency":"GBP","reference":"ref 4242 4242 4242 4242"}`,
	} {
		resp, got := a.do(t, "POST", "/v1/calls/call-b/captures", body, nil)
		if resp.StatusCode != http.StatusBadRequest || errorCode(t, got) != CodeInvalidRequest {
			t.Fatalf("%d %s", resp.StatusCode, got)
		}
		if strings.Contains(string(got), "4242") {
			t.Errorf("the refusal repeats the body: %s", got)
		}
	}
	// A body above the limit is refused too.
	resp, got := a.do(t, "POST", "/v1/calls/call-b/captures", `"`+strings.Repeat("a", MaxBody)+`"`, nil)
	if resp.StatusCode != http.StatusRequestEntityTooLarge || errorCode(t, got) != CodeTooLarge {
		t.Fatalf("large body: %d %s", resp.StatusCode, got)
	}
	// Control: an ordinary body crosses, so the spy can see forwarded requests.
	if resp, got := a.do(t, "POST", "/v1/calls/call-b/captures", `{"amount":1250,"reference":"order-77"}`, nil); resp.StatusCode != 201 {
		t.Fatalf("control: %d %s", resp.StatusCode, got)
	}
	waitFor(t, "the spy to see the control request", func() bool { return strings.Contains(sp.all(), "tonewall.node.node-b.http") })
	if n := b.hitCount(); n != 1 {
		t.Errorf("the owner served %d requests, want only the control", n)
	}
	if s := sp.all(); strings.Contains(s, "4242") {
		t.Errorf("card digits crossed NATS")
	}
}

func TestForwardedAnswerTooLarge(t *testing.T) {
	s := startServer(t)
	a := newNode(t, connect(t, s), "node-a", nil)
	b := newNode(t, connect(t, s), "node-b", nil)
	b.startCall(t, "call-big")
	big := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(strings.Repeat("x", 2<<20)))
	})
	b.c.Middleware(big) // the latest handler serves forwarded requests
	resp, body := a.do(t, "GET", "/v1/calls/call-big", "", nil)
	if resp.StatusCode != http.StatusInternalServerError || errorCode(t, body) != CodeInternal {
		t.Fatalf("%d %.200s", resp.StatusCode, body)
	}
}

func TestForwardedPanicIsContained(t *testing.T) {
	s := startServer(t)
	a := newNode(t, connect(t, s), "node-a", nil)
	b := newNode(t, connect(t, s), "node-b", nil)
	b.startCall(t, "call-p")
	b.c.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }))
	resp, body := a.do(t, "GET", "/v1/calls/call-p", "", nil)
	if resp.StatusCode != http.StatusInternalServerError || errorCode(t, body) != CodeInternal {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	if strings.Contains(string(body), "boom") {
		t.Errorf("panic text leaked: %s", body)
	}
}

func TestClosedNodeRefusesForwardedRequests(t *testing.T) {
	a, b, _ := twoNodes(t)
	b.startCall(t, "call-b")
	// Keep the entry, as a crashed controller would, but stop serving.
	if err := b.c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := a.c.kv.Put(context.Background(), callKey("call-b"), []byte("node-b")); err != nil {
		t.Fatal(err)
	}
	resp, body := a.do(t, "GET", "/v1/calls/call-b", "", nil)
	if resp.StatusCode != http.StatusServiceUnavailable || errorCode(t, body) != CodeControllerUnavailable {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
}

// BenchmarkForward measures a GET answered by another controller, against
// the same GET answered locally.
func BenchmarkForward(b *testing.B) {
	s := startServer(b)
	a := newNode(b, connect(b, s), "node-a", nil)
	o := newNode(b, connect(b, s), "node-b", nil)
	o.startCall(b, "call-b")
	a.startCall(b, "call-a")
	for _, bc := range []struct{ name, path string }{
		{"local", "/v1/calls/call-a"},
		{"forwarded", "/v1/calls/call-b"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				if resp, body := a.do(b, "GET", bc.path, "", nil); resp.StatusCode != 200 {
					b.Fatalf("%d %s", resp.StatusCode, body)
				}
			}
		})
	}
}
