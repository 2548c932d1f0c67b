package example

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/tonewall/tonewall/pluginsdk"
)

var now = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

func newConfigured(t testing.TB, settings map[string]string) *Provider {
	t.Helper()
	p := New(WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))), WithClock(func() time.Time { return now }))
	if _, err := p.Configure(t.Context(), &pluginsdk.ConfigureRequest{Settings: settings}); err != nil {
		t.Fatal(err)
	}
	return p
}

var seq int

func request(number, cvc string, amount int64) *pluginsdk.PaymentRequest {
	seq++
	return &pluginsdk.PaymentRequest{
		TransactionID:  fmt.Sprintf("tx-%d", seq),
		IdempotencyKey: fmt.Sprintf("key-%d", seq),
		Amount:         pluginsdk.Money{Minor: amount, Currency: "GBP"},
		Channel:        pluginsdk.ChannelMOTO,
		Card:           pluginsdk.Card{Number: []byte(number), CVC: []byte(cvc), ExpiryMonth: 12, ExpiryYear: 2030},
	}
}

func TestTestCards(t *testing.T) {
	for _, c := range testCards {
		if !luhn(c.number) {
			t.Errorf("test card ending %s fails Luhn", c.number[len(c.number)-4:])
		}
	}
	tests := []struct {
		number, cvc string
		outcome     pluginsdk.Outcome
		reason      pluginsdk.Reason
		brand       string
	}{
		{"4242424242424242", "123", pluginsdk.OutcomeApproved, "", "visa"},
		{"4111111111111111", "737", pluginsdk.OutcomeApproved, "", "visa"},
		{"5555555555554444", "123", pluginsdk.OutcomeApproved, "", "mastercard"},
		{"2223003122003222", "123", pluginsdk.OutcomeApproved, "", "mastercard"},
		{"378282246310005", "1234", pluginsdk.OutcomeApproved, "", "amex"},
		{"6011111111111117", "123", pluginsdk.OutcomeApproved, "", "discover"},
		{"4000000000000002", "123", pluginsdk.OutcomeDeclined, pluginsdk.ReasonCardDeclined, "visa"},
		{"4000000000009995", "123", pluginsdk.OutcomeDeclined, pluginsdk.ReasonInsufficientFunds, "visa"},
		{"4000000000000069", "123", pluginsdk.OutcomeDeclined, pluginsdk.ReasonExpiredCard, "visa"},
		{"4000000000000127", "123", pluginsdk.OutcomeDeclined, pluginsdk.ReasonIncorrectCVC, "visa"},
		{"4012888888881881", "123", pluginsdk.OutcomeDeclined, pluginsdk.ReasonCardDeclined, "visa"}, // not a test card
		{"4242424242424241", "123", pluginsdk.OutcomeFailedBefore, pluginsdk.ReasonInvalidNumber, "visa"},
		{"4242", "123", pluginsdk.OutcomeFailedBefore, pluginsdk.ReasonInvalidNumber, "visa"},
		{"4242424242424242", "12", pluginsdk.OutcomeFailedBefore, pluginsdk.ReasonInvalidCVC, "visa"},
		{"378282246310005", "123", pluginsdk.OutcomeFailedBefore, pluginsdk.ReasonInvalidCVC, "amex"},
	}
	p := newConfigured(t, nil)
	for _, tt := range tests {
		t.Run(tt.number[len(tt.number)-4:], func(t *testing.T) {
			for _, op := range []func(context.Context, *pluginsdk.PaymentRequest) (*pluginsdk.Result, error){p.Authorize, p.Sale} {
				req := request(tt.number, tt.cvc, 500)
				r, err := op(t.Context(), req)
				if err != nil {
					t.Fatal(err)
				}
				if r.Outcome != tt.outcome || r.Reason != tt.reason || r.Brand != tt.brand {
					t.Errorf("got %s/%s/%s, want %s/%s/%s", r.Outcome, r.Reason, r.Brand, tt.outcome, tt.reason, tt.brand)
				}
				if r.TransactionID != req.TransactionID || r.Last4 != tt.number[len(tt.number)-4:] {
					t.Errorf("echo: tx %q last4 %q", r.TransactionID, r.Last4)
				}
			}
		})
	}
}

