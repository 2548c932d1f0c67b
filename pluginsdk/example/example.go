// Package example is a complete payment provider plugin that talks to no PSP:
// it approves and declines the PSPs' documented test cards from memory. It is
// the template for a real plugin (see pluginsdk/README.md), the plugin the
// conformance kit is proven against, and a provider for local development
// (`tonewall plugin example`).
//
// Settings:
//
//	delay            a Go duration every payment call waits first, honouring
//	                 its context (default none)
//	ignore_deadline  "true": the delay ignores the context, as a wedged PSP
//	                 client would; the SDK's deadline guard still answers
//
// The example keeps every result in memory, keyed by idempotency key and by
// transaction id, so a repeated key returns the first result and Status
// answers for any earlier operation.
package example

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/tonewall/tonewall/pluginsdk"
)

// Version is the example provider's version.
const Version = "1.0.0"

// Provider is the example pluginsdk.Provider. The zero value is not usable:
// call New.
type Provider struct {
	log *slog.Logger
	now func() time.Time

	mu             sync.Mutex
	configured     bool
	delay          time.Duration
	ignoreDeadline bool
	seq            int
	charges        int                 // approved authorizations and sales
	byKey          map[string]*record  // idempotency key → first answer
	byTx           map[string]*record  // transaction id → answer
	payments       map[string]*payment // provider reference → money state
	tokens         map[string]string   // idempotency key → token
}

// record is one answered operation.
type record struct {
	fingerprint string
	result      pluginsdk.Result
}

// payment is the money state of one authorization or sale.
type payment struct {
	currency   string
	authorized int64
	captured   int64
	refunded   int64
	voided     bool
}

// Option configures a Provider.
type Option func(*Provider)

// WithLogger sets the logger; the default writes JSON to stderr through
// pluginsdk.NewLogger at level Info.
func WithLogger(l *slog.Logger) Option { return func(p *Provider) { p.log = l } }

// WithClock sets the clock used for expiry checks.
func WithClock(now func() time.Time) Option { return func(p *Provider) { p.now = now } }

// New returns an example provider.
func New(opts ...Option) *Provider {
	p := &Provider{
		now:      time.Now,
		byKey:    make(map[string]*record),
		byTx:     make(map[string]*record),
		payments: make(map[string]*payment),
		tokens:   make(map[string]string),
	}
	for _, o := range opts {
		o(p)
	}
	if p.log == nil {
		p.log = pluginsdk.NewLogger(nil, slog.LevelInfo)
	}
	return p
}

// Serve runs the example provider as a plugin process. The controller calls
// it when started as `tonewall plugin example`.
func Serve() { pluginsdk.Serve(New()) }

// Charges reports how many authorizations and sales were approved: a repeated
// idempotency key must not add one.
func (p *Provider) Charges() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.charges
}

// Describe implements pluginsdk.Provider.
func (p *Provider) Describe(context.Context, *pluginsdk.DescribeRequest) (*pluginsdk.DescribeResponse, error) {
	return &pluginsdk.DescribeResponse{
		Name:    "example",
		Version: Version,
		Operations: []pluginsdk.Operation{
			pluginsdk.OpAuthorize, pluginsdk.OpSale, pluginsdk.OpTokenize, pluginsdk.OpCapture,
			pluginsdk.OpVoid, pluginsdk.OpRefund, pluginsdk.OpStatus,
		},
		Brands: []string{"visa", "mastercard", "amex", "discover"},
	}, nil
}

// Configure implements pluginsdk.Provider.
func (p *Provider) Configure(_ context.Context, req *pluginsdk.ConfigureRequest) (*pluginsdk.ConfigureResponse, error) {
	var delay time.Duration
	if s := req.Settings["delay"]; s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			return nil, pluginsdk.Errorf(pluginsdk.KindInvalidRequest, "setting delay: not a duration")
		}
		delay = d
	}
	ignore, _ := strconv.ParseBool(req.Settings["ignore_deadline"])
	p.mu.Lock()
	p.configured, p.delay, p.ignoreDeadline = true, delay, ignore
	p.mu.Unlock()
	// Only the names of secrets are logged, never their values.
	p.log.Info("configured", "settings", len(req.Settings), "secrets", len(req.Secrets), "delay", delay.String())
	return &pluginsdk.ConfigureResponse{}, nil
}

