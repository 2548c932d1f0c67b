// Package adyenpay is the Tonewall payment provider for Adyen's Checkout API
// v71: MOTO card payments (shopperInteraction "Moto") with raw card data,
// authorisation, sale, card storage, capture, cancel, refund and a status
// query by idempotent replay.
//
// The provider speaks plain net/http. Card bytes are written straight into a
// request buffer that is zeroed once the call returns; they never reach a log
// line, an error or a Result.
package adyenpay

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/tonewall/tonewall/pluginsdk"
)

// Name and Version are what Describe reports.
const (
	Name    = "adyen"
	Version = "1.0.0"
)

// Journal bounds: how many recent operations Status can replay, and for how
// long. Adyen keeps idempotency keys for at least 31 days; the journal is the
// shorter of the two.
const (
	journalSize = 10000
	journalTTL  = 48 * time.Hour
)

// Errors are pluginsdk errors so their kind crosses the plugin boundary:
// operations before a successful Configure fail with
// pluginsdk.ErrNotConfigured, requests the host should never send (no
// transaction id, no idempotency key, a reference that is not a pspReference)
// with pluginsdk.ErrInvalidRequest. Payment outcomes, including failures at
// Adyen, are Results, not errors.

// Options configure a Provider. The zero value is usable.
type Options struct {
	// Logger receives operational logs (ids, outcomes, codes; never card
	// data or keys). Nil discards them.
	Logger *slog.Logger
	// Transport carries the HTTP calls. Nil means a clone of
	// http.DefaultTransport.
	Transport http.RoundTripper
	// Now is the clock for the status journal. Nil means time.Now.
	Now func() time.Time
}

// Provider implements pluginsdk.Provider for Adyen. It is safe for
// concurrent use; Configure may be called at any time.
type Provider struct {
	log     *slog.Logger
	http    *http.Client
	cfg     atomic.Pointer[config]
	journal *journal
}

var _ pluginsdk.Provider = (*Provider)(nil)

// New returns an unconfigured Provider.
func New(opts Options) *Provider {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	return &Provider{
		log:     log,
		http:    newHTTPClient(opts.Transport),
		journal: newJournal(journalSize, journalTTL, now),
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
		Brands: []string{"visa", "mastercard", "amex", "discover", "diners", "jcb", "maestro", "unionpay"},
	}, nil
}

// Configure validates and installs settings and secrets. The new
// configuration applies to calls started after it returns; calls in flight
// finish with the one they started with.
func (p *Provider) Configure(ctx context.Context, req *pluginsdk.ConfigureRequest) (*pluginsdk.ConfigureResponse, error) {
	if req == nil {
		return nil, pluginsdk.Errorf(pluginsdk.KindNotConfigured, "adyen: empty configure request")
	}
	cfg, err := parseConfig(req.Settings, req.Secrets)
	if err != nil {
		return nil, err
	}
	p.cfg.Store(cfg)
	host := ""
	if u, err := url.Parse(cfg.endpoint); err == nil {
		host = u.Host
	}
	p.log.InfoContext(ctx, "adyen configured", "endpoint_host", host, "merchant_account", cfg.merchantAccount)
	return &pluginsdk.ConfigureResponse{}, nil
}

func (p *Provider) config() (*config, error) {
	cfg := p.cfg.Load()
	if cfg == nil {
		return nil, pluginsdk.Errorf(pluginsdk.KindNotConfigured, "adyen: Configure has not succeeded yet")
	}
	return cfg, nil
}

// logResult writes one line per operation: ids and outcome only.
func (p *Provider) logResult(ctx context.Context, op pluginsdk.Operation, r *pluginsdk.Result, status int, start time.Time) {
	p.log.InfoContext(ctx, "adyen operation",
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
