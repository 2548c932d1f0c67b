// Package daemon wires the controller's parts together: the Event Socket
// server FreeSWITCH connects to, the call manager, the payment sink and the
// HTTP API. main parses flags into Options and runs a Daemon.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/tonewall/tonewall/controller/api"
	"github.com/tonewall/tonewall/controller/auth"
	"github.com/tonewall/tonewall/controller/call"
	"github.com/tonewall/tonewall/controller/capture"
	"github.com/tonewall/tonewall/controller/card"
	"github.com/tonewall/tonewall/controller/cluster"
	"github.com/tonewall/tonewall/controller/esl"
	"github.com/tonewall/tonewall/controller/media"
	"github.com/tonewall/tonewall/controller/outbox"
	"github.com/tonewall/tonewall/controller/payments"
	"github.com/tonewall/tonewall/controller/secrets"
	"github.com/tonewall/tonewall/controller/stream"
	"github.com/tonewall/tonewall/controller/webhook"
	"github.com/tonewall/tonewall/pluginsdk"
)

// Defaults for Options.
const (
	DefaultESLAddr         = esl.DefaultAddr
	DefaultAPIAddr         = api.DefaultAddr
	DefaultPromptDir       = "/usr/share/freeswitch/sounds/tonewall"
	DefaultLanguage        = "en"
	DefaultShutdownTimeout = 30 * time.Second
)

// Options is the controller's whole configuration. Zero values mean the
// defaults; they are filled in one place, setDefaults, and checked in New.
type Options struct {
	ESLAddr         string
	APIAddr         string
	CommandTimeout  time.Duration
	ReorderWindow   time.Duration
	Linger          int
	PromptDir       string
	Language        string
	Tone            string
	MaskRecording   bool
	Fields          []string
	AcceptedBrands  []string
	InterDigit      time.Duration
	FieldTimeout    time.Duration
	MaxAttempts     int
	ShutdownTimeout time.Duration

	// Plugins are the payment provider plugins. None means the embedded
	// example provider (this executable run as "tonewall plugin example").
	Plugins []Plugin
	// Secrets holds provider credentials (Vault, or a dev file); nil if
	// no plugin needs any.
	Secrets secrets.Source
	// DefaultProvider is used when a capture request names none; the first
	// plugin if empty.
	DefaultProvider string

	// Sink, when set, receives completed cards instead of the payment
	// plugins (tests, embedding).
	Sink call.Sink

	// DataDir holds the embedded NATS JetStream server's files (the
	// webhook outbox, the controllers' directory). Empty, with NATSURL
	// empty too, runs without webhooks or clustering.
	DataDir string
	// NATSURL is an external NATS cluster to use instead of the embedded
	// server, when several controllers work as one.
	NATSURL string
	// NATSClusterName, NATSClusterListen and NATSRoutes let the embedded
	// server join other controllers' embedded servers as a cluster.
	NATSClusterName   string
	NATSClusterListen string
	NATSRoutes        []string
	// NodeID names this controller among several; hostname and a random
	// suffix if empty.
	NodeID string
	// Webhooks are the CRM endpoints that receive outcomes.
	Webhooks []webhook.Endpoint
	// WebhookSecrets signs deliveries; the secret store's
	// "webhook/<endpoint>" if nil.
	WebhookSecrets webhook.Secrets
	// AllowLoopbackWebhooks accepts http:// endpoints on loopback
	// (development and tests).
	AllowLoopbackWebhooks bool
	// WebhookSchedule overrides the retry schedule (tests).
	WebhookSchedule []time.Duration

	// APIKeys authenticate CRMs and back offices; loaded from the secret
	// "api/keys" when nil and a secret store is set. With neither, the API
	// is open, which New allows only on a loopback address.
	APIKeys *auth.Keys
	// AgentSigningKey signs agent tokens; every controller of a cluster
	// needs the same one. The secret "api/agent-signing" (key "current")
	// when empty, else a random per-process key.
	AgentSigningKey []byte
	// PanelFrameAncestors are the origins allowed to embed the agent panel.
	PanelFrameAncestors []string
	// PublicURL is the controller's base URL as agents' browsers see it.
	PublicURL string
	// ClusterAPIURL is the base URL at which the other controllers reach
	// this one's API, to relay event streams for the calls it holds; the
	// API's listening address when that is a specific one.
	ClusterAPIURL string
	// Observer receives progress events; may be nil.
	Observer call.Observer
	// Logger for everything; discards if nil.
	Logger *slog.Logger
}