func TestValidation(t *testing.T) {
	p := newConfigured(t, nil)
	expired := request("4242424242424242", "123", 500)
	expired.Card.ExpiryMonth, expired.Card.ExpiryYear = 4, 2026
	if r, _ := p.Authorize(t.Context(), expired); r.Reason != pluginsdk.ReasonInvalidExpiryDate {
		t.Errorf("expired card: %+v", r)
	}
	zero := request("4242424242424242", "123", 0)
	if r, _ := p.Sale(t.Context(), zero); r.Outcome != pluginsdk.OutcomeFailedBefore || r.Reason != pluginsdk.ReasonInvalidAmount {
		t.Errorf("zero amount: %+v", r)
	}
	bad := request("4242424242424242", "123", 10)
	bad.Amount.Currency = "pounds"
	if _, err := p.Sale(t.Context(), bad); !errors.Is(err, pluginsdk.ErrInvalidRequest) {
		t.Errorf("bad currency: %v", err)
	}
	nokey := request("4242424242424242", "123", 10)
	nokey.IdempotencyKey = ""
	if _, err := p.Sale(t.Context(), nokey); !errors.Is(err, pluginsdk.ErrInvalidRequest) {
		t.Errorf("no key: %v", err)
	}
	if p.Charges() != 0 {
		t.Errorf("charges = %d after only failures", p.Charges())
	}
}

func TestNotConfigured(t *testing.T) {
	p := New(WithLogger(slog.New(slog.DiscardHandler)))
	if _, err := p.Authorize(t.Context(), request("4242424242424242", "123", 1)); !errors.Is(err, pluginsdk.ErrNotConfigured) {
		t.Errorf("Authorize: %v", err)
	}
	if _, err := p.Status(t.Context(), &pluginsdk.StatusRequest{TransactionID: "x"}); !errors.Is(err, pluginsdk.ErrNotConfigured) {
		t.Errorf("Status: %v", err)
	}
	if _, err := p.Configure(t.Context(), &pluginsdk.ConfigureRequest{Settings: map[string]string{"delay": "soon"}}); !errors.Is(err, pluginsdk.ErrInvalidRequest) {
		t.Errorf("bad delay: %v", err)
	}
}

func TestIdempotencyAndStatus(t *testing.T) {
	p := newConfigured(t, nil)
	req := request("4242424242424242", "123", 700)
	first, err := p.Authorize(t.Context(), req)
	if err != nil || first.Outcome != pluginsdk.OutcomeApproved {
		t.Fatal(first, err)
	}
	second, err := p.Authorize(t.Context(), req)
	if err != nil || *second != *first {
		t.Fatalf("repeat: %+v, %v; first %+v", second, err, first)
	}
	if p.Charges() != 1 {
		t.Errorf("charges = %d, want 1", p.Charges())
	}
	changed := *req
	changed.Amount.Minor = 701
	if _, err := p.Authorize(t.Context(), &changed); !errors.Is(err, pluginsdk.ErrInvalidRequest) {
		t.Errorf("key reused for another amount: %v", err)
	}
	st, err := p.Status(t.Context(), &pluginsdk.StatusRequest{TransactionID: req.TransactionID})
	if err != nil || *st != *first {
		t.Errorf("Status: %+v, %v", st, err)
	}
	unknown, err := p.Status(t.Context(), &pluginsdk.StatusRequest{TransactionID: "never"})
	if err != nil || unknown.Outcome != pluginsdk.OutcomeFailedBefore {
		t.Errorf("Status of unknown: %+v, %v", unknown, err)
	}
}

