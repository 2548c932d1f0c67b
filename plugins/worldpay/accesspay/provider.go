// Package accesspay is the Tonewall payment provider for the Access
// Worldpay Payments API (WP-Api-Version 2024-06-01): MOTO card payments
// (channel "moto") with a plain card, authorisation, sale (auto settlement),
// card storage (tokenCreation), settle, cancel, refund through the action
// links Worldpay returns, and a status query through the payment's query link
// or the Payment Queries API.
//
// The provider speaks plain net/http. Card bytes are written straight into a
// request buffer that is zeroed once the call returns; they never reach a log
// line, an error or a Result.
package accesspay

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/tonewall/tonewall/pluginsdk"
)

// Name and Version are what Describe reports.
const (
	Name    = "worldpay"
	Version = "1.0.0"
)

// memoSize bounds how many recent results are remembered.
const memoSize = 10000

// Errors are pluginsdk errors so their kind crosses the plugin boundary:
// operations before a successful Configure fail with
// pluginsdk.ErrNotConfigured, requests the host should never send (no
// transaction id, no idempotency key, a reference this plugin did not make)
// with pluginsdk.ErrInvalidRequest. Payment outcomes, including failures at
// Worldpay, are Results, not errors.

// Options configure a Provider. The zero value is usable.
type Options struct {
	// Logger receives operational logs (ids, outcomes, codes; never card
	// data or keys). Nil discards them.
	Logger *slog.Logger
	// Transport carries the HTTP calls. Nil means a clone of
	// http.DefaultTransport.
	Transport http.RoundTripper
}

// Provider implements pluginsdk.Provider for Worldpay. It is safe for
// concurrent use; Configure may be called at any time.
type Provider struct {
	log  *slog.Logger
	http *http.Client
	cfg  atomic.Pointer[config]
	memo *memo
}

var _ pluginsdk.Provider = (*Provider)(nil)

// New returns an unconfigured Provider.
func New(opts Options) *Provider {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Provider{
		log:  log,
		http: newHTTPClient(opts.Transport),
		memo: newMemo(memoSize),
	}
}

// Describe reports the operations, brands and currencies supported.
func (p *Provider) Describe(ctx context.Context, _ *pluginsdk.DescribeRequest) (*pluginsdk.DescribeResponse, error) {
	return &pluginsdk.DescribeResponse{
		Name:    Name,
		Version: Version,
		Operations: []pluginsdk.Operation{
			pluginsdk.OpAuthorize, pluginsdk.OpSale, pluginsdk.OpTokenize,
			pluginsdk.OpCapture, pluginsdk.OpVoid, pluginsdk.OpRefund, pluginsdk.OpStatus,
		},
		Brands: []string{"visa", "mastercard", "amex", "discover", "diners", "jcb", "maestro"},
	}, nil
}

// Configure validates and installs settings and secrets. The new
// configuration applies to calls started after it returns; calls in flight
// finish with the one they started with.
func (p *Provider) Configure(ctx context.Context, req *pluginsdk.ConfigureRequest) (*pluginsdk.ConfigureResponse, error) {
	if req == nil {
		return nil, pluginsdk.Errorf(pluginsdk.KindNotConfigured, "worldpay: empty configure request")
	}
	cfg, err := parseConfig(req.Settings, req.Secrets)
	if err != nil {
		return nil, err
	}
	p.cfg.Store(cfg)
	p.log.InfoContext(ctx, "worldpay configured", "endpoint_host", cfg.base.Host, "entity", cfg.entity)
	return &pluginsdk.ConfigureResponse{}, nil
}

func (p *Provider) config() (*config, error) {
	cfg := p.cfg.Load()
	if cfg == nil {
		return nil, pluginsdk.Errorf(pluginsdk.KindNotConfigured, "worldpay: Configure has not succeeded yet")
	}
	return cfg, nil
}

// logResult writes one line per operation: ids and outcome only.
func (p *Provider) logResult(ctx context.Context, op pluginsdk.Operation, r *pluginsdk.Result, status int, start time.Time) {
	p.log.InfoContext(ctx, "worldpay operation",
		"op", string(op),
		"txn", r.TransactionID,
		"outcome", string(r.Outcome),
		"reason", string(r.Reason),
		"provider_code", r.ProviderCode,
		"provider_reference", r.ProviderReference,
		"http_status", status,
		"duration", time.Since(start),
	)
}

// transportResult turns a call that got no HTTP response into a Result.
func transportResult(base pluginsdk.Result, ex exchange) pluginsdk.Result {
	r := base
	r.Reason = pluginsdk.ReasonProcessingError
	if !ex.sent {
		r.Outcome = pluginsdk.OutcomeFailedBefore
		r.ProviderMessage = "request not sent: " + errorKind(ex.err)
		return r
	}
	r.Outcome = pluginsdk.OutcomeUnknown
	r.ProviderMessage = "no response after sending: " + errorKind(ex.err)
	return r
}

// errorKind names a transport error without any request content.
func errorKind(err error) string {
	switch {
	case err == nil:
		return "unknown error"
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	}
	var ne interface{ Timeout() bool }
	if errors.As(err, &ne) && ne.Timeout() {
		return "timeout"
	}
	return err.Error()
}
