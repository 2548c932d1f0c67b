// Package stripepay is the Tonewall payment provider for Stripe: MOTO card
// payments as a PaymentMethod (type card) confirmed by a PaymentIntent with
// payment_method_options[card][moto], authorisation (capture_method manual),
// sale (automatic), card storage (SetupIntent, moto), capture, cancel,
// refund and a status query that never creates anything.
//
// PaymentIntents, SetupIntents and Refunds go through stripe-go v82 with its
// retries off (the host decides about retries) and its logging off. The one
// call that carries card data, POST /v1/payment_methods, is made with
// net/http from a buffer this package owns and zeroes afterwards: stripe-go
// would copy the card into strings that cannot be wiped. Its errors are
// decoded into the same *stripe.Error as stripe-go's.
package stripepay

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/stripe/stripe-go/v82"

	"github.com/tonewall/tonewall/pluginsdk"
)

// Name and Version are what Describe reports.
const (
	Name    = "stripe"
	Version = "1.0.0"
)

// Setting and secret names read by Configure.
const (
	SettingAPIBase = "api_base" // default https://api.stripe.com; stripe-mock or a test server
	SettingTimeout = "timeout"  // per HTTP call, Go duration; default 30s
	SecretAPIKey   = "api_key"  // sk_live_… or sk_test_… (or a restricted key)
)

const (
	defaultAPIBase    = "https://api.stripe.com"
	defaultTimeout    = 30 * time.Second
	maxIdempotencyKey = 255
	metadataKey       = "tonewall_txn"
)

// Options configure a Provider. The zero value is usable.
type Options struct {
	// Logger receives operational logs (ids, outcomes, codes; never card
	// data or keys). Nil discards them.
	Logger *slog.Logger
	// Transport carries the HTTP calls. Nil means a clone of
	// http.DefaultTransport.
	Transport http.RoundTripper
}

// Provider implements pluginsdk.Provider for Stripe. It is safe for
// concurrent use; Configure may be called at any time.
type Provider struct {
	log  *slog.Logger
	http *http.Client
	cfg  atomic.Pointer[config]
}

var _ pluginsdk.Provider = (*Provider)(nil)

// config is one immutable configuration with its own stripe-go client.
type config struct {
	base    string
	apiKey  string
	timeout time.Duration
	sc      *stripe.Client
}

// New returns an unconfigured Provider.
func New(opts Options) *Provider {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	rt := opts.Transport
	if rt == nil {
		rt = http.DefaultTransport.(*http.Transport).Clone()
	}
	return &Provider{log: log, http: &http.Client{
		Transport:     rt,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// Describe reports the operations and brands supported.
func (p *Provider) Describe(context.Context, *pluginsdk.DescribeRequest) (*pluginsdk.DescribeResponse, error) {
	return &pluginsdk.DescribeResponse{
		Name:    Name,
		Version: Version,
		Operations: []pluginsdk.Operation{
			pluginsdk.OpAuthorize, pluginsdk.OpSale, pluginsdk.OpTokenize,
			pluginsdk.OpCapture, pluginsdk.OpVoid, pluginsdk.OpRefund, pluginsdk.OpStatus,
		},
		Brands: []string{"visa", "mastercard", "amex", "discover", "diners", "jcb", "unionpay"},
	}, nil
}

// Configure installs settings and secrets; calls in flight finish with the
// configuration they started with.
func (p *Provider) Configure(ctx context.Context, req *pluginsdk.ConfigureRequest) (*pluginsdk.ConfigureResponse, error) {
	if req == nil {
		return nil, pluginsdk.Errorf(pluginsdk.KindNotConfigured, "stripe: empty configure request")
	}
	key := strings.TrimSpace(string(req.Secrets[SecretAPIKey]))
	if key == "" {
		return nil, pluginsdk.Errorf(pluginsdk.KindNotConfigured, "stripe: secret %q is required", SecretAPIKey)
	}
	base := strings.TrimRight(strings.TrimSpace(req.Settings[SettingAPIBase]), "/")
	if base == "" {
		base = defaultAPIBase
	}
	if !strings.HasPrefix(base, "https://") && !strings.HasPrefix(base, "http://") {
		return nil, pluginsdk.Errorf(pluginsdk.KindNotConfigured, "stripe: setting %q is not an http(s) URL", SettingAPIBase)
	}
	timeout := defaultTimeout
	if s := req.Settings[SettingTimeout]; s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			return nil, pluginsdk.Errorf(pluginsdk.KindNotConfigured, "stripe: setting %q must be a positive duration", SettingTimeout)
		}
		timeout = d
	}
	// Each call gets its timeout from its context; the client's own timeout
	// is a backstop.
	hc := &http.Client{Transport: p.http.Transport, CheckRedirect: p.http.CheckRedirect, Timeout: timeout + time.Second}
	backend := stripe.GetBackendWithConfig(stripe.APIBackend, &stripe.BackendConfig{
		URL:               stripe.String(base),
		HTTPClient:        hc,
		MaxNetworkRetries: stripe.Int64(0),
		LeveledLogger:     &stripe.LeveledLogger{Level: stripe.LevelNull},
	})
	sc := stripe.NewClient(key, stripe.WithBackends(&stripe.Backends{API: backend, Connect: backend, Uploads: backend, MeterEvents: backend}))
	p.cfg.Store(&config{base: base, apiKey: key, timeout: timeout, sc: sc})
	p.log.InfoContext(ctx, "stripe configured", "api_base", base, "live", strings.HasPrefix(key, "sk_live_") || strings.HasPrefix(key, "rk_live_"))
	return &pluginsdk.ConfigureResponse{}, nil
}

func (p *Provider) config() (*config, error) {
	cfg := p.cfg.Load()
	if cfg == nil {
		return nil, pluginsdk.Errorf(pluginsdk.KindNotConfigured, "stripe: Configure has not succeeded yet")
	}
	return cfg, nil
}

func (p *Provider) logResult(ctx context.Context, op pluginsdk.Operation, r *pluginsdk.Result, start time.Time) {
	p.log.InfoContext(ctx, "stripe operation",
		"op", string(op), "txn", r.TransactionID, "outcome", string(r.Outcome), "reason", string(r.Reason),
		"provider_code", r.ProviderCode, "provider_reference", r.ProviderReference, "duration", time.Since(start))
}

// errorKind names a transport error without request content.
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
	return "transport error"
}
