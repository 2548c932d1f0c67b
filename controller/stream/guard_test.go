package stream

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tonewall/tonewall/controller/call"
)

func TestGuard(t *testing.T) {
	tests := []struct {
		name string
		data string
		ids  []string
		want error
	}{
		{"clean", `{"digits":16,"last4":"4242"}`, nil, nil},
		{"eleven digits", `{"x":"12345678901"}`, nil, nil},
		{"twelve digits", `{"x":"424242424242"}`, nil, ErrCardLike},
		{"a PAN", `{"x":"4242424242424242"}`, nil, ErrCardLike},
		{"digits as a number", `{"amount":4242424242424242}`, nil, ErrCardLike},
		{"split by a dash", `{"x":"424242-424242"}`, nil, nil},
		{"timestamp", `{"at":"2026-03-01T12:00:00.123456789Z"}`, nil, nil},
		{"id exempt", `{"call_id":"a1b2c3d4-0000-4000-8000-123456789012"}`, []string{"a1b2c3d4-0000-4000-8000-123456789012"}, nil},
		{"id not exempt", `{"call_id":"a1b2c3d4-0000-4000-8000-123456789012"}`, nil, ErrCardLike},
		{"exempt id elsewhere does not hide a PAN", `{"call_id":"c1","reason":"4242424242424242"}`, []string{"c1"}, ErrCardLike},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := Guard([]byte(tt.data), tt.ids...); !errors.Is(err, tt.want) {
				t.Errorf("Guard = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestObserveWithholdsCardLikeData(t *testing.T) {
	h := NewHub(Options{})
	s, _ := h.Subscribe(Filter{CallID: "call-1"}, "")
	defer s.Close()
	// A defect upstream puts a PAN where a reason goes.
	h.Observe(call.Event{Type: call.EventFieldInvalid, CallID: "call-1", CaptureID: "cap1", Field: "pan", Reason: "4242424242424242"})
	h.Observe(call.Event{Type: call.EventFieldDigit, CallID: "call-1", CaptureID: "cap1", Field: "pan", Digits: 1})
	msgs := collect(t, s, 2)
	for _, m := range msgs {
		if strings.Contains(string(m.Data), "424242424242") {
			t.Fatalf("card-like data sent: %s", m.Data)
		}
	}
	if msgs[0].Type != TypeDropped || msgs[1].Type != call.EventFieldDigit {
		t.Errorf("messages %s, %s; want dropped then the next event", msgs[0].Type, msgs[1].Type)
	}
	if h.Withheld() != 1 {
		t.Errorf("withheld = %d", h.Withheld())
	}
	// Nor is it kept for replay.
	r, _ := h.Subscribe(Filter{CallID: "call-1"}, "")
	defer r.Close()
	h.mu.Lock()
	for _, m := range h.calls["call-1"].msgs {
		if strings.Contains(string(m.Data), "424242424242") {
			t.Error("card-like data kept in the ring")
		}
	}
	h.mu.Unlock()
	// A call id with twelve digits in a row is no reason to withhold.
	h.Observe(call.Event{Type: call.EventCallBridged, CallID: "00000000-0000-4000-8000-123456789012"})
	if h.Withheld() != 1 {
		t.Error("an event was withheld for its call id")
	}
}

func TestProgressOf(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		ev   call.Event
		want Progress
	}{
		{call.Event{Type: call.EventFieldValid, CallID: "c", CaptureID: "k", Field: "pan", Digits: 16, Brand: "visa", Last4: "4242", At: at},
			Progress{Type: call.EventFieldValid, CallID: "c", CaptureID: "k", Field: "pan", Digits: 16, Result: "valid", Brand: "visa", Last4: "4242", At: at}},
		{call.Event{Type: call.EventFieldInvalid, CallID: "c", Field: "pan", Reason: "luhn", Attempt: 2, At: at},
			Progress{Type: call.EventFieldInvalid, CallID: "c", Field: "pan", Result: "invalid", Reason: "luhn", Error: "invalid_entry", Attempt: 2, At: at}},
		{call.Event{Type: call.EventFieldTimeout, CallID: "c", Field: "cvv", At: at},
			Progress{Type: call.EventFieldTimeout, CallID: "c", Field: "cvv", Result: "timeout", Error: "timeout", At: at}},
		{call.Event{Type: call.EventCaptureFinished, CallID: "c", Outcome: "attempts-exhausted", At: at},
			Progress{Type: call.EventCaptureFinished, CallID: "c", Outcome: "attempts-exhausted", Error: "attempts_exhausted", At: at}},
		{call.Event{Type: call.EventFieldValid, CallID: "c", Last4: "42424", At: at}, // not four digits: dropped
			Progress{Type: call.EventFieldValid, CallID: "c", Result: "valid", At: at}},
		{call.Event{Type: call.EventPaymentResult, CallID: "c", Outcome: "approved", At: at,
			Payment: &call.PaymentResult{Outcome: "approved", Token: "pm_123", ProviderReference: "ref"}},
			Progress{Type: call.EventPaymentResult, CallID: "c", Outcome: "approved", Payment: &Payment{Outcome: "approved"}, At: at}},
	}
	for _, tt := range tests {
		got := ProgressOf(tt.ev)
		gb, _ := Encode(got)
		wb, _ := Encode(tt.want)
		if string(gb) != string(wb) {
			t.Errorf("ProgressOf(%s)\n got %s\nwant %s", tt.ev.Type, gb, wb)
		}
	}
}

func TestEncodeSnapshot(t *testing.T) {
	v := call.CaptureView{ID: "cap_1", CallID: "call-1", State: "complete", Last4: "4242", Brand: "visa",
		Payment: &call.PaymentResult{Outcome: "approved", Token: "tok_secret", ProviderReference: "8815329842815468"}}
	m, err := EncodeSnapshot(Snapshot{CallID: "call-1", Call: CallStatus{ID: "call-1", Live: true}, Captures: []call.CaptureView{v}})
	if err != nil {
		t.Fatal(err)
	}
	if m.Type != TypeSnapshot || m.ID != "" {
		t.Errorf("message %+v", m)
	}
	s := string(m.Data)
	if strings.Contains(s, "tok_secret") || strings.Contains(s, "8815329842815468") || !strings.Contains(s, `"last4":"4242"`) {
		t.Errorf("snapshot %s", s)
	}
	if v.Payment.Token != "tok_secret" {
		t.Error("EncodeSnapshot changed the caller's view")
	}
	v.Reference = "order 4242424242424242"
	if _, err := EncodeSnapshot(Snapshot{CallID: "call-1", Captures: []call.CaptureView{v}}); !errors.Is(err, ErrCardLike) {
		t.Errorf("card-like snapshot: %v", err)
	}
}