func (o *Options) setDefaults() {
	if o.ESLAddr == "" {
		o.ESLAddr = DefaultESLAddr
	}
	if o.APIAddr == "" {
		o.APIAddr = DefaultAPIAddr
	}
	if o.PromptDir == "" {
		o.PromptDir = DefaultPromptDir
	}
	if o.Language == "" {
		o.Language = DefaultLanguage
	}
	if o.ShutdownTimeout <= 0 {
		o.ShutdownTimeout = DefaultShutdownTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// captureConfig turns the flat options into the engine's configuration.
func (o *Options) captureConfig() (capture.Config, error) {
	cfg := capture.Config{
		InterDigitTimeout: o.InterDigit,
		FieldTimeout:      o.FieldTimeout,
		MaxAttempts:       o.MaxAttempts,
	}
	for _, f := range o.Fields {
		cfg.Fields = append(cfg.Fields, capture.Field(f))
	}
	for _, b := range o.AcceptedBrands {
		br, err := card.ParseBrand(b)
		if err != nil {
			return capture.Config{}, fmt.Errorf("accepted brands: %w", err)
		}
		cfg.Accepted = append(cfg.Accepted, br)
	}
	if _, err := capture.New(cfg); err != nil {
		return capture.Config{}, err
	}
	return cfg, nil
}

// Daemon is a running controller.
type Daemon struct {
	opts    Options
	log     *slog.Logger
	esl     *esl.Server
	calls   *call.Manager
	api     *api.Server
	host    *payments.Host // nil when Options.Sink is set
	prov    *providers
	hub     *stream.Hub
	signer  *auth.Signer
	started time.Time

	outbox *outbox.Outbox
	sender *webhook.Sender
	nc     *nats.Conn
	notify atomic.Pointer[notifier]
	member atomic.Pointer[cluster.Cluster]
	unsubs []func()

	baseCtx context.Context
	cancel  context.CancelFunc

	stopOnce sync.Once
	stopErr  error
}

// New checks the options and builds the parts without starting them.
func New(opts Options) (*Daemon, error) {
	opts.setDefaults()
	cfg, err := opts.captureConfig()
	if err != nil {
		return nil, fmt.Errorf("daemon: %w", err)
	}
	if opts.Linger < 0 {
		return nil, errors.New("daemon: linger must not be negative")
	}
	d := &Daemon{opts: opts, log: opts.Logger}
	d.baseCtx, d.cancel = context.WithCancel(context.Background())
	sink, check, err := d.newPayments()
	if err != nil {
		return nil, fmt.Errorf("daemon: %w", err)
	}
	mgr, err := call.NewManager(call.Options{
		Logger:          opts.Logger.With("component", "call"),
		Capture:         cfg,
		Prompts:         media.Prompts{Dir: opts.PromptDir, Language: opts.Language},
		Tone:            opts.Tone,
		MaskRecording:   opts.MaskRecording,
		Linger:          opts.Linger,
		Sink:            sink,
		Providers:       check,
		DefaultProvider: d.opts.DefaultProvider,
		Observer:        d.observers(),
	})
	if err != nil {
		return nil, fmt.Errorf("daemon: %w", err)
	}
	d.calls = mgr
	d.esl = esl.NewServer(esl.ServerOptions{
		Addr:           opts.ESLAddr,
		CommandTimeout: opts.CommandTimeout,
		ReorderWindow:  opts.ReorderWindow,
		Logger:         opts.Logger.With("component", "esl"),
	})
	if err := d.newAPI(); err != nil {
		return nil, fmt.Errorf("daemon: %w", err)
	}
	return d, nil
}

// newPayments builds the payment side: the plugin host with its
// providers, or the Sink given in the options.
func (d *Daemon) newPayments() (call.Sink, call.Providers, error) {
	if d.opts.Sink != nil {
		return d.opts.Sink, nil, nil
	}
	plugins := d.opts.Plugins
	if len(plugins) == 0 {
		ex, err := embeddedExample()
		if err != nil {
			return nil, nil, err
		}
		plugins = []Plugin{ex}
	}
	if d.opts.DefaultProvider == "" {
		d.opts.DefaultProvider = plugins[0].Name
	}
	host, err := payments.New(payments.Options{
		Plugins: pluginConfigs(plugins),
		Logger:  d.opts.Logger.With("component", "payments"),
		OnResolved: func(captureID string, r pluginsdk.Result) {
			d.calls.ResolvePayment(captureID, resultOf(r))
		},
	})
	if err != nil {
		return nil, nil, err
	}
	d.host = host
	d.prov = newProviders(host, plugins, d.opts.Secrets)
	return d.prov, d.prov, nil
}

// Start launches the payment plugins, delivers their credentials, and opens
// the API and the Event Socket listener.
func (d *Daemon) Start() error {
	d.started = time.Now()
	if d.host != nil {
		ctx, cancel := context.WithTimeout(d.baseCtx, time.Minute)
		d.prov.preload(ctx, d)
		err := d.host.Start(ctx)
		if err == nil {
			d.prov.follow(d)
		}
		cancel()
		if err != nil {
			_ = d.host.Close()
			return err
		}
	}
	if d.opts.durable() {
		ctx, cancel := context.WithTimeout(d.baseCtx, time.Minute)
		err := d.startDurable(ctx)
		cancel()
		if err != nil {
			d.closeDurable()
			d.closePayments()
			return err
		}
	}
	if err := d.startAuth(); err != nil {
		d.closeDurable()
		d.closePayments()
		return err
	}
	if err := d.api.Open(); err != nil {
		d.closeDurable()
		d.closePayments()
		return err
	}
	d.advertise()
	if err := d.esl.Start(d.calls.Handle); err != nil {
		_ = d.api.Close(context.Background())
		d.closeDurable()
		d.closePayments()
		return err
	}
	d.log.Info("tonewall controller started", "esl", d.esl.Addr(), "api", d.api.URL())
	return nil
}

// ESLAddr is where FreeSWITCH should connect, valid after Start.
func (d *Daemon) ESLAddr() string { return d.esl.Addr() }

// APIURL is the HTTP API's base URL, valid after Start.
func (d *Daemon) APIURL() string { return d.api.URL() }

// LateEvents counts events that arrived too late to be put back in order.
func (d *Daemon) LateEvents() uint64 { return d.esl.LateEvents() }

// Calls is the call manager (for embedding and tests).
func (d *Daemon) Calls() *call.Manager { return d.calls }

// Shutdown stops admitting calls, drains live calls and payments until ctx
// is done, and closes the API. Safe to call more than once.
func (d *Daemon) Shutdown(ctx context.Context) error {
	d.stopOnce.Do(func() {
		d.log.Info("shutting down: no new calls; draining live ones", "live", d.esl.LiveCalls())
		err := d.esl.Shutdown(ctx)
		if perr := d.calls.Close(ctx); err == nil {
			err = perr
		}
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		if aerr := d.api.Close(cctx); err == nil {
			err = aerr
		}
		cancel()
		d.closeDurable()
		d.closePayments()
		for _, u := range d.unsubs {
			u()
		}
		d.cancel()
		d.stopErr = err
		d.log.Info("stopped")
	})
	return d.stopErr
}

func (d *Daemon) closePayments() {
	if d.prov != nil {
		d.prov.close()
	}
	if d.host != nil {
		_ = d.host.Close()
	}
	if d.opts.Secrets != nil {
		_ = d.opts.Secrets.Close()
	}
}

// Health is the controller's health report. Status is "degraded" when a
// plugin is down or the secret store cannot be reached (captures for
// providers whose credentials are held keep working).
type Health struct {
	Status     string         `json:"status"`
	LiveCalls  int64          `json:"live_calls"`
	LateEvents uint64         `json:"late_events"`
	Uptime     string         `json:"uptime"`
	Plugins    []PluginHealth `json:"plugins,omitempty"`
	Secrets    *SecretsHealth `json:"secrets,omitempty"`
}

// PluginHealth is one payment plugin's state.
type PluginHealth struct {
	Name      string `json:"name"`
	State     string `json:"state"`
	Restarts  int    `json:"restarts"`
	LastError string `json:"last_error,omitempty"`
	Usable    bool   `json:"usable"`
}

// SecretsHealth is the secret store's state.
type SecretsHealth struct {
	Degraded bool     `json:"degraded"`
	Reason   string   `json:"reason,omitempty"`
	LastOK   string   `json:"last_ok,omitempty"`
	Missing  []string `json:"missing,omitempty"`
}

// Health reports the controller's health.
func (d *Daemon) Health() Health {
	h := Health{
		Status:     "ok",
		LiveCalls:  d.esl.LiveCalls(),
		LateEvents: d.esl.LateEvents(),
		Uptime:     time.Since(d.started).Round(time.Second).String(),
	}
	if d.host != nil {
		for _, p := range d.host.Health() {
			usable := d.prov.Usable(p.Name) == nil && p.Healthy()
			h.Plugins = append(h.Plugins, PluginHealth{Name: p.Name, State: string(p.State), Restarts: p.Restarts, LastError: p.LastError, Usable: usable})
			if !p.Healthy() {
				h.Status = "degraded"
			}
		}
	}
	if d.opts.Secrets != nil {
		sh := d.opts.Secrets.Health()
		h.Secrets = &SecretsHealth{Degraded: sh.Degraded, Reason: sh.Reason, Missing: sh.Missing}
		if !sh.LastOK.IsZero() {
			h.Secrets.LastOK = sh.LastOK.UTC().Format(time.RFC3339)
		}
		if sh.Degraded {
			h.Status = "degraded"
		}
	}
	return h
}

func (d *Daemon) health() any { return d.Health() }
