package accesspay_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tonewall/tonewall/plugins/worldpay/accesspay"
	"github.com/tonewall/tonewall/plugins/worldpay/accesspay/worldpaytest"
	"github.com/tonewall/tonewall/pluginsdk"
	"github.com/tonewall/tonewall/pluginsdk/conformance"
)

const (
	testPAN = "4000000000001091"
	testCVC = "123"
)

func newProvider(tb testing.TB, srv *worldpaytest.Server, logs *bytes.Buffer) *accesspay.Provider {
	tb.Helper()
	o := accesspay.Options{}
	if logs != nil {
		o.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	p := accesspay.New(o)
	if _, err := p.Configure(context.Background(), &pluginsdk.ConfigureRequest{Settings: srv.Settings(), Secrets: srv.Secrets()}); err != nil {
		tb.Fatalf("Configure: %v", err)
	}
	return p
}

var seq atomic.Int64

func payment(holder string) *pluginsdk.PaymentRequest {
	n := seq.Add(1)
	return &pluginsdk.PaymentRequest{
		TransactionID:  fmt.Sprintf("wp-txn-%d", n),
		IdempotencyKey: fmt.Sprintf("wp-idem-%d", n),
		Amount:         pluginsdk.Money{Minor: 4200, Currency: "GBP"},
		Channel:        pluginsdk.ChannelMOTO,
		Card:           pluginsdk.Card{Number: []byte(testPAN), ExpiryMonth: 5, ExpiryYear: 2035, CVC: []byte(testCVC), HolderName: holder},
	}
}

func lastBody(tb testing.TB, srv *worldpaytest.Server) map[string]any {
	tb.Helper()
	reqs := srv.Requests()
	var m map[string]any
	if err := json.Unmarshal(reqs[len(reqs)-1].Body, &m); err != nil {
		tb.Fatalf("body: %v", err)
	}
	return m
}

func TestPayments(t *testing.T) {
	srv := worldpaytest.NewServer(t)
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
		{"authorize", p.Authorize, "Sherlock Holmes", pluginsdk.OutcomeApproved, "", "authorized"},
		{"sale settles", p.Sale, "Sherlock Holmes", pluginsdk.OutcomeApproved, "", "sentForSettlement"},
		{"refused", p.Authorize, "REFUSED", pluginsdk.OutcomeDeclined, pluginsdk.ReasonCardDeclined, "5"},
		{"insufficient funds", p.Sale, "REFUSED51", pluginsdk.OutcomeDeclined, pluginsdk.ReasonInsufficientFunds, "51"},
		{"expired", p.Authorize, "REFUSED54", pluginsdk.OutcomeDeclined, pluginsdk.ReasonExpiredCard, "54"},
		{"cvc", p.Authorize, "REFUSED82", pluginsdk.OutcomeDeclined, pluginsdk.ReasonIncorrectCVC, "82"},
		{"lost card", p.Authorize, "REFUSED41", pluginsdk.OutcomeDeclined, pluginsdk.ReasonPickupCard, "41"},
		{"fraud", p.Authorize, "FRAUD_HIGH_RISK", pluginsdk.OutcomeDeclined, pluginsdk.ReasonCardDeclined, "fraudHighRisk"},
		{"server error", p.Authorize, "TW_HTTP_500", pluginsdk.OutcomeUnknown, pluginsdk.ReasonProcessingError, "internalErrorOccurred"},
		{"unauthorized", p.Sale, "TW_HTTP_401", pluginsdk.OutcomeFailedBefore, pluginsdk.ReasonConfigError, "accessDenied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := payment(tt.holder)
			r, err := tt.op(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			if r.Outcome != tt.outcome || r.Reason != tt.reason || r.ProviderCode != tt.code {
				t.Fatalf("got %s/%s/%s, want %s/%s/%s (%s)", r.Outcome, r.Reason, r.ProviderCode, tt.outcome, tt.reason, tt.code, r.ProviderMessage)
			}
			if r.Last4 != "1091" || r.Brand != "visa" || r.TransactionID != req.TransactionID {
				t.Fatalf("card summary %+v", r)
			}
		})
	}
}

