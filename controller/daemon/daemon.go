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
	"time"

	"github.com/tonewall/tonewall/controller/api"
	"github.com/tonewall/tonewall/controller/call"
	"github.com/tonewall/tonewall/controller/capture"
	"github.com/tonewall/tonewall/controller/card"
	"github.com/tonewall/tonewall/controller/esl"
	"github.com/tonewall/tonewall/controller/media"
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

	// Sink receives completed cards; a RecordingSink if nil.
	Sink call.Sink
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
	if o.Sink == nil {
		o.Sink = &call.RecordingSink{}
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
	started time.Time

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
	mgr, err := call.NewManager(call.Options{
		Logger:        opts.Logger.With("component", "call"),
		Capture:       cfg,
		Prompts:       media.Prompts{Dir: opts.PromptDir, Language: opts.Language},
		Tone:          opts.Tone,
		MaskRecording: opts.MaskRecording,
		Linger:        opts.Linger,
		Sink:          opts.Sink,
		Observer:      opts.Observer,
	})
	if err != nil {
		return nil, fmt.Errorf("daemon: %w", err)
	}
	d := &Daemon{
		opts:  opts,
		log:   opts.Logger,
		calls: mgr,
		esl: esl.NewServer(esl.ServerOptions{
			Addr:           opts.ESLAddr,
			CommandTimeout: opts.CommandTimeout,
			ReorderWindow:  opts.ReorderWindow,
			Logger:         opts.Logger.With("component", "esl"),
		}),
	}
	d.api = &api.Server{
		Addr:     opts.APIAddr,
		Captures: mgr,
		Health:   d.health,
		Logger:   opts.Logger.With("component", "api"),
	}
	return d, nil
}

// Start opens the API and the Event Socket listener.
func (d *Daemon) Start() error {
	d.started = time.Now()
	if err := d.api.Open(); err != nil {
		return err
	}
	if err := d.esl.Start(d.calls.Handle); err != nil {
		_ = d.api.Close(context.Background())
		return err
	}
	d.log.Info("tonewall controller started", "esl", d.esl.Addr(), "api", d.api.URL())
	return nil
}

// ESLAddr is where FreeSWITCH should connect, valid after Start.
func (d *Daemon) ESLAddr() string { return d.esl.Addr() }

// APIURL is the HTTP API's base URL, valid after Start.
func (d *Daemon) APIURL() string { return d.api.URL() }

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
		d.stopErr = err
		d.log.Info("stopped")
	})
	return d.stopErr
}

// Health is the controller's health report.
type Health struct {
	Status     string `json:"status"`
	LiveCalls  int64  `json:"live_calls"`
	LateEvents uint64 `json:"late_events"`
	Uptime     string `json:"uptime"`
}

func (d *Daemon) health() any {
	return Health{
		Status:     "ok",
		LiveCalls:  d.esl.LiveCalls(),
		LateEvents: d.esl.LateEvents(),
		Uptime:     time.Since(d.started).Round(time.Second).String(),
	}
}
