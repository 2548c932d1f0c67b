package cluster

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tonewall/tonewall/controller/call"
)

// entry reads a directory key straight from the bucket.
func entry(t *testing.T, c *Cluster, key string) (string, bool) {
	t.Helper()
	e, err := c.kv.Get(context.Background(), key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return "", false
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(e.Value()), true
}

func waitEntry(t *testing.T, c *Cluster, key, want string) {
	t.Helper()
	waitFor(t, key+" = "+want, func() bool {
		v, ok := entry(t, c, key)
		if want == "" {
			return !ok
		}
		return ok && v == want
	})
}

func TestDirectoryFollowsEvents(t *testing.T) {
	s := startServer(t)
	a := newNode(t, connect(t, s), "node-a", func(o *Options) { o.Refresh = 100 * time.Millisecond })

	a.local.set(a.local.calls, "c1", true)
	a.c.Observe(callEvent(call.EventCallStarted, "c1", ""))
	a.c.Observe(callEvent(call.EventFieldDigit, "c2", "x")) // ignored
	a.c.Observe(callEvent(call.EventCallStarted, "bad.id", ""))
	waitEntry(t, a.c, callKey("c1"), "node-a")
	if owner, err := a.c.Owner(context.Background(), "c1"); err != nil || owner != "node-a" {
		t.Fatalf("Owner = %q, %v", owner, err)
	}
	if _, err := a.c.Owner(context.Background(), "c2"); !errors.Is(err, ErrUnknown) {
		t.Errorf("Owner of an unknown call: %v, want ErrUnknown", err)
	}
	if _, err := a.c.Owner(context.Background(), "bad.id"); !errors.Is(err, ErrUnknown) {
		t.Errorf("Owner of an invalid id: %v, want ErrUnknown", err)
	}

	a.local.set(a.local.captures, "cap1", true)
	a.c.Observe(callEvent(call.EventCaptureStarted, "c1", "cap1"))
	waitEntry(t, a.c, captureKey("cap1"), "c1")
	if owner, err := a.c.locate(context.Background(), target{kind: kindCapture, id: "cap1"}); err != nil || owner != "node-a" {
		t.Fatalf("locate capture = %q, %v", owner, err)
	}

	// The call ends; its capture stays readable here, so both entries stay.
	a.local.set(a.local.calls, "c1", false)
	a.c.Observe(callEvent(call.EventCallEnded, "c1", ""))
	time.Sleep(300 * time.Millisecond) // several refreshes
	if v, ok := entry(t, a.c, callKey("c1")); !ok || v != "node-a" {
		t.Fatalf("call entry gone while its capture is kept: %q %v", v, ok)
	}
	// The manager forgets the capture: the next refresh deletes both.
	a.local.set(a.local.captures, "cap1", false)
	waitEntry(t, a.c, captureKey("cap1"), "")
	waitEntry(t, a.c, callKey("c1"), "")

	// A call without captures leaves the directory when it ends.
	a.local.set(a.local.calls, "c3", true)
	a.c.Observe(callEvent(call.EventCallStarted, "c3", ""))
	waitEntry(t, a.c, callKey("c3"), "node-a")
	a.c.Observe(callEvent(call.EventCallEnded, "c3", ""))
	waitEntry(t, a.c, callKey("c3"), "")

	// A lost call.ended does not keep an entry alive forever.
	a.local.set(a.local.calls, "c4", true)
	a.c.Observe(callEvent(call.EventCallStarted, "c4", ""))
	waitEntry(t, a.c, callKey("c4"), "node-a")
	a.local.set(a.local.calls, "c4", false)
	waitEntry(t, a.c, callKey("c4"), "")
}

func TestDirectoryRefreshAndExpiry(t *testing.T) {
	s := startServer(t)
	ttl := time.Second
	a := newNode(t, connect(t, s), "node-a", func(o *Options) { o.TTL, o.Refresh = ttl, 200*time.Millisecond })
	a.startCall(t, "c1")

	// The owner writes its entries again: they outlive the TTL.
	time.Sleep(3 * ttl)
	if v, ok := entry(t, a.c, callKey("c1")); !ok || v != "node-a" {
		t.Fatalf("refreshed entry gone after %s: %q %v", 3*ttl, v, ok)
	}
	// The owner crashes (its writer stops, nothing is deleted): the entry
	// expires within the TTL.
	a.c.cancel()
	a.c.wg.Wait()
	stopped := time.Now()
	waitEntry(t, a.c, callKey("c1"), "")
	if d := time.Since(stopped); d > 3*ttl {
		t.Errorf("entry expired after %s, want within about %s", d, ttl)
	}
}

func TestCloseDeletesOwnEntries(t *testing.T) {
	s := startServer(t)
	a := newNode(t, connect(t, s), "node-a", nil)
	b := newNode(t, connect(t, s), "node-b", nil)
	a.startCall(t, "ca")
	b.startCall(t, "cb")
	a.local.set(a.local.captures, "capa", true)
	a.c.Observe(callEvent(call.EventCaptureStarted, "ca", "capa"))
	waitEntry(t, b.c, captureKey("capa"), "ca")

	if err := a.c.Close(); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{callKey("ca"), captureKey("capa")} {
		if _, ok := entry(t, b.c, k); ok {
			t.Errorf("%s still in the directory after Close", k)
		}
	}
	if v, ok := entry(t, b.c, callKey("cb")); !ok || v != "node-b" {
		t.Errorf("another node's entry touched: %q %v", v, ok)
	}
	// Events after Close are ignored without blocking.
	for range DefaultQueueSize + 10 {
		a.c.Observe(callEvent(call.EventCallStarted, "late", ""))
	}
	if n := a.c.Dropped(); n != 0 {
		t.Errorf("Dropped = %d after Close, want 0: events are ignored", n)
	}
}

func TestObserveNeverBlocks(t *testing.T) {
	s := startServer(t)
	a := newNode(t, connect(t, s), "node-a", func(o *Options) { o.QueueSize = 4 })
	// Stop the writer so the queue fills.
	a.c.cancel()
	a.c.wg.Wait()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 10 {
			a.c.Observe(callEvent(call.EventCallStarted, "c1", ""))
		}
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Observe blocked on a full queue")
	}
	if n := a.c.Dropped(); n != 6 {
		t.Errorf("Dropped = %d, want 6", n)
	}
}