func TestRequestFields(t *testing.T) {
	srv := worldpaytest.NewServer(t)
	p := newProvider(t, srv, nil)
	ctx := context.Background()
	req := payment("Sherlock Holmes")
	if _, err := p.Authorize(ctx, req); err != nil {
		t.Fatal(err)
	}
	got := srv.Requests()[0]
	if got.Path != "/api/payments" || got.CorrelationID != req.IdempotencyKey {
		t.Fatalf("sent %s correlation %q", got.Path, got.CorrelationID)
	}
	b := lastBody(t, srv)
	in := b["instruction"].(map[string]any)
	pi := in["paymentInstrument"].(map[string]any)
	if b["channel"] != "moto" || b["transactionReference"] != req.TransactionID || pi["cardNumber"] != testPAN || pi["cvc"] != testCVC || in["settlement"] != nil {
		t.Fatalf("authorize body = %v", b)
	}
	if ed := pi["expiryDate"].(map[string]any); ed["month"] != float64(5) || ed["year"] != float64(2035) {
		t.Fatalf("expiryDate = %v", ed)
	}
	if _, err := p.Sale(ctx, payment("Sherlock Holmes")); err != nil {
		t.Fatal(err)
	}
	if s := lastBody(t, srv)["instruction"].(map[string]any)["settlement"].(map[string]any); s["auto"] != true {
		t.Fatalf("sale settlement = %v", s)
	}
	tok, err := p.Tokenize(ctx, payment(""))
	if err != nil {
		t.Fatal(err)
	}
	in = lastBody(t, srv)["instruction"].(map[string]any)
	if in["tokenCreation"] == nil || in["customerAgreement"] == nil || in["value"].(map[string]any)["amount"] != float64(0) {
		t.Fatalf("tokenize instruction = %v", in)
	}
	if tok.Outcome != pluginsdk.OutcomeApproved || !strings.Contains(tok.Token, "/tokens/") {
		t.Fatalf("tokenize = %+v", tok)
	}
	long := payment("x")
	long.TransactionID = strings.Repeat("é", 40)
	if _, err := p.Authorize(ctx, long); err != nil {
		t.Fatal(err)
	}
	if ref := lastBody(t, srv)["transactionReference"].(string); len(ref) > 64 || !strings.HasPrefix(ref, "tw-") {
		t.Fatalf("transactionReference = %q", ref)
	}
	if v := srv.Violations(); len(v) > 0 {
		t.Fatalf("violations %v", v)
	}
}

