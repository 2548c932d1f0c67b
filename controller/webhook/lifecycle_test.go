package webhook

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/tonewall/tonewall/controller/outbox"
	"github.com/tonewall/tonewall/controller/outbox/outboxtest"
)

// TestCloseStopsEverything: after Sender.Close and outbox.Close, every
// goroutine they started (the Sender's, the NATS client's and the embedded
// server's) has ended.
func TestCloseStopsEverything(t *testing.T) {
	secret := newSecret(t)
	rc := newReceiver(t, secret)
	baseline := runtime.NumGoroutine()

	ctx := context.Background()
	ob, err := outbox.Open(ctx, outbox.Options{DataDir: t.TempDir(), Logger: outboxtest.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(ctx, ob, Options{
		Endpoints:         []Endpoint{{ID: "crm", URL: rc.url("/hook")}},
		Secrets:           StaticSecrets{"crm": {secret}},
		AllowLoopbackHTTP: true,
		Workers:           8,
		Logger:            outboxtest.Logger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	publishAll(t, s, testEvent("life", 1), testEvent("life", 2))
	waitFor(t, 10*time.Second, "deliveries", func() bool { return rc.delivered() == 2 })
	if n := runtime.NumGoroutine(); n < baseline+8 {
		t.Fatalf("%d goroutines while running, baseline %d: workers not running?", n, baseline)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := ob.Close(); err != nil {
		t.Fatal(err)
	}
	rc.srv.CloseClientConnections()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > baseline {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines left, baseline %d:\n%s", runtime.NumGoroutine(), baseline, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}
