package webhook

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestPayloadShape(t *testing.T) {
	tests := []struct {
		golden string
		ev     Event
	}{
		{"payment_approved.json", testEvent("evt", 1)},
		{"capture_started.json", Event{ID: "evt-2", Type: TypeCaptureStarted, CaptureID: "cap-2", CallID: "call-2",
			Reference: "INV-2", Amount: 500, Currency: "EUR", At: time.Date(2026, 3, 1, 12, 0, 0, 500, time.FixedZone("CET", 3600))}},
		{"payment_declined.json", Event{ID: "evt-3", Type: TypePaymentDeclined, CaptureID: "cap-3", Amount: 0,
			Currency: "USD", Provider: "adyen", Outcome: "declined", Reason: "insufficient_funds", Brand: "mastercard",
			Last4: "0005", At: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			got, err := tt.ev.body()
			if err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(filepath.Join("testdata", tt.golden))
			if err != nil {
				t.Fatal(err)
			}
			var g, w any
			if err := json.Unmarshal(got, &g); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(want, &w); err != nil {
				t.Fatal(err)
			}
			gb, _ := json.Marshal(g)
			wb, _ := json.Marshal(w)
			if !bytes.Equal(gb, wb) {
				t.Fatalf("payload\n got %s\nwant %s", gb, wb)
			}
		})
	}
}

func TestEventValidation(t *testing.T) {
	ok := testEvent("evt", 1)
	const pan = "4242424242424242"
	tests := []struct {
		name   string
		mutate func(*Event)
		want   error
	}{
		{"valid", func(*Event) {}, nil},
		{"no id", func(e *Event) { e.ID = "" }, ErrInvalidEvent},
		{"dotted id", func(e *Event) { e.ID = "a.b" }, ErrInvalidEvent},
		{"long id", func(e *Event) { e.ID = strings.Repeat("a", 101) }, ErrInvalidEvent},
		{"unknown type", func(e *Event) { e.Type = "payment.refunded" }, ErrInvalidEvent},
		{"last4 too long", func(e *Event) { e.Last4 = "42424" }, ErrInvalidEvent},
		{"last4 letters", func(e *Event) { e.Last4 = "42a2" }, ErrInvalidEvent},
		{"no time", func(e *Event) { e.At = time.Time{} }, ErrInvalidEvent},
		{"pan in reference", func(e *Event) { e.Reference = pan }, ErrCardData},
		{"pan in reason", func(e *Event) { e.Reason = "card " + pan + " declined" }, ErrCardData},
		{"pan as id", func(e *Event) { e.ID = pan }, ErrCardData},
		{"amount shaped like a card", func(e *Event) { e.Amount = 4242424242424242 }, ErrCardData},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := ok
			tt.mutate(&ev)
			_, err := ev.body()
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), pan[:12]) {
				t.Fatalf("error repeats the card number: %q", err)
			}
		})
	}
}

func TestCheckNoCardNumber(t *testing.T) {
	tests := []struct {
		in     string
		refuse bool
	}{
		{"", false},
		{`{"amount":1999}`, false},
		{"12345678901", false},        // 11 digits
		{"123456789012", false},       // 12 digits, not Luhn-valid
		{"000000000000", true},        // 12 digits, Luhn-valid
		{"x4242424242424242x", true},  // a PAN inside text
		{"4242 4242 4242 4242", true}, // grouped as printed on the card
		{"2026-03-01T12:00:00.123456789Z", false},
		{"a12345678901b12345678901", false},
		{"call 1ba9e5fb-4cd9-46f9-84dd-000000000000", false}, // a uuid is not a card
		{"0000000000000000000000", false},                    // longer than any card number
	}
	for _, tt := range tests {
		err := checkNoCardNumber([]byte(tt.in))
		if (err != nil) != tt.refuse {
			t.Errorf("checkNoCardNumber(%q) = %v, want refuse=%v", tt.in, err, tt.refuse)
		}
	}
}

func TestNewEventID(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := NewEventID()
		if !validID(id) || !strings.HasPrefix(id, "evt_") || checkNoCardNumber([]byte(id)) != nil {
			t.Fatalf("bad id %q", id)
		}
		if seen[id] {
			t.Fatalf("duplicate id %q", id)
		}
		seen[id] = true
	}
}

func TestKnownType(t *testing.T) {
	for _, typ := range Types() {
		if !KnownType(typ) {
			t.Errorf("KnownType(%q) = false", typ)
		}
	}
	if n := len(Types()); n != 7 {
		t.Errorf("%d types, want 7", n)
	}
	for _, typ := range []string{"", "payment", "payment.refunded", "PAYMENT.APPROVED"} {
		if KnownType(typ) {
			t.Errorf("KnownType(%q) = true", typ)
		}
	}
}