func TestModifications(t *testing.T) {
	srv := worldpaytest.NewServer(t)
	p := newProvider(t, srv, nil)
	ctx := context.Background()
	mod := func(ref string, amount int64) *pluginsdk.ModifyRequest {
		n := seq.Add(1)
		return &pluginsdk.ModifyRequest{TransactionID: fmt.Sprintf("wp-m-%d", n), IdempotencyKey: fmt.Sprintf("wp-mk-%d", n),
			ProviderReference: ref, Amount: pluginsdk.Money{Minor: amount, Currency: "GBP"}}
	}
	last := func() string { r := srv.Requests(); return r[len(r)-1].Path }

	auth, _ := p.Authorize(ctx, payment("A"))
	c, err := p.Capture(ctx, mod(auth.ProviderReference, 0))
	if err != nil || c.Outcome != pluginsdk.OutcomeApproved || !strings.HasSuffix(last(), "/settlements") {
		t.Fatalf("full capture: %+v %v via %s", c, err, last())
	}
	// The capture's reference carries the refund links the settle returned.
	r, err := p.Refund(ctx, mod(c.ProviderReference, 1000))
	if err != nil || r.Outcome != pluginsdk.OutcomeApproved || !strings.HasSuffix(last(), "/partialRefunds") {
		t.Fatalf("partial refund: %+v %v via %s", r, err, last())
	}

	auth2, _ := p.Authorize(ctx, payment("A"))
	pc, err := p.Capture(ctx, mod(auth2.ProviderReference, 100))
	if err != nil || pc.Outcome != pluginsdk.OutcomeApproved || !strings.HasSuffix(last(), "/partialSettlements") {
		t.Fatalf("partial capture: %+v %v via %s", pc, err, last())
	}
	// Refund with the authorisation's reference: its stored links offer no
	// refund, so the plugin asks the payment for its current actions.
	rf, err := p.Refund(ctx, mod(auth2.ProviderReference, 0))
	if err != nil || rf.Outcome != pluginsdk.OutcomeApproved || !strings.HasSuffix(last(), "/refunds") {
		t.Fatalf("refund after re-query: %+v %v via %s", rf, err, last())
	}

	auth3, _ := p.Authorize(ctx, payment("A"))
	v, err := p.Void(ctx, mod(auth3.ProviderReference, 0))
	if err != nil || v.Outcome != pluginsdk.OutcomeApproved || !strings.HasSuffix(last(), "/cancellations") {
		t.Fatalf("void: %+v %v", v, err)
	}
	again, err := p.Capture(ctx, mod(auth3.ProviderReference, 0))
	if err != nil || again.Outcome != pluginsdk.OutcomeDeclined || again.ProviderCode != "sentForCancellation" {
		t.Fatalf("capture after void: %+v %v", again, err)
	}
	if _, err := p.Capture(ctx, mod("pi_123", 0)); !errors.Is(err, pluginsdk.ErrInvalidRequest) {
		t.Fatalf("foreign reference: %v", err)
	}
}

func TestStatus(t *testing.T) {
	srv := worldpaytest.NewServer(t)
	p := newProvider(t, srv, nil)
	ctx := context.Background()
	for _, holder := range []string{"TW_RESET", "TW_SLOW"} {
		t.Run(holder, func(t *testing.T) {
			req := payment(holder)
			start := time.Now()
			r, err := p.Sale(ctx, req)
			if err != nil || r.Outcome != pluginsdk.OutcomeUnknown {
				t.Fatalf("sale: %+v %v", r, err)
			}
			if time.Since(start) > 5*time.Second {
				t.Fatal("the timeout was not honoured")
			}
			st, err := p.Status(ctx, &pluginsdk.StatusRequest{TransactionID: req.TransactionID, Operation: pluginsdk.OpSale})
			if err != nil || st.Outcome != pluginsdk.OutcomeApproved || st.ProviderReference == "" {
				t.Fatalf("status: %+v %v", st, err)
			}
			q := srv.Requests()[len(srv.Requests())-1]
			if !strings.HasPrefix(q.Path, "/paymentQueries/payments") || bytes.Contains(q.Body, []byte(testPAN)) {
				t.Fatalf("status asked %s", q.Path)
			}
		})
	}
	t.Run("by provider reference", func(t *testing.T) {
		auth, _ := p.Authorize(ctx, payment("A"))
		fresh := newProvider(t, srv, nil) // no memory of the payment
		st, err := fresh.Status(ctx, &pluginsdk.StatusRequest{TransactionID: auth.TransactionID, ProviderReference: auth.ProviderReference, Operation: pluginsdk.OpCapture})
		if err != nil || st.Outcome != pluginsdk.OutcomeFailedBefore || st.ProviderCode != "authorized" {
			t.Fatalf("capture status of an uncaptured payment: %+v %v", st, err)
		}
	})
	t.Run("never sent", func(t *testing.T) {
		st, err := p.Status(ctx, &pluginsdk.StatusRequest{TransactionID: "nothing-here"})
		if err != nil || st.Outcome != pluginsdk.OutcomeUnknown {
			t.Fatalf("status: %+v %v", st, err)
		}
	})
}

