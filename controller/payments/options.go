package payments

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/tonewall/tonewall/pluginsdk"
)

// Defaults for Options, applied in one place (Options.withDefaults).
const (
	DefaultCallTimeout       = 30 * time.Second
	DefaultPingInterval      = 5 * time.Second
	DefaultPingTimeout       = 2 * time.Second
	DefaultStartTimeout      = 10 * time.Second
	DefaultRestartBackoffMin = 100 * time.Millisecond
	DefaultRestartBackoffMax = 30 * time.Second
	DefaultResolveTimeout    = 24 * time.Hour
)

// Fixed timings that need no tuning.
const (
	// exitPollInterval is how often a plugin's process is checked for exit,
	// between pings.
	exitPollInterval = 50 * time.Millisecond
	// stableAfter is how long a plugin must stay up for its restart backoff
	// to start again from the minimum.
	stableAfter = time.Minute
	// resolveRetryMin and resolveRetryMax bound the delay between Status
	// queries for an unknown outcome.
	resolveRetryMin = 250 * time.Millisecond
	resolveRetryMax = time.Minute
)

// PluginConfig names one payment plugin and how to launch it.
type PluginConfig struct {
	Name     string            // the provider name Payment.Provider refers to ("stripe")
	Path     string            // the plugin executable
	Args     []string          // its arguments; never secrets
	SHA256   string            // hex SHA-256 of the executable; required
	Settings map[string]string // non-secret settings passed to Configure
}

// Options configures a Host. Zero values mean the defaults above.
type Options struct {
	Plugins []PluginConfig
	Logger  *slog.Logger // nil discards

	// CallTimeout bounds every plugin call, and Pay as a whole.
	CallTimeout time.Duration
	// PingInterval is how often each plugin is health-checked; PingTimeout
	// bounds one check.
	PingInterval time.Duration
	PingTimeout  time.Duration
	// StartTimeout bounds a plugin's launch and handshake.
	StartTimeout time.Duration
	// RestartBackoffMin and RestartBackoffMax bound the delay before a dead
	// plugin is launched again; the delay doubles after each quick failure.
	RestartBackoffMin time.Duration
	RestartBackoffMax time.Duration
	// ResolveTimeout is how long the host keeps querying Status for an
	// outcome left unknown before it gives up and reports it unknown.
	ResolveTimeout time.Duration

	// OnResolved is called, from a host goroutine, with the final result of
	// a payment for which Pay returned OutcomeUnknown. It must not block for
	// long. Nil means the result is only logged.
	OnResolved func(captureID string, r pluginsdk.Result)

	// PluginStderr, when set, receives a raw copy of every plugin's stderr
	// (tests scan it for card data). The host log gets every line anyway.
	PluginStderr io.Writer
}

// withDefaults fills in zero values.
func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&o.CallTimeout, DefaultCallTimeout)
	def(&o.PingInterval, DefaultPingInterval)
	def(&o.PingTimeout, DefaultPingTimeout)
	def(&o.StartTimeout, DefaultStartTimeout)
	def(&o.RestartBackoffMin, DefaultRestartBackoffMin)
	def(&o.RestartBackoffMax, DefaultRestartBackoffMax)
	def(&o.ResolveTimeout, DefaultResolveTimeout)
	return o
}

// validate checks options after defaults are applied.
func (o Options) validate() error {
	var errs []error
	for name, d := range map[string]time.Duration{
		"CallTimeout": o.CallTimeout, "PingInterval": o.PingInterval, "PingTimeout": o.PingTimeout,
		"StartTimeout": o.StartTimeout, "RestartBackoffMin": o.RestartBackoffMin,
		"RestartBackoffMax": o.RestartBackoffMax, "ResolveTimeout": o.ResolveTimeout,
	} {
		if d < 0 {
			errs = append(errs, fmt.Errorf("%s is negative", name))
		}
	}
	if o.RestartBackoffMax < o.RestartBackoffMin {
		errs = append(errs, errors.New("RestartBackoffMax is below RestartBackoffMin"))
	}
	seen := make(map[string]bool)
	for i, p := range o.Plugins {
		switch {
		case p.Name == "":
			errs = append(errs, fmt.Errorf("plugin %d has no name", i))
		case seen[p.Name]:
			errs = append(errs, fmt.Errorf("plugin %q is configured twice", p.Name))
		case p.Path == "":
			errs = append(errs, fmt.Errorf("plugin %q has no path", p.Name))
		case p.SHA256 == "":
			errs = append(errs, fmt.Errorf("plugin %q has no sha256: every plugin executable is verified before it runs", p.Name))
		}
		seen[p.Name] = true
	}
	return errors.Join(errs...)
}
