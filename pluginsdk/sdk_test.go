package pluginsdk

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

func TestRedactPANs(t *testing.T) {
	tests := []struct{ in, want string }{
		{"no digits here", "no digits here"},
		{"card 4242424242424242 declined", "card [redacted] declined"},
		{"card 4242 4242 4242 4242.", "card [redacted]."},
		{"card 4242-4242-4242-4242", "card [redacted]"},
		{"amex 378282246310005!", "amex [redacted]!"},
		{"two 4111111111111111 and 5555555555554444", "two [redacted] and [redacted]"},
		{"not luhn 4242424242424241", "not luhn 4242424242424241"},
		{"too short 42424242424", "too short 42424242424"},
		{"timestamp 2026-01-02 12:34:56 pid 12345", "timestamp 2026-01-02 12:34:56 pid 12345"},
		{"last4 4242 only", "last4 4242 only"},
		{"x4242424242424242y", "x[redacted]y"},
		{"ref 1 4242 4242 4242 4242", "ref 1 [redacted]"},
		{"20 digits 42424242424242424242", "20 digits 42424242424242424242"},
	}
	for _, tt := range tests {
		if got := redactPANs(tt.in); got != tt.want {
			t.Errorf("redactPANs(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// FuzzRedactPANs puts a PAN, grouped or not, between arbitrary text and
// checks it never survives.
func FuzzRedactPANs(f *testing.F) {
	f.Add("card ", " declined", true)
	f.Add("id 1", "2 x", false)
	f.Add("", "", true)
	f.Fuzz(func(t *testing.T, before, after string, grouped bool) {
		pan := "4242424242424242"
		if grouped {
			pan = "4242 4242-4242 4242"
		}
		out := redactPANs(before + " " + pan + " " + after)
		if strings.Contains(out, pan) || strings.Contains(out, "4242424242424242") {
			t.Fatalf("PAN survived: %q", out)
		}
	})
}

func TestErrorIs(t *testing.T) {
	err := fmt.Errorf("stripe: %w", Errorf(KindDeadline, "after %s", time.Second))
	if !errors.Is(err, ErrDeadline) {
		t.Error("wrapped deadline error is not ErrDeadline")
	}
	if errors.Is(err, ErrInternal) {
		t.Error("deadline error matched ErrInternal")
	}
	if got := ErrUnsupported.Error(); got != "payment provider: unsupported" {
		t.Errorf("Error() = %q", got)
	}
	if got := ErrorKind(42).String(); got != "ErrorKind(42)" {
		t.Errorf("String() = %q", got)
	}
	ce := &ChecksumError{Plugin: "stripe", Path: "/p", Expected: "aa", Actual: "bb"}
	if !errors.Is(fmt.Errorf("x: %w", ce), ErrChecksumMismatch) {
		t.Error("ChecksumError is not ErrChecksumMismatch")
	}
	for _, want := range []string{`"stripe"`, "aa", "bb"} {
		if !strings.Contains(ce.Error(), want) {
			t.Errorf("%q lacks %q", ce.Error(), want)
		}
	}
	if !errors.Is(&HandshakeError{Plugin: "p"}, ErrHandshake) {
		t.Error("HandshakeError is not ErrHandshake")
	}
}

func TestHCLogAdapterRedactsAndKeepsLevels(t *testing.T) {
	var buf bytes.Buffer
	l := newHCLogAdapter(slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	l = l.Named("plugin").With("fixed", "v")
	l.Trace("dropped below debug")
	l.Debug("charging 4242424242424242", "card", "4111 1111 1111 1111", "n", 3)
	l.Warn("careful", "err", errors.New("pan 5555555555554444"))
	out := buf.String()
	for _, pan := range []string{"4242424242424242", "4111 1111 1111 1111", "5555555555554444"} {
		if strings.Contains(out, pan) {
			t.Errorf("log kept %s:\n%s", pan, out)
		}
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		t.Fatalf("got %d lines, want 2 (trace dropped):\n%s", len(lines), out)
	}
	var first map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil {
		t.Fatal(err)
	}
	if first["level"] != "DEBUG" || first["source"] != "plugin" || first["fixed"] != "v" || first["n"] != float64(3) {
		t.Errorf("first line = %v", first)
	}
	if l.GetLevel() != hclog.Debug || !l.IsDebug() || l.IsTrace() {
		t.Errorf("level = %v", l.GetLevel())
	}
	l.StandardLogger(nil).Print("std 4242424242424242")
	if strings.Contains(buf.String(), "4242424242424242") {
		t.Error("standard logger kept the PAN")
	}
}

func TestNewLoggerWritesWhatTheHostParses(t *testing.T) {
	var buf bytes.Buffer
	NewLogger(&buf, slog.LevelDebug).Warn("hello", "k", "v")
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	if m["@level"] != "warn" || m["@message"] != "hello" || m["k"] != "v" {
		t.Errorf("line = %v", m)
	}
	if _, err := time.Parse("2006-01-02T15:04:05.000000Z07:00", m["@timestamp"].(string)); err != nil {
		t.Errorf("timestamp: %v", err)
	}
	if hclog.LevelFromString(m["@level"].(string)) != hclog.Warn {
		t.Error("hclog does not read the level")
	}
}

func TestWatchParent(t *testing.T) {
	var ppid atomic.Int64
	ppid.Store(100)
	gone := make(chan struct{})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		watchParent(ctx, 100, func() int { return int(ppid.Load()) }, time.Millisecond, func() { close(gone) })
	}()
	select {
	case <-gone:
		t.Fatal("reported gone while the parent is alive")
	case <-time.After(20 * time.Millisecond):
	}
	ppid.Store(1)
	select {
	case <-gone:
	case <-time.After(5 * time.Second):
		t.Fatal("re-parenting not noticed")
	}
	<-done

	// Cancelling stops the watcher without calling gone.
	ctx2, cancel2 := context.WithCancel(t.Context())
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		watchParent(ctx2, 100, func() int { return 100 }, time.Millisecond, func() { t.Error("gone called") })
	}()
	cancel2()
	<-stopped
}
