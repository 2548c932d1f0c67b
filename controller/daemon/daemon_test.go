package daemon

import (
	"strings"
	"testing"

	"github.com/tonewall/tonewall/controller/call"
	"github.com/tonewall/tonewall/controller/webhook"
)

func TestWebhookType(t *testing.T) {
	tests := []struct {
		ev   call.Event
		want string
	}{
		{call.Event{Type: call.EventCaptureStarted}, webhook.TypeCaptureStarted},
		{call.Event{Type: call.EventPaymentResult, Outcome: "approved"}, webhook.TypePaymentApproved},
		{call.Event{Type: call.EventPaymentResult, Outcome: "declined"}, webhook.TypePaymentDeclined},
		{call.Event{Type: call.EventPaymentResult, Outcome: "failed-before-sending"}, webhook.TypePaymentFailed},
		{call.Event{Type: call.EventPaymentResult, Outcome: "unknown"}, webhook.TypePaymentUnknown},
		{call.Event{Type: call.EventPaymentResult, Outcome: "recorded"}, ""},
		{call.Event{Type: call.EventCaptureFinished, Outcome: "cancelled"}, webhook.TypeCaptureCancelled},
		{call.Event{Type: call.EventCaptureFinished, Outcome: "caller-hung-up"}, webhook.TypeCaptureCallerHungUp},
		{call.Event{Type: call.EventCaptureFinished, Outcome: "attempts-exhausted"}, webhook.TypePaymentFailed},
		{call.Event{Type: call.EventCaptureFinished, Outcome: "card-ready"}, ""},
		{call.Event{Type: call.EventFieldDigit, Digits: 4}, ""},
	}
	for _, tt := range tests {
		if got := webhookType(tt.ev); got != tt.want {
			t.Errorf("webhookType(%s/%s) = %q, want %q", tt.ev.Type, tt.ev.Outcome, got, tt.want)
		}
	}
}

func TestLoopbackOnly(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:8080": true, "[::1]:8080": true, "localhost:8080": true,
		"0.0.0.0:8080": false, ":8080": false, "10.0.0.5:8080": false, "nonsense": false,
	} {
		if got := loopbackOnly(addr); got != want {
			t.Errorf("loopbackOnly(%q) = %v, want %v", addr, got, want)
		}
	}
}

func TestOpenAPIRefusedOffLoopback(t *testing.T) {
	d, err := New(Options{ESLAddr: "127.0.0.1:0", APIAddr: "0.0.0.0:0", Sink: &call.RecordingSink{}})
	if err != nil {
		t.Fatal(err)
	}
	err = d.Start()
	if err == nil {
		d.Shutdown(t.Context())
		t.Fatal("an API without keys started on a non-loopback address")
	}
	if !strings.Contains(err.Error(), "no keys") {
		t.Errorf("error %q does not say why", err)
	}
}