func TestOptions(t *testing.T) {
	s := startServer(t)
	nc := connect(t, s)
	local := newStubLocal()
	tests := []struct {
		name string
		opts Options
		ok   bool
	}{
		{"defaults", Options{Conn: nc, Local: local}, true},
		{"no conn", Options{Local: local}, false},
		{"no local", Options{Conn: nc}, false},
		{"bad node id", Options{Conn: nc, Local: local, NodeID: "a.b"}, false},
		{"refresh not below ttl", Options{Conn: nc, Local: local, TTL: time.Second, Refresh: time.Second}, false},
		{"negative timeout", Options{Conn: nc, Local: local, RequestTimeout: -1}, false},
		{"too many replicas", Options{Conn: nc, Local: local, Replicas: 7}, false},
		{"bad bucket", Options{Conn: nc, Local: local, Bucket: "a.b"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := tt.opts.withDefaults()
			if (err == nil) != tt.ok {
				t.Fatalf("err = %v, want ok %v", err, tt.ok)
			}
			if !tt.ok {
				return
			}
			if o.TTL != DefaultTTL || o.Refresh != DefaultTTL/4 || o.RequestTimeout != DefaultRequestTimeout ||
				o.Bucket != DefaultBucket || o.Replicas != 1 || !idRE.MatchString(o.NodeID) {
				t.Errorf("defaults: %+v", o)
			}
		})
	}
	if a, b := DefaultNodeID(), DefaultNodeID(); a == b || !idRE.MatchString(a) {
		t.Errorf("DefaultNodeID gave %q and %q", a, b)
	}
}

func TestManagerLocal(t *testing.T) {
	m, err := call.NewManager(call.Options{Sink: &call.RecordingSink{}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(context.Background())
	l := ManagerLocal(m)
	if l.HasCall("nope") || l.HasCapture("nope") {
		t.Error("an empty manager holds something")
	}
}