func TestDeadlineAndConfig(t *testing.T) {
	srv := worldpaytest.NewServer(t)
	p := newProvider(t, srv, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	r, err := p.Authorize(ctx, payment("TW_SLOW"))
	if err != nil || r.Outcome != pluginsdk.OutcomeUnknown || time.Since(start) > time.Second {
		t.Fatalf("slow call: %+v %v after %v", r, err, time.Since(start))
	}
	unconfigured := accesspay.New(accesspay.Options{})
	if _, err := unconfigured.Sale(context.Background(), payment("A")); !errors.Is(err, pluginsdk.ErrNotConfigured) {
		t.Fatalf("unconfigured: %v", err)
	}
	bad := []map[string]string{
		{"narrative": "N"},
		{"entity": "default"},
		{"entity": "bad/entity", "narrative": "N"},
		{"entity": "default", "narrative": "N", "environment": "prod"},
	}
	for _, s := range bad {
		if _, err := unconfigured.Configure(context.Background(), &pluginsdk.ConfigureRequest{Settings: s, Secrets: srv.Secrets()}); !errors.Is(err, pluginsdk.ErrNotConfigured) {
			t.Errorf("Configure(%v) = %v", s, err)
		}
	}
}

// TestCanary plants a card and looks for it in every log line, error and
// Result, including when the PSP echoes it back.
func TestCanary(t *testing.T) {
	const pan, cvc = "4917610000000000", "3491"
	var logs bytes.Buffer
	srv := worldpaytest.NewServer(t)
	p := newProvider(t, srv, &logs)
	ctx := context.Background()
	var results []pluginsdk.Result
	var errs []string
	keep := func(r *pluginsdk.Result, err error) *pluginsdk.Result {
		if r != nil {
			results = append(results, *r)
		}
		if err != nil {
			errs = append(errs, err.Error())
		}
		return r
	}
	canary := func(holder string) *pluginsdk.PaymentRequest {
		r := payment(holder)
		r.Card.Number, r.Card.CVC = []byte(pan), []byte(cvc)
		return r
	}
	for _, h := range []string{"", "REFUSED", "REFUSED82", "FRAUD_HIGH_RISK", "TW_HTTP_500", "TW_HTTP_401", "TW_RESET", "TW_SLOW"} {
		req := canary(h)
		keep(p.Authorize(ctx, req))
		keep(p.Status(ctx, &pluginsdk.StatusRequest{TransactionID: req.TransactionID}))
	}
	sale := keep(p.Sale(ctx, canary("")))
	keep(p.Refund(ctx, &pluginsdk.ModifyRequest{TransactionID: "c-r", IdempotencyKey: "c-rk", ProviderReference: sale.ProviderReference}))
	keep(p.Tokenize(ctx, canary("")))

	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(400)
		fmt.Fprintf(w, `{"errorName":"bodyDoesNotMatchSchema","message":"bad card %s","validationErrors":[{"errorName":"fieldHasInvalidValue","message":"cvc %s is wrong","jsonPath":"$.instruction.paymentInstrument.cvc"}]}`, pan, cvc)
	}))
	t.Cleanup(echo.Close)
	e := accesspay.New(accesspay.Options{Logger: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	settings := srv.Settings()
	settings["base_url"] = echo.URL
	if _, err := e.Configure(ctx, &pluginsdk.ConfigureRequest{Settings: settings, Secrets: srv.Secrets()}); err != nil {
		t.Fatal(err)
	}
	echoed := keep(e.Sale(ctx, canary("")))
	if echoed.Reason != pluginsdk.ReasonInvalidCVC || !strings.Contains(echoed.ProviderMessage, "[redacted]") {
		t.Fatalf("echoing PSP: %+v", echoed)
	}

	canaries := []conformance.Canary{{PAN: pan, CVC: cvc}}
	var leaks []conformance.Leak
	for _, r := range results {
		leaks = append(leaks, conformance.ScanValue("result", r, canaries)...)
	}
	for _, s := range errs {
		leaks = append(leaks, conformance.ScanText("error", s, canaries, true)...)
	}
	leaks = append(leaks, conformance.ScanText("log", logs.String(), canaries, true)...)
	for _, l := range leaks {
		t.Errorf("card data leaked: %s in %s (line %d)", l.What, l.Where, l.Line)
	}
	if len(results) < 15 || logs.Len() == 0 {
		t.Fatalf("too little to scan: %d results", len(results))
	}
}