func modify(ref string, amount int64) *pluginsdk.ModifyRequest {
	seq++
	return &pluginsdk.ModifyRequest{
		TransactionID: fmt.Sprintf("tx-%d", seq), IdempotencyKey: fmt.Sprintf("key-%d", seq),
		ProviderReference: ref, Amount: pluginsdk.Money{Minor: amount, Currency: "GBP"},
	}
}

func TestModifyFlows(t *testing.T) {
	p := newConfigured(t, nil)
	ctx := t.Context()
	type step struct {
		name    string
		call    func(context.Context, *pluginsdk.ModifyRequest) (*pluginsdk.Result, error)
		amount  int64
		outcome pluginsdk.Outcome
	}
	tests := []struct {
		name  string
		sale  bool
		steps []step
	}{
		{"capture then refund in two parts", false, []step{
			{"capture", p.Capture, 0, pluginsdk.OutcomeApproved},
			{"capture again", p.Capture, 0, pluginsdk.OutcomeDeclined},
			{"void after capture", p.Void, 0, pluginsdk.OutcomeDeclined},
			{"refund part", p.Refund, 400, pluginsdk.OutcomeApproved},
			{"refund rest", p.Refund, 600, pluginsdk.OutcomeApproved},
			{"refund too much", p.Refund, 1, pluginsdk.OutcomeDeclined},
		}},
		{"void", false, []step{
			{"void", p.Void, 0, pluginsdk.OutcomeApproved},
			{"capture voided", p.Capture, 0, pluginsdk.OutcomeDeclined},
		}},
		{"over-capture", false, []step{{"capture", p.Capture, 1001, pluginsdk.OutcomeDeclined}}},
		{"sale refund", true, []step{
			{"refund sale", p.Refund, 0, pluginsdk.OutcomeApproved},
			{"refund again", p.Refund, 0, pluginsdk.OutcomeDeclined},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pay := p.Authorize
			if tt.sale {
				pay = p.Sale
			}
			r, err := pay(ctx, request("5555555555554444", "123", 1000))
			if err != nil || r.Outcome != pluginsdk.OutcomeApproved {
				t.Fatal(r, err)
			}
			for _, s := range tt.steps {
				req := modify(r.ProviderReference, s.amount)
				got, err := s.call(ctx, req)
				if err != nil || got.Outcome != s.outcome {
					t.Fatalf("%s: %+v, %v; want %s", s.name, got, err, s.outcome)
				}
				again, err := s.call(ctx, req)
				if err != nil || *again != *got {
					t.Fatalf("%s repeated: %+v, %v", s.name, again, err)
				}
			}
		})
	}
	if _, err := p.Capture(ctx, modify("nope", 0)); !errors.Is(err, pluginsdk.ErrInvalidRequest) {
		t.Errorf("unknown reference: %v", err)
	}
}

func TestTokenize(t *testing.T) {
	p := newConfigured(t, nil)
	req := request("4242424242424242", "123", 0)
	r, err := p.Tokenize(t.Context(), req)
	if err != nil || r.Outcome != pluginsdk.OutcomeApproved || r.Token == "" {
		t.Fatal(r, err)
	}
	again, _ := p.Tokenize(t.Context(), req)
	if again.Token != r.Token {
		t.Errorf("token %q then %q", r.Token, again.Token)
	}
	if p.Charges() != 0 {
		t.Error("tokenize charged")
	}
}

func TestDelayHonoursContext(t *testing.T) {
	p := newConfigured(t, map[string]string{"delay": "10s"})
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := p.Authorize(ctx, request("4242424242424242", "123", 1))
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 2*time.Second {
		t.Fatalf("err %v after %s", err, time.Since(start))
	}
	if p.Charges() != 0 {
		t.Error("charged after the deadline")
	}
}

func TestDescribe(t *testing.T) {
	d, err := New(WithLogger(slog.New(slog.DiscardHandler))).Describe(t.Context(), nil)
	if err != nil || d.Name != "example" || len(d.Operations) != 7 {
		t.Fatalf("%+v, %v", d, err)
	}
}
