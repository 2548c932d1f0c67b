package stream

import (
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tonewall/tonewall/controller/call"
)

func digit(callID, capID string, n int) call.Event {
	return call.Event{Type: call.EventFieldDigit, CallID: callID, CaptureID: capID, Field: "pan", Digits: n}
}

// collect takes messages from s until it has n or the deadline passes.
func collect(t testing.TB, s *Subscription, n int) []Message {
	t.Helper()
	var out []Message
	deadline := time.After(5 * time.Second)
	for len(out) < n {
		select {
		case <-s.Ready():
			out = append(out, s.Take()...)
		case <-deadline:
			t.Fatalf("got %d messages, want %d", len(out), n)
		}
	}
	return out
}

func progressOf(t testing.TB, m Message) Progress {
	t.Helper()
	var p Progress
	if err := json.Unmarshal(m.Data, &p); err != nil {
		t.Fatalf("%s: %v", m.Data, err)
	}
	return p
}

func seqOf(t testing.TB, m Message) uint64 {
	t.Helper()
	_, s, _ := strings.Cut(m.ID, "-")
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		t.Fatalf("id %q: %v", m.ID, err)
	}
	return n
}

func TestFanOut(t *testing.T) {
	h := NewHub(Options{})
	a1, _ := h.Subscribe(Filter{CallID: "A"}, "")
	a2, _ := h.Subscribe(Filter{CallID: "A"}, "")
	capOnly, _ := h.Subscribe(Filter{CallID: "A", CaptureID: "cap1"}, "")
	b, _ := h.Subscribe(Filter{CallID: "B"}, "")
	defer a1.Close()
	defer a2.Close()
	defer capOnly.Close()
	defer b.Close()

	h.Observe(call.Event{Type: call.EventCaptureStarted, CallID: "A", CaptureID: "cap1", Required: []string{"pan", "expiry", "cvv"}})
	h.Observe(digit("A", "cap1", 1))
	h.Observe(digit("A", "cap2", 1))
	h.Observe(digit("B", "capB", 1))
	h.Observe(call.Event{Type: call.EventCallEnded, CallID: "A"})

	for name, tt := range map[string]struct {
		s    *Subscription
		want []string
	}{
		"call A #1":   {a1, []string{"cap1", "cap1", "cap2", ""}},
		"call A #2":   {a2, []string{"cap1", "cap1", "cap2", ""}},
		"capture one": {capOnly, []string{"cap1", "cap1", ""}},
		"call B":      {b, []string{"capB"}},
	} {
		msgs := collect(t, tt.s, len(tt.want))
		var got []string
		var last uint64
		for _, m := range msgs {
			p := progressOf(t, m)
			got = append(got, p.CaptureID)
			if m.Type != p.Type {
				t.Errorf("%s: message type %s, data type %s", name, m.Type, p.Type)
			}
			if n := seqOf(t, m); n <= last {
				t.Errorf("%s: ids not increasing: %d after %d", name, n, last)
			} else {
				last = n
			}
		}
		if strings.Join(got, ",") != strings.Join(tt.want, ",") {
			t.Errorf("%s: captures %v, want %v", name, got, tt.want)
		}
	}
}

func TestSlowSubscriberDoesNotBlockObserve(t *testing.T) {
	const buffer = 8
	h := NewHub(Options{Buffer: buffer})
	slow, _ := h.Subscribe(Filter{CallID: "A"}, "")
	fast, _ := h.Subscribe(Filter{CallID: "A"}, "")
	defer slow.Close()
	defer fast.Close()

	// The fast reader drains as it goes; the slow one never reads.
	var wg sync.WaitGroup
	var fastGot []Message
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-fast.Ready():
				fastGot = append(fastGot, fast.Take()...)
			case <-stop:
				fastGot = append(fastGot, fast.Take()...)
				return
			}
		}
	}()

	const n = 1000
	done := make(chan struct{})
	go func() {
		for i := 1; i <= n; i++ {
			h.Observe(digit("A", "cap1", i%20))
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Observe blocked on a subscriber that does not read")
	}
	close(stop)
	wg.Wait()

	msgs := slow.Take()
	if len(msgs) != buffer {
		t.Fatalf("slow subscriber holds %d messages, want its buffer of %d", len(msgs), buffer)
	}
	for i, m := range msgs[:buffer-1] {
		if m.Type != call.EventFieldDigit {
			t.Errorf("message %d is %s", i, m.Type)
		}
	}
	last := msgs[buffer-1]
	var d struct{ Missed int }
	if err := json.Unmarshal(last.Data, &d); err != nil || last.Type != TypeDropped || last.ID != "" {
		t.Fatalf("last message %+v %s, want a dropped marker without id", last, last.Data)
	}
	if d.Missed != n-(buffer-1) {
		t.Errorf("dropped marker counts %d, want %d", d.Missed, n-(buffer-1))
	}
	if h.Dropped() < uint64(d.Missed) {
		t.Errorf("hub counted %d drops", h.Dropped())
	}
	// After catching up, the slow subscriber gets new events again.
	h.Observe(digit("A", "cap1", 3))
	if m := collect(t, slow, 1); m[0].Type != call.EventFieldDigit {
		t.Errorf("after the marker: %+v", m)
	}
	// The fast subscriber saw at least a buffer's worth with no gap before
	// any marker.
	if len(fastGot) < buffer {
		t.Errorf("fast subscriber got only %d messages", len(fastGot))
	}
}