// begin checks the provider is configured and waits out the configured delay.
func (p *Provider) begin(ctx context.Context) error {
	p.mu.Lock()
	ok, delay, ignore := p.configured, p.delay, p.ignoreDeadline
	p.mu.Unlock()
	if !ok {
		return pluginsdk.ErrNotConfigured
	}
	if delay <= 0 {
		return nil
	}
	if ignore {
		time.Sleep(delay)
		return nil
	}
	t := time.NewTimer(delay)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Authorize implements pluginsdk.Provider.
func (p *Provider) Authorize(ctx context.Context, req *pluginsdk.PaymentRequest) (*pluginsdk.Result, error) {
	return p.pay(ctx, pluginsdk.OpAuthorize, req)
}

// Sale implements pluginsdk.Provider.
func (p *Provider) Sale(ctx context.Context, req *pluginsdk.PaymentRequest) (*pluginsdk.Result, error) {
	return p.pay(ctx, pluginsdk.OpSale, req)
}

// Tokenize implements pluginsdk.Provider.
func (p *Provider) Tokenize(ctx context.Context, req *pluginsdk.PaymentRequest) (*pluginsdk.Result, error) {
	return p.pay(ctx, pluginsdk.OpTokenize, req)
}

func (p *Provider) pay(ctx context.Context, op pluginsdk.Operation, req *pluginsdk.PaymentRequest) (*pluginsdk.Result, error) {
	if err := p.begin(ctx); err != nil {
		return nil, err
	}
	if req.TransactionID == "" || req.IdempotencyKey == "" {
		return nil, pluginsdk.Errorf(pluginsdk.KindInvalidRequest, "transaction id and idempotency key are required")
	}
	if op != pluginsdk.OpTokenize && !validCurrency(req.Amount.Currency) {
		return nil, pluginsdk.Errorf(pluginsdk.KindInvalidRequest, "currency must be an ISO 4217 code")
	}
	c := req.Card
	res := pluginsdk.Result{
		TransactionID: req.TransactionID,
		Brand:         brand(c.Number),
		ExpiryMonth:   c.ExpiryMonth,
		ExpiryYear:    c.ExpiryYear,
	}
	if n := len(c.Number); n >= 4 {
		res.Last4 = string(c.Number[n-4:])
	}
	// The fingerprint ties a key to what it was first used for; it holds the
	// last four only, never the number.
	fp := fmt.Sprintf("%s|%d|%s|%s", op, req.Amount.Minor, req.Amount.Currency, res.Last4)

	p.mu.Lock()
	defer p.mu.Unlock()
	if r, ok := p.byKey[req.IdempotencyKey]; ok {
		if r.fingerprint != fp {
			return nil, pluginsdk.Errorf(pluginsdk.KindInvalidRequest, "idempotency key reused with different parameters")
		}
		out := r.result
		return &out, nil
	}

	switch reason := checkCard(c, p.now()); {
	case reason != pluginsdk.ReasonNone:
		// Refused before reaching an issuer: nothing recorded, safe to retry.
		res.Outcome, res.Reason, res.ProviderCode = pluginsdk.OutcomeFailedBefore, reason, string(reason)
		return &res, nil
	case op != pluginsdk.OpTokenize && req.Amount.Minor <= 0:
		res.Outcome, res.Reason, res.ProviderCode = pluginsdk.OutcomeFailedBefore, pluginsdk.ReasonInvalidAmount, "invalid_amount"
		return &res, nil
	}

	tc, known := lookupCard(c.Number)
	p.seq++
	switch {
	case !known:
		res.Outcome, res.Reason = pluginsdk.OutcomeDeclined, pluginsdk.ReasonCardDeclined
		res.ProviderCode, res.ProviderMessage = "test_mode_live_card", "a non-test card was used in test mode"
	case tc.reason != pluginsdk.ReasonNone:
		res.Outcome, res.Reason, res.ProviderCode = pluginsdk.OutcomeDeclined, tc.reason, tc.code
		res.ProviderMessage = "declined by the test issuer"
	case op == pluginsdk.OpTokenize:
		res.Outcome = pluginsdk.OutcomeApproved
		res.Token = fmt.Sprintf("tok_ex_%06d", p.seq)
		res.ProviderReference = res.Token
	default:
		res.Outcome = pluginsdk.OutcomeApproved
		res.ProviderReference = fmt.Sprintf("pay_ex_%06d", p.seq)
		pm := &payment{currency: req.Amount.Currency, authorized: req.Amount.Minor}
		if op == pluginsdk.OpSale {
			pm.captured = req.Amount.Minor
		}
		p.payments[res.ProviderReference] = pm
		p.charges++
	}
	if res.ProviderReference == "" {
		res.ProviderReference = fmt.Sprintf("dec_ex_%06d", p.seq)
	}
	rec := &record{fingerprint: fp, result: res}
	p.byKey[req.IdempotencyKey] = rec
	p.byTx[req.TransactionID] = rec
	p.log.Debug("payment", "operation", string(op), "transaction_id", req.TransactionID,
		"outcome", string(res.Outcome), "reason", string(res.Reason), "brand", res.Brand, "last4", res.Last4)
	return &res, nil
}

func validCurrency(c string) bool {
	if len(c) != 3 {
		return false
	}
	for i := 0; i < 3; i++ {
		if c[i] < 'A' || c[i] > 'Z' {
			return false
		}
	}
	return true
}

// Capture implements pluginsdk.Provider.
func (p *Provider) Capture(ctx context.Context, req *pluginsdk.ModifyRequest) (*pluginsdk.Result, error) {
	return p.modify(ctx, pluginsdk.OpCapture, req, func(pm *payment, amount int64) (pluginsdk.Reason, string) {
		switch {
		case pm.voided:
			return pluginsdk.ReasonProcessingError, "payment was voided"
		case pm.captured > 0:
			return pluginsdk.ReasonProcessingError, "payment already captured"
		case amount > pm.authorized:
			return pluginsdk.ReasonInvalidAmount, "amount exceeds the authorization"
		}
		pm.captured = amount
		return pluginsdk.ReasonNone, ""
	})
}

// Void implements pluginsdk.Provider.
func (p *Provider) Void(ctx context.Context, req *pluginsdk.ModifyRequest) (*pluginsdk.Result, error) {
	return p.modify(ctx, pluginsdk.OpVoid, req, func(pm *payment, _ int64) (pluginsdk.Reason, string) {
		switch {
		case pm.voided:
			return pluginsdk.ReasonProcessingError, "payment already voided"
		case pm.captured > 0:
			return pluginsdk.ReasonProcessingError, "payment captured; refund it instead"
		}
		pm.voided = true
		return pluginsdk.ReasonNone, ""
	})
}

// Refund implements pluginsdk.Provider.
func (p *Provider) Refund(ctx context.Context, req *pluginsdk.ModifyRequest) (*pluginsdk.Result, error) {
	return p.modify(ctx, pluginsdk.OpRefund, req, func(pm *payment, amount int64) (pluginsdk.Reason, string) {
		switch {
		case pm.captured == 0:
			return pluginsdk.ReasonProcessingError, "nothing captured to refund"
		case req.Amount.Minor == 0:
			amount = pm.captured - pm.refunded
		}
		if amount <= 0 || pm.refunded+amount > pm.captured {
			return pluginsdk.ReasonInvalidAmount, "amount exceeds what remains captured"
		}
		pm.refunded += amount
		return pluginsdk.ReasonNone, ""
	})
}

// modify runs a capture, void or refund once per idempotency key. apply
// changes the payment and returns a decline reason, or ReasonNone.
func (p *Provider) modify(ctx context.Context, op pluginsdk.Operation, req *pluginsdk.ModifyRequest, apply func(pm *payment, amount int64) (pluginsdk.Reason, string)) (*pluginsdk.Result, error) {
	if err := p.begin(ctx); err != nil {
		return nil, err
	}
	if req.TransactionID == "" || req.IdempotencyKey == "" {
		return nil, pluginsdk.Errorf(pluginsdk.KindInvalidRequest, "transaction id and idempotency key are required")
	}
	fp := fmt.Sprintf("%s|%s|%d|%s", op, req.ProviderReference, req.Amount.Minor, req.Amount.Currency)

	p.mu.Lock()
	defer p.mu.Unlock()
	if r, ok := p.byKey[req.IdempotencyKey]; ok {
		if r.fingerprint != fp {
			return nil, pluginsdk.Errorf(pluginsdk.KindInvalidRequest, "idempotency key reused with different parameters")
		}
		out := r.result
		return &out, nil
	}
	pm, ok := p.payments[req.ProviderReference]
	if !ok {
		return nil, pluginsdk.Errorf(pluginsdk.KindInvalidRequest, "no payment with that provider reference")
	}
	if req.Amount.Currency != "" && req.Amount.Currency != pm.currency {
		return nil, pluginsdk.Errorf(pluginsdk.KindInvalidRequest, "currency differs from the payment's")
	}
	amount := req.Amount.Minor
	if amount == 0 {
		amount = pm.authorized
	}
	res := pluginsdk.Result{TransactionID: req.TransactionID, ProviderReference: req.ProviderReference, Outcome: pluginsdk.OutcomeApproved}
	if reason, msg := apply(pm, amount); reason != pluginsdk.ReasonNone {
		res.Outcome, res.Reason, res.ProviderCode, res.ProviderMessage = pluginsdk.OutcomeDeclined, reason, string(reason), msg
	}
	rec := &record{fingerprint: fp, result: res}
	p.byKey[req.IdempotencyKey] = rec
	p.byTx[req.TransactionID] = rec
	p.log.Debug("modify", "operation", string(op), "transaction_id", req.TransactionID, "outcome", string(res.Outcome))
	return &res, nil
}

// Status implements pluginsdk.Provider: it answers from memory and never
// creates anything. A transaction it has never seen did not happen.
func (p *Provider) Status(ctx context.Context, req *pluginsdk.StatusRequest) (*pluginsdk.Result, error) {
	p.mu.Lock()
	configured := p.configured
	r, ok := p.byTx[req.TransactionID]
	p.mu.Unlock()
	if !configured {
		return nil, pluginsdk.ErrNotConfigured
	}
	if !ok {
		return &pluginsdk.Result{
			TransactionID:   req.TransactionID,
			Outcome:         pluginsdk.OutcomeFailedBefore,
			ProviderCode:    "not_found",
			ProviderMessage: "no such transaction",
		}, nil
	}
	out := r.result
	return &out, nil
}
