package adyenpay_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/tonewall/tonewall/plugins/adyen/adyenpay"
	"github.com/tonewall/tonewall/plugins/adyen/adyenpay/adyentest"
	"github.com/tonewall/tonewall/pluginsdk"
	"github.com/tonewall/tonewall/pluginsdk/conformance"
)

// The canary card: planted in every request, looked for everywhere else.
const (
	canaryPAN = "4917610000000000"
	canaryCVC = "3491"
)

func canaryPayment(holder string) *pluginsdk.PaymentRequest {
	req := payment(holder)
	req.Card.Number = []byte(canaryPAN)
	req.Card.CVC = []byte(canaryCVC)
	return req
}

// TestCanary runs every operation and every failure path with a planted
// card and checks that its PAN and CVC appear in no log line, error or
// Result, even when the PSP echoes them back in its messages.
func TestCanary(t *testing.T) {
	var logs bytes.Buffer
	srv := adyentest.NewServer(t)
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

	for _, holder := range []string{"", "DECLINED", "CVC_DECLINED", "ERROR", "RECEIVED", "TW_HTTP_500", "TW_HTTP_401", "TW_RESET", "TW_SLOW"} {
		req := canaryPayment(holder)
		keep(p.Authorize(ctx, req))
		keep(p.Status(ctx, &pluginsdk.StatusRequest{TransactionID: req.TransactionID}))
	}
	sale := keep(p.Sale(ctx, canaryPayment("")))
	keep(p.Tokenize(ctx, canaryPayment("")))
	auth := keep(p.Authorize(ctx, canaryPayment("")))
	for _, op := range []func(context.Context, *pluginsdk.ModifyRequest) (*pluginsdk.Result, error){p.Capture, p.Void} {
		keep(op(ctx, &pluginsdk.ModifyRequest{TransactionID: "m-" + auth.TransactionID, IdempotencyKey: "mk-" + auth.TransactionID + fmt.Sprint(len(results)), ProviderReference: auth.ProviderReference}))
	}
	keep(p.Refund(ctx, &pluginsdk.ModifyRequest{TransactionID: "r-1", IdempotencyKey: "rk-1", ProviderReference: sale.ProviderReference}))
	bad := canaryPayment("")
	bad.Card.ExpiryMonth = 0
	keep(p.Authorize(ctx, bad))

	// A PSP that echoes the card back, in an error and in a refusal.
	var calls atomic.Int64
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if calls.Add(1)%2 == 0 {
			w.WriteHeader(422)
			fmt.Fprintf(w, `{"status":422,"errorCode":"101","message":"Invalid card number %s with cvc %s","errorType":"validation"}`, canaryPAN, canaryCVC)
			return
		}
		fmt.Fprintf(w, `{"resultCode":"Refused","refusalReason":"card 4917 6100 0000 0000 cvc %s refused","refusalReasonCode":"2","pspReference":"X1"}`, canaryCVC)
	}))
	t.Cleanup(echo.Close)
	echoed := adyenpay.New(adyenpay.Options{Logger: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if _, err := echoed.Configure(ctx, &pluginsdk.ConfigureRequest{
		Settings: map[string]string{"base_url": echo.URL, "merchant_account": "M"},
		Secrets:  map[string][]byte{"api_key": []byte("k")},
	}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 4; i++ {
		keep(echoed.Sale(ctx, canaryPayment(fmt.Sprint("holder", i))))
	}

	redacted := 0
	for _, r := range results {
		if strings.Contains(r.ProviderMessage, "[redacted]") {
			redacted++
		}
	}
	if redacted < 2 {
		t.Fatalf("the echoing PSP was not exercised: %d redacted messages", redacted)
	}

	canaries := []conformance.Canary{{PAN: canaryPAN, CVC: canaryCVC}}
	var leaks []conformance.Leak
	for _, r := range results {
		leaks = append(leaks, conformance.ScanValue("result", r, canaries)...)
	}
	for _, e := range errs {
		leaks = append(leaks, conformance.ScanText("error", e, canaries, true)...)
	}
	leaks = append(leaks, conformance.ScanText("log", logs.String(), canaries, true)...)
	for _, l := range leaks {
		t.Errorf("card data leaked: %s in %s (line %d)", l.What, l.Where, l.Line)
	}
	if len(results) < 20 || logs.Len() == 0 {
		t.Fatalf("too little to scan: %d results, %d bytes of logs", len(results), logs.Len())
	}
	// The PSP did receive the card: the canary is real.
	var sent bool
	for _, rq := range srv.Requests() {
		if bytes.Contains(rq.Body, []byte(canaryPAN)) && bytes.Contains(rq.Body, []byte(canaryCVC)) {
			sent = true
		}
	}
	if !sent {
		t.Fatal("the canary card never reached the PSP")
	}
}