func TestReplay(t *testing.T) {
	h := NewHub(Options{Replay: 4})
	var ids []string
	s0, _ := h.Subscribe(Filter{CallID: "A"}, "")
	for i := 1; i <= 3; i++ {
		h.Observe(digit("A", "cap1", i))
	}
	for _, m := range collect(t, s0, 3) {
		ids = append(ids, m.ID)
	}
	s0.Close()

	tests := []struct {
		name        string
		last        string
		wantResumed bool
		wantDigits  []int
	}{
		{"from the first", ids[0], true, []int{2, 3}},
		{"from the last", ids[2], true, nil},
		{"no id", "", false, nil},
		{"another epoch", "zzz-1", false, nil},
		{"garbage", "12", false, nil},
		{"from the future", strings.Split(ids[0], "-")[0] + "-999", false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, resumed := h.Subscribe(Filter{CallID: "A"}, tt.last)
			defer s.Close()
			if resumed != tt.wantResumed {
				t.Errorf("resumed = %v, want %v", resumed, tt.wantResumed)
			}
			var got []int
			for _, m := range s.Take() {
				got = append(got, progressOf(t, m).Digits)
			}
			if !equalInts(got, tt.wantDigits) {
				t.Errorf("replayed digits %v, want %v", got, tt.wantDigits)
			}
		})
	}

	// Overflow the ring: an id older than what it holds cannot resume.
	for i := 4; i <= 8; i++ {
		h.Observe(digit("A", "cap1", i))
	}
	if s, resumed := h.Subscribe(Filter{CallID: "A"}, ids[0]); resumed || len(s.Take()) != 0 {
		t.Error("resumed past the ring's start")
	}
	// A capture subscription replays only its own capture's events.
	s, _ := h.Subscribe(Filter{CallID: "A"}, "")
	h.Observe(digit("A", "cap1", 9))
	mark := collect(t, s, 1)[0].ID
	h.Observe(digit("A", "cap2", 2))
	h.Observe(digit("A", "cap1", 10))
	c1, resumed := h.Subscribe(Filter{CallID: "A", CaptureID: "cap1"}, mark)
	if msgs := c1.Take(); !resumed || len(msgs) != 1 || progressOf(t, msgs[0]).Digits != 10 {
		t.Errorf("capture replay: resumed %v, %d messages", resumed, len(msgs))
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestRingPruning(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	h := NewHub(Options{Retention: time.Minute, MaxCalls: 3, Now: func() time.Time { return now }})
	h.Observe(call.Event{Type: call.EventCallEnded, CallID: "old"})
	ghost, _ := h.Subscribe(Filter{CallID: "ghost"}, "") // a stream on a call with no events
	ghost.Close()
	now = now.Add(2 * time.Minute)
	h.Observe(digit("A", "c", 1))
	h.mu.Lock()
	_, kept := h.calls["old"]
	_, ghostKept := h.calls["ghost"]
	h.mu.Unlock()
	if kept || ghostKept {
		t.Errorf("kept past the retention: ended call %v, idle call %v", kept, ghostKept)
	}
	for _, id := range []string{"B", "C", "D", "E"} {
		now = now.Add(time.Second)
		h.Observe(digit(id, "c", 1))
	}
	h.mu.Lock()
	n, hasA := len(h.calls), h.calls["A"] != nil
	h.mu.Unlock()
	if n > 3 || hasA {
		t.Errorf("%d calls kept (A kept: %v), want at most 3 and the least recent gone", n, hasA)
	}
}
