package stripepay_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tonewall/tonewall/plugins/stripe/stripepay"
	"github.com/tonewall/tonewall/plugins/stripe/stripepay/stripetest"
	"github.com/tonewall/tonewall/pluginsdk"
	"github.com/tonewall/tonewall/pluginsdk/conformance"
)

func configured(tb testing.TB, settings map[string]string, secrets map[string][]byte, logs *bytes.Buffer) *stripepay.Provider {
	tb.Helper()
	o := stripepay.Options{}
	if logs != nil {
		o.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	p := stripepay.New(o)
	if _, err := p.Configure(context.Background(), &pluginsdk.ConfigureRequest{Settings: settings, Secrets: secrets}); err != nil {
		tb.Fatal(err)
	}
	return p
}

var seq atomic.Int64

func payment(pan string, amount int64) *pluginsdk.PaymentRequest {
	n := seq.Add(1)
	return &pluginsdk.PaymentRequest{
		TransactionID: fmt.Sprintf("st-txn-%d", n), IdempotencyKey: fmt.Sprintf("st-idem-%d", n),
		Amount: pluginsdk.Money{Minor: amount, Currency: "GBP"}, Channel: pluginsdk.ChannelMOTO, Reference: "order",
		Card: pluginsdk.Card{Number: []byte(pan), ExpiryMonth: 12, ExpiryYear: 2034, CVC: []byte("123")},
	}
}

func TestOutcomes(t *testing.T) {
	srv := stripetest.NewServer(t)
	p := configured(t, srv.Settings(), srv.Secrets(), nil)
	ctx := context.Background()
	tests := []struct {
		name    string
		op      func(context.Context, *pluginsdk.PaymentRequest) (*pluginsdk.Result, error)
		pan     string
		amount  int64
		outcome pluginsdk.Outcome
		reason  pluginsdk.Reason
		code    string
	}{
		{"authorize", p.Authorize, "4242424242424242", 1000, pluginsdk.OutcomeApproved, "", "requires_capture"},
		{"sale", p.Sale, "4242424242424242", 1000, pluginsdk.OutcomeApproved, "", "succeeded"},
		{"generic decline", p.Sale, "4000000000000002", 1000, pluginsdk.OutcomeDeclined, pluginsdk.ReasonCardDeclined, "generic_decline"},
		{"insufficient funds", p.Sale, "4000000000009995", 1000, pluginsdk.OutcomeDeclined, pluginsdk.ReasonInsufficientFunds, "insufficient_funds"},
		{"expired", p.Authorize, "4000000000000069", 1000, pluginsdk.OutcomeDeclined, pluginsdk.ReasonExpiredCard, "expired_card"},
		{"incorrect cvc", p.Authorize, "4000000000000127", 1000, pluginsdk.OutcomeDeclined, pluginsdk.ReasonIncorrectCVC, "incorrect_cvc"},
		{"5xx", p.Sale, "4242424242424242", 5001, pluginsdk.OutcomeUnknown, pluginsdk.ReasonProcessingError, ""},
		{"bad pan", p.Sale, "4242", 1000, pluginsdk.OutcomeFailedBefore, pluginsdk.ReasonInvalidNumber, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := payment(tt.pan, tt.amount)
			r, err := tt.op(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			if r.Outcome != tt.outcome || r.Reason != tt.reason || r.ProviderCode != tt.code {
				t.Fatalf("got %s/%s/%q, want %s/%s/%q (%s)", r.Outcome, r.Reason, r.ProviderCode, tt.outcome, tt.reason, tt.code, r.ProviderMessage)
			}
		})
	}
	bad := configured(t, srv.Settings(), map[string][]byte{"api_key": []byte("sk_test_wrong")}, nil)
	if r, _ := bad.Sale(ctx, payment("4242424242424242", 1000)); r.Outcome != pluginsdk.OutcomeFailedBefore || r.Reason != pluginsdk.ReasonConfigError {
		t.Fatalf("wrong key: %+v", r)
	}
	if _, err := stripepay.New(stripepay.Options{}).Sale(ctx, payment("4242424242424242", 1)); !errors.Is(err, pluginsdk.ErrNotConfigured) {
		t.Fatalf("unconfigured: %v", err)
	}
}

func TestIdempotencyKeysPerStep(t *testing.T) {
	srv := stripetest.NewServer(t)
	p := configured(t, srv.Settings(), srv.Secrets(), nil)
	req := payment("4242424242424242", 1000)
	if _, err := p.Authorize(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	reqs := srv.Requests()
	if len(reqs) != 2 || reqs[0].IdempotencyKey != req.IdempotencyKey+"-pm" || reqs[1].IdempotencyKey != req.IdempotencyKey+"-pi" {
		t.Fatalf("keys %+v", reqs)
	}
	long := payment("4242424242424242", 1000)
	long.IdempotencyKey = strings.Repeat("k", 300)
	if _, err := p.Sale(context.Background(), long); err != nil {
		t.Fatal(err)
	}
	for _, r := range srv.Requests()[2:] {
		if len(r.IdempotencyKey) > 255 || r.IdempotencyKey == "" {
			t.Fatalf("key of %d characters", len(r.IdempotencyKey))
		}
	}
}

func TestUnknownThenStatus(t *testing.T) {
	srv := stripetest.NewServer(t)
	p := configured(t, srv.Settings(), srv.Secrets(), nil)
	ctx := context.Background()
	// A connection dropped before the answer is retried by net/http itself,
	// because the request carries an Idempotency-Key: Stripe answers the
	// replay with the stored PaymentIntent, so there is still one charge.
	dropped := payment("4242424242424242", 5002)
	r, err := p.Sale(ctx, dropped)
	if err != nil || r.Outcome != pluginsdk.OutcomeApproved {
		t.Fatalf("dropped connection: %+v %v", r, err)
	}
	var piCalls []string
	for _, rq := range srv.Requests() {
		if rq.Path == "/v1/payment_intents" && strings.HasPrefix(rq.IdempotencyKey, dropped.IdempotencyKey) {
			piCalls = append(piCalls, rq.IdempotencyKey)
		}
	}
	if len(piCalls) != 2 || piCalls[0] != piCalls[1] {
		t.Fatalf("replays %v, want two with one key", piCalls)
	}
	for _, amount := range []int64{5003} {
		req := payment("4242424242424242", amount)
		start := time.Now()
		r, err := p.Sale(ctx, req)
		if err != nil || r.Outcome != pluginsdk.OutcomeUnknown || time.Since(start) > 5*time.Second {
			t.Fatalf("amount %d: %+v %v", amount, r, err)
		}
		st, err := p.Status(ctx, &pluginsdk.StatusRequest{TransactionID: req.TransactionID, Operation: pluginsdk.OpSale})
		if err != nil || st.Outcome != pluginsdk.OutcomeApproved || !strings.HasPrefix(st.ProviderReference, "pi_") {
			t.Fatalf("status after %d: %+v %v", amount, st, err)
		}
	}
	auth, _ := p.Authorize(ctx, payment("4242424242424242", 1000))
	st, _ := p.Status(ctx, &pluginsdk.StatusRequest{TransactionID: "cap", ProviderReference: auth.ProviderReference, Operation: pluginsdk.OpCapture})
	if st.Outcome != pluginsdk.OutcomeFailedBefore {
		t.Fatalf("capture status of an uncaptured payment: %+v", st)
	}
	refund := &pluginsdk.ModifyRequest{TransactionID: "rf-1", IdempotencyKey: "rfk-1", ProviderReference: auth.ProviderReference}
	if c, _ := p.Capture(ctx, &pluginsdk.ModifyRequest{TransactionID: "c-1", IdempotencyKey: "ck-1", ProviderReference: auth.ProviderReference}); c.Outcome != pluginsdk.OutcomeApproved {
		t.Fatalf("capture %+v", c)
	}
	if r, _ := p.Refund(ctx, refund); r.Outcome != pluginsdk.OutcomeApproved {
		t.Fatalf("refund %+v", r)
	}
	st, _ = p.Status(ctx, &pluginsdk.StatusRequest{TransactionID: "rf-1", ProviderReference: auth.ProviderReference, Operation: pluginsdk.OpRefund})
	if st.Outcome != pluginsdk.OutcomeApproved {
		t.Fatalf("refund status %+v", st)
	}
	if st, _ := p.Status(ctx, &pluginsdk.StatusRequest{TransactionID: "never"}); st.Outcome != pluginsdk.OutcomeUnknown {
		t.Fatalf("never-sent status %+v", st)
	}
}

func TestCanary(t *testing.T) {
	const pan, cvc = "4917610000000000", "3491"
	var logs bytes.Buffer
	srv := stripetest.NewServer(t)
	p := configured(t, srv.Settings(), srv.Secrets(), &logs)
	ctx := context.Background()
	var results []pluginsdk.Result
	var errs []string
	for _, amount := range []int64{1000, 5001, 5002, 5003} {
		for _, op := range []func(context.Context, *pluginsdk.PaymentRequest) (*pluginsdk.Result, error){p.Authorize, p.Sale, p.Tokenize} {
			req := payment(pan, amount)
			req.Card.CVC = []byte(cvc)
			r, err := op(ctx, req)
			if r != nil {
				results = append(results, *r)
			}
			if err != nil {
				errs = append(errs, err.Error())
			}
		}
	}
	canaries := []conformance.Canary{{PAN: pan, CVC: cvc}}
	var leaks []conformance.Leak
	for _, r := range results {
		leaks = append(leaks, conformance.ScanValue("result", r, canaries)...)
	}
	for _, e := range errs {
		leaks = append(leaks, conformance.ScanText("error", e, canaries, true)...)
	}
	leaks = append(leaks, conformance.ScanText("log", logs.String(), canaries, true)...)
	for _, l := range leaks {
		t.Errorf("card data leaked: %s in %s", l.What, l.Where)
	}
	if len(results) != 12 || logs.Len() == 0 || !bytes.Contains(srv.Requests()[0].Body, []byte(pan)) {
		t.Fatal("the canary was not exercised")
	}
}

// stripeMock starts stripe-mock on a free loopback port. Without the binary
// the test fails in CI and is skipped elsewhere, saying why.
func stripeMock(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("stripe-mock")
	if err != nil {
		gopath, _ := exec.Command("go", "env", "GOPATH").Output()
		bin = filepath.Join(strings.TrimSpace(string(gopath)), "bin", "stripe-mock")
		if _, err := os.Stat(bin); err != nil {
			msg := "stripe-mock not found: go install github.com/stripe/stripe-mock@v0.203.0"
			if os.Getenv("CI") != "" {
				t.Fatal(msg)
			}
			t.Skip(msg)
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cmd := exec.Command(bin, "-http-addr", addr)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return "http://" + addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("stripe-mock did not listen on %s", addr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestStripeMockAcceptsRequests sends every operation to stripe-mock, which
// validates parameters against Stripe's OpenAPI schema: none may be
// rejected as invalid (stripe-mock's fixtures are static, so only request
// validity is checked here).
func TestStripeMockAcceptsRequests(t *testing.T) {
	base := stripeMock(t)
	p := configured(t, map[string]string{"api_base": base}, map[string][]byte{"api_key": []byte("sk_test_123")}, nil)
	ctx := context.Background()
	check := func(name string, r *pluginsdk.Result, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if r.Outcome == pluginsdk.OutcomeFailedBefore || r.Outcome == pluginsdk.OutcomeUnknown {
			t.Errorf("%s: stripe-mock rejected the request: %s/%s %s %s", name, r.Outcome, r.Reason, r.ProviderCode, r.ProviderMessage)
		}
	}
	auth, err := p.Authorize(ctx, payment("4242424242424242", 1000))
	check("authorize", auth, err)
	r, err := p.Sale(ctx, payment("4242424242424242", 1000))
	check("sale", r, err)
	r, err = p.Tokenize(ctx, payment("4242424242424242", 0))
	check("tokenize", r, err)
	pi := auth.ProviderReference
	if !strings.HasPrefix(pi, "pi_") {
		t.Fatalf("authorize reference %q", pi)
	}
	for name, op := range map[string]func(context.Context, *pluginsdk.ModifyRequest) (*pluginsdk.Result, error){"capture": p.Capture, "void": p.Void, "refund": p.Refund} {
		r, err := op(ctx, &pluginsdk.ModifyRequest{TransactionID: "m-" + name, IdempotencyKey: "mk-" + name, ProviderReference: pi, Amount: pluginsdk.Money{Minor: 500, Currency: "GBP"}})
		if err != nil || r.Outcome == pluginsdk.OutcomeFailedBefore || r.Outcome == pluginsdk.OutcomeUnknown {
			t.Errorf("%s rejected: %+v %v", name, r, err)
		}
	}
	for _, st := range []*pluginsdk.StatusRequest{
		{TransactionID: "s1", ProviderReference: pi, Operation: pluginsdk.OpAuthorize},
		{TransactionID: "s2", Operation: pluginsdk.OpSale},
		{TransactionID: "s3", ProviderReference: pi, Operation: pluginsdk.OpRefund},
	} {
		r, err := p.Status(ctx, st)
		if err != nil || strings.Contains(r.ProviderMessage, "failed") {
			t.Errorf("status %s: %+v %v", st.TransactionID, r, err)
		}
	}
}
