package adyenpay_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tonewall/tonewall/plugins/adyen/adyenpay"
	"github.com/tonewall/tonewall/plugins/adyen/adyenpay/adyentest"
	"github.com/tonewall/tonewall/pluginsdk"
)

const (
	testPAN = "4111111111111111"
	testCVC = "737"
)

// newProvider returns a provider configured against srv, logging into buf.
func newProvider(tb testing.TB, srv *adyentest.Server, buf *bytes.Buffer, opts ...func(*adyenpay.Options)) *adyenpay.Provider {
	tb.Helper()
	o := adyenpay.Options{}
	if buf != nil {
		o.Logger = slog.New(slog.NewJSONHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	for _, f := range opts {
		f(&o)
	}
	p := adyenpay.New(o)
	if _, err := p.Configure(context.Background(), &pluginsdk.ConfigureRequest{Settings: srv.Settings(), Secrets: srv.Secrets()}); err != nil {
		tb.Fatalf("Configure: %v", err)
	}
	return p
}

var seq atomic.Int64

func payment(holder string) *pluginsdk.PaymentRequest {
	n := seq.Add(1)
	return &pluginsdk.PaymentRequest{
		TransactionID:  fmt.Sprintf("txn-%d", n),
		IdempotencyKey: fmt.Sprintf("idem-%d", n),
		Amount:         pluginsdk.Money{Minor: 1250, Currency: "GBP"},
		Reference:      fmt.Sprintf("order-%d", n),
		Channel:        pluginsdk.ChannelMOTO,
		Card: pluginsdk.Card{
			Number:      []byte(testPAN),
			ExpiryMonth: 3,
			ExpiryYear:  2030,
			CVC:         []byte(testCVC),
			HolderName:  holder,
		},
	}
}

func lastBody(tb testing.TB, srv *adyentest.Server) map[string]any {
	tb.Helper()
	reqs := srv.Requests()
	if len(reqs) == 0 {
		tb.Fatal("no request reached the server")
	}
	var m map[string]any
	if err := json.Unmarshal(reqs[len(reqs)-1].Body, &m); err != nil {
		tb.Fatalf("request body: %v", err)
	}
	return m
}

func TestPayments(t *testing.T) {
	srv := adyentest.NewServer(t)
	p := newProvider(t, srv, nil)
	ctx := context.Background()
	tests := []struct {
		name    string
		op      func(context.Context, *pluginsdk.PaymentRequest) (*pluginsdk.Result, error)
		holder  string
		outcome pluginsdk.Outcome
		reason  pluginsdk.Reason
		code    string
	}{
		{"authorize approved", p.Authorize, "John Smith", pluginsdk.OutcomeApproved, "", "Authorised"},
		{"sale approved", p.Sale, "John Smith", pluginsdk.OutcomeApproved, "", "Authorised"},
		{"refused", p.Authorize, "DECLINED", pluginsdk.OutcomeDeclined, pluginsdk.ReasonCardDeclined, "2"},
		{"not enough balance", p.Sale, "NOT_ENOUGH_BALANCE", pluginsdk.OutcomeDeclined, pluginsdk.ReasonInsufficientFunds, "12"},
		{"expired", p.Authorize, "CARD_EXPIRED", pluginsdk.OutcomeDeclined, pluginsdk.ReasonExpiredCard, "6"},
		{"cvc declined", p.Authorize, "CVC_DECLINED", pluginsdk.OutcomeDeclined, pluginsdk.ReasonIncorrectCVC, "24"},
		{"blocked", p.Authorize, "BLOCK_CARD", pluginsdk.OutcomeDeclined, pluginsdk.ReasonPickupCard, "5"},
		{"invalid number", p.Authorize, "INVALID_CARD", pluginsdk.OutcomeDeclined, pluginsdk.ReasonInvalidNumber, "8"},
		{"issuer unavailable", p.Authorize, "ISSUER_UNAVAILABLE", pluginsdk.OutcomeDeclined, pluginsdk.ReasonProcessingError, "9"},
		{"error result", p.Authorize, "ERROR", pluginsdk.OutcomeDeclined, pluginsdk.ReasonProcessingError, "4"},
		{"received is not final", p.Authorize, "RECEIVED", pluginsdk.OutcomeUnknown, "", "Received"},
		{"server error", p.Authorize, "TW_HTTP_500", pluginsdk.OutcomeUnknown, pluginsdk.ReasonProcessingError, "905"},
		{"unauthorized", p.Sale, "TW_HTTP_401", pluginsdk.OutcomeFailedBefore, pluginsdk.ReasonConfigError, "000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := payment(tt.holder)
			r, err := tt.op(ctx, req)
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			if r.Outcome != tt.outcome || r.Reason != tt.reason || r.ProviderCode != tt.code {
				t.Fatalf("got %s/%s/%s, want %s/%s/%s (%s)", r.Outcome, r.Reason, r.ProviderCode, tt.outcome, tt.reason, tt.code, r.ProviderMessage)
			}
			if r.TransactionID != req.TransactionID || r.Last4 != "1111" || r.Brand != "visa" || r.ExpiryMonth != 3 || r.ExpiryYear != 2030 {
				t.Fatalf("card summary = %+v", r)
			}
			if tt.outcome == pluginsdk.OutcomeApproved && r.ProviderReference == "" {
				t.Fatal("approved without pspReference")
			}
		})
	}
}

func TestRequestFields(t *testing.T) {
	srv := adyentest.NewServer(t)
	p := newProvider(t, srv, nil)
	ctx := context.Background()

	req := payment("John Smith")
	if _, err := p.Authorize(ctx, req); err != nil {
		t.Fatal(err)
	}
	got := srv.Requests()[0]
	if got.Path != "/v71/payments" || got.IdempotencyKey != req.IdempotencyKey {
		t.Fatalf("path %q key %q", got.Path, got.IdempotencyKey)
	}
	b := lastBody(t, srv)
	pm := b["paymentMethod"].(map[string]any)
	if pm["type"] != "scheme" || pm["number"] != testPAN || pm["expiryMonth"] != "03" || pm["expiryYear"] != "2030" || pm["cvc"] != testCVC || pm["holderName"] != "John Smith" {
		t.Fatalf("paymentMethod = %v", pm)
	}
	if b["shopperInteraction"] != "Moto" || b["merchantAccount"] != adyentest.MerchantAccount || b["reference"] != req.Reference {
		t.Fatalf("body = %v", b)
	}
	if ad := b["additionalData"].(map[string]any); ad["manualCapture"] != "true" {
		t.Fatalf("authorize without manualCapture: %v", ad)
	}
	if md := b["metadata"].(map[string]any); md["tonewall_txn"] != req.TransactionID {
		t.Fatalf("metadata = %v", md)
	}

	if _, err := p.Sale(ctx, payment("John Smith")); err != nil {
		t.Fatal(err)
	}
	b = lastBody(t, srv)
	if b["captureDelayHours"] != float64(0) || b["additionalData"] != nil {
		t.Fatalf("sale body = %v", b)
	}

	tok := payment("John Smith")
	tok.Metadata = map[string]string{"shopper_reference": "crm-42"}
	r, err := p.Tokenize(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	b = lastBody(t, srv)
	if b["storePaymentMethod"] != true || b["shopperReference"] != "crm-42" || b["recurringProcessingModel"] != "CardOnFile" {
		t.Fatalf("tokenize body = %v", b)
	}
	if amt := b["amount"].(map[string]any); amt["value"] != float64(0) {
		t.Fatalf("tokenize must be a zero-value authorisation: %v", amt)
	}
	if r.Outcome != pluginsdk.OutcomeApproved || r.Token != "crm-42|9916178934434753" {
		t.Fatalf("tokenize result = %+v", r)
	}
	if v := srv.Violations(); len(v) != 0 {
		t.Fatalf("violations: %v", v)
	}
}

func TestRejectedBeforeSending(t *testing.T) {
	srv := adyentest.NewServer(t)
	p := newProvider(t, srv, nil)
	tests := []struct {
		name   string
		mutate func(*pluginsdk.PaymentRequest)
		reason pluginsdk.Reason
	}{
		{"short pan", func(r *pluginsdk.PaymentRequest) { r.Card.Number = []byte("4111") }, pluginsdk.ReasonInvalidNumber},
		{"letters in pan", func(r *pluginsdk.PaymentRequest) { r.Card.Number = []byte("4111x11111111111") }, pluginsdk.ReasonInvalidNumber},
		{"month 13", func(r *pluginsdk.PaymentRequest) { r.Card.ExpiryMonth = 13 }, pluginsdk.ReasonInvalidExpiryDate},
		{"two-digit year", func(r *pluginsdk.PaymentRequest) { r.Card.ExpiryYear = 30 }, pluginsdk.ReasonInvalidExpiryDate},
		{"cvc too long", func(r *pluginsdk.PaymentRequest) { r.Card.CVC = []byte("12345") }, pluginsdk.ReasonInvalidCVC},
		{"zero amount", func(r *pluginsdk.PaymentRequest) { r.Amount.Minor = 0 }, pluginsdk.ReasonInvalidAmount},
		{"bad currency", func(r *pluginsdk.PaymentRequest) { r.Amount.Currency = "POUNDS" }, pluginsdk.ReasonInvalidAmount},
		{"ecommerce channel", func(r *pluginsdk.PaymentRequest) { r.Channel = "ecom" }, pluginsdk.ReasonUnsupportedFeature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := payment("John Smith")
			tt.mutate(req)
			r, err := p.Authorize(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			if r.Outcome != pluginsdk.OutcomeFailedBefore || r.Reason != tt.reason {
				t.Fatalf("got %s/%s, want failed-before/%s", r.Outcome, r.Reason, tt.reason)
			}
		})
	}
	if n := len(srv.Requests()); n != 0 {
		t.Fatalf("%d requests sent for rejected payments", n)
	}
}

func TestModifications(t *testing.T) {
	srv := adyentest.NewServer(t)
	p := newProvider(t, srv, nil)
	ctx := context.Background()

	auth, err := p.Authorize(ctx, payment("John Smith"))
	if err != nil || auth.Outcome != pluginsdk.OutcomeApproved {
		t.Fatalf("authorize: %+v %v", auth, err)
	}
	mod := func(amount int64) *pluginsdk.ModifyRequest {
		n := seq.Add(1)
		return &pluginsdk.ModifyRequest{
			TransactionID:     fmt.Sprintf("txn-%d", n),
			IdempotencyKey:    fmt.Sprintf("idem-%d", n),
			ProviderReference: auth.ProviderReference,
			Amount:            pluginsdk.Money{Minor: amount, Currency: "GBP"},
		}
	}
	tests := []struct {
		name   string
		op     func(context.Context, *pluginsdk.ModifyRequest) (*pluginsdk.Result, error)
		req    *pluginsdk.ModifyRequest
		path   string
		amount any
	}{
		{"full capture uses the authorised amount", p.Capture, mod(0), "/captures", float64(1250)},
		{"partial refund", p.Refund, mod(500), "/refunds", float64(500)},
		{"void", p.Void, mod(0), "/cancels", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := tt.op(ctx, tt.req)
			if err != nil {
				t.Fatal(err)
			}
			if r.Outcome != pluginsdk.OutcomeApproved || r.ProviderCode != "received" || r.ProviderReference != auth.ProviderReference {
				t.Fatalf("result = %+v", r)
			}
			reqs := srv.Requests()
			last := reqs[len(reqs)-1]
			if last.Path != "/v71/payments/"+auth.ProviderReference+tt.path || last.IdempotencyKey != tt.req.IdempotencyKey {
				t.Fatalf("sent %s key %s", last.Path, last.IdempotencyKey)
			}
			b := lastBody(t, srv)
			var got any
			if a, ok := b["amount"].(map[string]any); ok {
				got = a["value"]
			}
			if got != tt.amount {
				t.Fatalf("amount = %v, want %v", got, tt.amount)
			}
		})
	}

	t.Run("unknown payment is rejected", func(t *testing.T) {
		req := mod(100)
		req.ProviderReference = "NOSUCHPAYMENT0001"
		r, err := p.Capture(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if r.Outcome != pluginsdk.OutcomeFailedBefore || r.ProviderCode != "167" {
			t.Fatalf("result = %+v", r)
		}
	})
	t.Run("full capture of an unknown amount is not sent", func(t *testing.T) {
		req := mod(0)
		req.ProviderReference = "NOSUCHPAYMENT0002"
		before := len(srv.Requests())
		r, err := p.Capture(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if r.Outcome != pluginsdk.OutcomeFailedBefore || r.Reason != pluginsdk.ReasonInvalidAmount || len(srv.Requests()) != before {
			t.Fatalf("result = %+v", r)
		}
	})
	t.Run("bad provider reference is an error", func(t *testing.T) {
		req := mod(100)
		req.ProviderReference = "../../etc"
		if _, err := p.Capture(ctx, req); !errors.Is(err, pluginsdk.ErrInvalidRequest) {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestStatusResolvesUnknown(t *testing.T) {
	srv := adyentest.NewServer(t)
	p := newProvider(t, srv, nil)
	ctx := context.Background()

	for _, holder := range []string{"TW_RESET", "TW_SLOW"} {
		t.Run(holder, func(t *testing.T) {
			req := payment(holder)
			start := time.Now()
			r, err := p.Sale(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			if r.Outcome != pluginsdk.OutcomeUnknown {
				t.Fatalf("outcome = %s, want unknown", r.Outcome)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Fatalf("took %v; the 2s timeout was not honoured", d)
			}
			before := len(srv.Requests())
			st, err := p.Status(ctx, &pluginsdk.StatusRequest{TransactionID: req.TransactionID, Operation: pluginsdk.OpSale})
			if err != nil {
				t.Fatal(err)
			}
			if st.Outcome != pluginsdk.OutcomeApproved || st.ProviderReference == "" || st.Last4 != "1111" {
				t.Fatalf("status = %+v", st)
			}
			reqs := srv.Requests()
			if len(reqs) != before+1 {
				t.Fatalf("status sent %d requests", len(reqs)-before)
			}
			replay := reqs[len(reqs)-1]
			if replay.IdempotencyKey != req.IdempotencyKey || bytes.Contains(replay.Body, []byte(testPAN)) || bytes.Contains(replay.Body, []byte(`"cvc"`)) {
				t.Fatal("status replay must reuse the key and carry no card data")
			}
		})
	}

	t.Run("final outcome is answered from memory", func(t *testing.T) {
		req := payment("DECLINED")
		if _, err := p.Authorize(ctx, req); err != nil {
			t.Fatal(err)
		}
		before := len(srv.Requests())
		st, err := p.Status(ctx, &pluginsdk.StatusRequest{TransactionID: req.TransactionID})
		if err != nil {
			t.Fatal(err)
		}
		if st.Outcome != pluginsdk.OutcomeDeclined || st.Reason != pluginsdk.ReasonCardDeclined || len(srv.Requests()) != before {
			t.Fatalf("status = %+v", st)
		}
	})
	t.Run("unknown transaction", func(t *testing.T) {
		st, err := p.Status(ctx, &pluginsdk.StatusRequest{TransactionID: "never-seen"})
		if err != nil {
			t.Fatal(err)
		}
		if st.Outcome != pluginsdk.OutcomeUnknown {
			t.Fatalf("status = %+v", st)
		}
	})
}

// failFirst refuses the first connection attempt, as if the network was
// down, and passes the rest through.
type failFirst struct {
	failed atomic.Bool
	next   http.RoundTripper
}

func (f *failFirst) RoundTrip(r *http.Request) (*http.Response, error) {
	if !f.failed.Swap(true) {
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	}
	return f.next.RoundTrip(r)
}

func TestNotSentThenStatus(t *testing.T) {
	srv := adyentest.NewServer(t)
	p := newProvider(t, srv, nil, func(o *adyenpay.Options) { o.Transport = &failFirst{next: http.DefaultTransport} })
	req := payment("John Smith")
	r, err := p.Authorize(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if r.Outcome != pluginsdk.OutcomeFailedBefore {
		t.Fatalf("outcome = %s, want failed-before", r.Outcome)
	}
	st, err := p.Status(context.Background(), &pluginsdk.StatusRequest{TransactionID: req.TransactionID})
	if err != nil {
		t.Fatal(err)
	}
	if st.Outcome != pluginsdk.OutcomeFailedBefore {
		t.Fatalf("status = %+v", st)
	}
	for _, rq := range srv.Requests() {
		if bytes.Contains(rq.Body, []byte(testPAN)) {
			t.Fatal("the status replay carried the card number")
		}
	}
}

func TestDeadlineHonoured(t *testing.T) {
	srv := adyentest.NewServer(t)
	p := newProvider(t, srv, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	r, err := p.Authorize(ctx, payment("TW_SLOW"))
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("took %v with a 200ms deadline", d)
	}
	if r.Outcome != pluginsdk.OutcomeUnknown || !strings.Contains(r.ProviderMessage, "timeout") {
		t.Fatalf("result = %+v", r)
	}
}

func TestNotConfigured(t *testing.T) {
	p := adyenpay.New(adyenpay.Options{})
	ctx := context.Background()
	if _, err := p.Authorize(ctx, payment("x")); !errors.Is(err, pluginsdk.ErrNotConfigured) {
		t.Fatalf("Authorize err = %v", err)
	}
	if _, err := p.Capture(ctx, &pluginsdk.ModifyRequest{TransactionID: "t", IdempotencyKey: "k", ProviderReference: "A"}); !errors.Is(err, pluginsdk.ErrNotConfigured) {
		t.Fatalf("Capture err = %v", err)
	}
	if _, err := p.Status(ctx, &pluginsdk.StatusRequest{TransactionID: "t"}); !errors.Is(err, pluginsdk.ErrNotConfigured) {
		t.Fatalf("Status err = %v", err)
	}
	d, err := p.Describe(ctx, &pluginsdk.DescribeRequest{})
	if err != nil || d.Name != "adyen" || len(d.Operations) != 7 {
		t.Fatalf("Describe = %+v, %v", d, err)
	}
}

func TestMissingIDs(t *testing.T) {
	srv := adyentest.NewServer(t)
	p := newProvider(t, srv, nil)
	req := payment("John Smith")
	req.IdempotencyKey = ""
	if _, err := p.Sale(context.Background(), req); !errors.Is(err, pluginsdk.ErrInvalidRequest) {
		t.Fatalf("err = %v", err)
	}
}

func TestConfigure(t *testing.T) {
	good := map[string]string{"merchant_account": "M"}
	key := map[string][]byte{"api_key": []byte("k")}
	tests := []struct {
		name     string
		settings map[string]string
		secrets  map[string][]byte
		ok       bool
	}{
		{"test defaults", good, key, true},
		{"live with prefix", map[string]string{"merchant_account": "M", "environment": "live", "live_prefix": "1797a841fbb37ca7-AdyenDemo"}, key, true},
		{"live without prefix", map[string]string{"merchant_account": "M", "environment": "live"}, key, false},
		{"prefix with a host in it", map[string]string{"merchant_account": "M", "environment": "live", "live_prefix": "evil.example/x"}, key, false},
		{"unknown environment", map[string]string{"merchant_account": "M", "environment": "prod"}, key, false},
		{"no merchant account", map[string]string{}, key, false},
		{"no api key", good, nil, false},
		{"bad timeout", map[string]string{"merchant_account": "M", "timeout": "soon"}, key, false},
		{"bad base url", map[string]string{"merchant_account": "M", "base_url": "ftp://x"}, key, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := adyenpay.New(adyenpay.Options{})
			_, err := p.Configure(context.Background(), &pluginsdk.ConfigureRequest{Settings: tt.settings, Secrets: tt.secrets})
			if (err == nil) != tt.ok {
				t.Fatalf("err = %v, want ok=%v", err, tt.ok)
			}
			if err != nil && strings.Contains(err.Error(), "k\"") {
				t.Fatalf("error leaks the key: %v", err)
			}
		})
	}
}

func TestKeyRotation(t *testing.T) {
	srv := adyentest.NewServer(t)
	p := adyenpay.New(adyenpay.Options{})
	ctx := context.Background()
	wrong := map[string][]byte{"api_key": []byte("old-key")}
	if _, err := p.Configure(ctx, &pluginsdk.ConfigureRequest{Settings: srv.Settings(), Secrets: wrong}); err != nil {
		t.Fatal(err)
	}
	r, err := p.Sale(ctx, payment("John Smith"))
	if err != nil || r.Outcome != pluginsdk.OutcomeFailedBefore || r.Reason != pluginsdk.ReasonConfigError {
		t.Fatalf("with the old key: %+v %v", r, err)
	}

	// Rotate while payments are running: each call uses one key or the
	// other, never a torn configuration.
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := p.Sale(ctx, payment("John Smith")); err != nil {
				t.Error(err)
			}
		}()
	}
	if _, err := p.Configure(ctx, &pluginsdk.ConfigureRequest{Settings: srv.Settings(), Secrets: srv.Secrets()}); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	r, err = p.Sale(ctx, payment("John Smith"))
	if err != nil || r.Outcome != pluginsdk.OutcomeApproved {
		t.Fatalf("after rotation: %+v %v", r, err)
	}
}
