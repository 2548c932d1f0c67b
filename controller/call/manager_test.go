package call

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/tonewall/tonewall/controller/capture"
)

type providersFunc func(string) error

func (f providersFunc) Usable(name string) error { return f(name) }

func TestStartCaptureValidatesBeforeLookingUpTheCall(t *testing.T) {
	m, err := NewManager(Options{
		Sink: &RecordingSink{},
		Providers: providersFunc(func(name string) error {
			if name == "stripe" {
				return nil
			}
			return errors.New("not configured")
		}),
		DefaultProvider: "stripe",
	})
	if err != nil {
		t.Fatal(err)
	}
	ok := CaptureRequest{Amount: 1250, Currency: "GBP", Reference: "order-1"}
	tests := []struct {
		name   string
		mutate func(*CaptureRequest)
		want   error
	}{
		{"valid request, unknown call", func(*CaptureRequest) {}, ErrCallNotFound},
		{"zero amount", func(r *CaptureRequest) { r.Amount = 0 }, ErrInvalidRequest},
		{"negative amount", func(r *CaptureRequest) { r.Amount = -5 }, ErrInvalidRequest},
		{"lower-case currency", func(r *CaptureRequest) { r.Currency = "gbp" }, ErrInvalidRequest},
		{"long currency", func(r *CaptureRequest) { r.Currency = "POUND" }, ErrInvalidRequest},
		{"no reference", func(r *CaptureRequest) { r.Reference = "" }, ErrInvalidRequest},
		{"card number as reference", func(r *CaptureRequest) { r.Reference = "4242 4242 4242 4242" }, ErrInvalidRequest},
		{"unknown operation", func(r *CaptureRequest) { r.Operation = "refund" }, ErrInvalidRequest},
		{"unknown field", func(r *CaptureRequest) { r.Fields = []capture.Field{"pan", "pin"} }, ErrInvalidRequest},
		{"unusable provider", func(r *CaptureRequest) { r.Provider = "adyen" }, ErrProviderUnavailable},
		{"postcode requested", func(r *CaptureRequest) {
			r.Fields = []capture.Field{capture.FieldPAN, capture.FieldExpiry, capture.FieldCVV, capture.FieldPostcode}
		}, ErrCallNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := ok
			tt.mutate(&req)
			_, err := m.StartCapture(context.Background(), "no-such-call", req)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestNewManagerNeedsASink(t *testing.T) {
	if _, err := NewManager(Options{}); err == nil {
		t.Fatal("a manager without a sink was accepted")
	}
	if _, err := NewManager(Options{Sink: &RecordingSink{}, Capture: capture.Config{Fields: []capture.Field{"pan", "pan"}}}); err == nil {
		t.Fatal("a capture configuration with a repeated field was accepted")
	}
}

func TestCaptureIDsHoldNoDigits(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 2000; i++ {
		id := newCaptureID()
		if len(id) != 36 || id[:4] != "cap_" || strings.ContainsAny(id, "0123456789") {
			t.Fatalf("capture id %q", id)
		}
		if seen[id] {
			t.Fatalf("capture id %q repeated", id)
		}
		seen[id] = true
	}
}
