package outbox

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// testLogger discards logs unless TONEWALL_TEST_LOG is set.
func testLogger(tb testing.TB) *slog.Logger {
	tb.Helper()
	if os.Getenv("TONEWALL_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// openTest opens an embedded outbox under dir and closes it at cleanup.
func openTest(tb testing.TB, opts Options) *Outbox {
	tb.Helper()
	if opts.Logger == nil {
		opts.Logger = testLogger(tb)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	o, err := Open(ctx, opts)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() { o.Close() })
	return o
}

// next waits for the next message or fails the test.
func next(tb testing.TB, r *Receiver, within time.Duration) *Msg {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	m, err := r.Next(ctx)
	if err != nil {
		tb.Fatalf("Next: %v", err)
	}
	return m
}

// receive opens a receiver closed at cleanup.
func receive(tb testing.TB, o *Outbox) *Receiver {
	tb.Helper()
	r, err := o.Receive(context.Background(), 4)
	if err != nil {
		tb.Fatalf("Receive: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		r.Close(ctx)
	})
	return r
}

// waitPending polls until the outbox holds want messages.
func waitPending(tb testing.TB, o *Outbox, want uint64) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		n, err := o.Pending(context.Background())
		if err == nil && n == want {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("pending = %d (err %v), want %d", n, err, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestPublishReceiveAck(t *testing.T) {
	o := openTest(t, Options{DataDir: t.TempDir()})
	ctx := context.Background()
	ack, err := o.Publish(ctx, Message{ID: "e1.crm", Key: "crm", Header: map[string]string{"Tonewall-Event": "e1"}, Data: []byte("body")})
	if err != nil {
		t.Fatal(err)
	}
	if ack.Duplicate || ack.Sequence == 0 {
		t.Fatalf("ack = %+v", ack)
	}
	dup, err := o.Publish(ctx, Message{ID: "e1.crm", Key: "crm", Data: []byte("body")})
	if err != nil {
		t.Fatal(err)
	}
	if !dup.Duplicate {
		t.Fatalf("second publish with the same id: Duplicate = false")
	}
	waitPending(t, o, 1)

	r := receive(t, o)
	m := next(t, r, 5*time.Second)
	if m.ID() != "e1.crm" || m.Key() != "crm" || string(m.Data()) != "body" || m.Header("Tonewall-Event") != "e1" {
		t.Fatalf("got id %q key %q data %q header %q", m.ID(), m.Key(), m.Data(), m.Header("Tonewall-Event"))
	}
	if m.Delivered() != 1 || m.Sequence() != ack.Sequence {
		t.Fatalf("delivered %d seq %d", m.Delivered(), m.Sequence())
	}
	if err := m.Ack(ctx); err != nil {
		t.Fatal(err)
	}
	waitPending(t, o, 0)
}

func TestRetryAndDrop(t *testing.T) {
	o := openTest(t, Options{DataDir: t.TempDir()})
	ctx := context.Background()
	for _, id := range []string{"a", "b"} {
		if _, err := o.Publish(ctx, Message{ID: id, Key: "k", Data: []byte(id)}); err != nil {
			t.Fatal(err)
		}
	}
	r := receive(t, o)
	first := next(t, r, 5*time.Second)
	second := next(t, r, 5*time.Second)
	start := time.Now()
	if err := first.Retry(ctx, 300*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if err := second.Drop(ctx); err != nil {
		t.Fatal(err)
	}
	again := next(t, r, 5*time.Second)
	if again.ID() != first.ID() || again.Delivered() != 2 {
		t.Fatalf("redelivered %q (%d times), want %q twice", again.ID(), again.Delivered(), first.ID())
	}
	if waited := time.Since(start); waited < 250*time.Millisecond {
		t.Fatalf("redelivered after %s, want >= 300ms", waited)
	}
	if err := again.Ack(ctx); err != nil {
		t.Fatal(err)
	}
	waitPending(t, o, 0)
}

// TestRetryDelaySurvivesRestart checks that a delayed retry is kept by
// JetStream on disk: after the server restarts on the same directory the
// message comes back, and not before its delay (less one second: the server
// stores pending timestamps with one-second resolution).
func TestRetryDelaySurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	o, err := Open(ctx, Options{DataDir: dir, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := o.Publish(ctx, Message{ID: "x", Key: "k", Data: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	r, err := o.Receive(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	m := next(t, r, 5*time.Second)
	start := time.Now()
	if err := m.Retry(ctx, 3*time.Second); err != nil {
		t.Fatal(err)
	}
	r.Close(ctx)
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	if err := o.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := o.Publish(ctx, Message{ID: "y", Key: "k"}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Publish after Close: %v, want ErrClosed", err)
	}

	o2 := openTest(t, Options{DataDir: dir})
	r2 := receive(t, o2)
	m2 := next(t, r2, 10*time.Second)
	if m2.ID() != "x" {
		t.Fatalf("got %q", m2.ID())
	}
	if waited := time.Since(start); waited < 1900*time.Millisecond {
		t.Fatalf("redelivered %s after the delayed retry, want about 3s", waited)
	}
	if err := m2.Ack(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestPublishRejectsBadMessages(t *testing.T) {
	o := openTest(t, Options{DataDir: t.TempDir()})
	tests := []struct {
		name string
		msg  Message
	}{
		{"no id", Message{Key: "k"}},
		{"empty key", Message{ID: "i"}},
		{"dotted key", Message{ID: "i", Key: "a.b"}},
		{"wildcard key", Message{ID: "i", Key: "*"}},
		{"space in key", Message{ID: "i", Key: "a b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := o.Publish(context.Background(), tt.msg); err == nil {
				t.Fatal("Publish accepted an invalid message")
			}
		})
	}
}

func TestOptionsValidation(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		ok   bool
	}{
		{"defaults", Options{}, true},
		{"loopback v6", Options{Host: "::1"}, true},
		{"localhost", Options{Host: "localhost"}, true},
		{"public host", Options{Host: "0.0.0.0"}, false},
		{"private host", Options{Host: "10.0.0.1"}, false},
		{"bad port", Options{Port: 70000}, false},
		{"bad stream", Options{Stream: "a.b"}, false},
		{"bad subject", Options{Subject: "a.>"}, false},
		{"negative ack wait", Options{AckWait: -time.Second}, false},
		{"cluster without routes", Options{Cluster: Cluster{Name: "c", Listen: "127.0.0.1:0"}}, false},
		{"cluster without name", Options{Cluster: Cluster{Listen: "127.0.0.1:0", Routes: []string{"nats-route://127.0.0.1:1"}}}, false},
		{"cluster bad listen", Options{Cluster: Cluster{Name: "c", Listen: "nope", Routes: []string{"nats-route://127.0.0.1:1"}}}, false},
		{"cluster", Options{Cluster: Cluster{Name: "c", Listen: "127.0.0.1:0", Routes: []string{"nats-route://127.0.0.1:1"}}}, true},
		{"url with cluster", Options{URL: "nats://127.0.0.1:4222", Cluster: Cluster{Name: "c"}}, false},
		{"url", Options{URL: "nats://127.0.0.1:4222"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.opts.withDefaults()
			if (err == nil) != tt.ok {
				t.Fatalf("err = %v, want ok=%v", err, tt.ok)
			}
			if err == nil && (got.Stream == "" || got.AckWait == 0 || got.Logger == nil || got.MaxAckPending != -1) {
				t.Fatalf("defaults not filled: %+v", got)
			}
		})
	}
}

// lockedBuffer is an io.Writer safe for the server's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestEmbeddedServerLogsGoToSlog(t *testing.T) {
	var buf lockedBuffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	o := openTest(t, Options{DataDir: t.TempDir(), Logger: log})
	if !strings.Contains(buf.String(), "component=nats-server") {
		t.Fatalf("no embedded server lines in the log:\n%s", buf.String())
	}
	if !strings.HasPrefix(o.ClientURL(), "nats://127.0.0.1:") {
		t.Fatalf("client URL %q is not loopback", o.ClientURL())
	}
}

func TestExternalURL(t *testing.T) {
	// One embedded outbox serves as the "external" server for a second one.
	host := openTest(t, Options{DataDir: t.TempDir()})
	client := openTest(t, Options{URL: host.ClientURL()})
	if client.Replicas() != 1 {
		t.Fatalf("replicas = %d", client.Replicas())
	}
	ctx := context.Background()
	if _, err := client.Publish(ctx, Message{ID: "via-url", Key: "k", Data: []byte("v")}); err != nil {
		t.Fatal(err)
	}
	r := receive(t, host)
	if m := next(t, r, 5*time.Second); m.ID() != "via-url" {
		t.Fatalf("got %q", m.ID())
	}
}
