package daemon

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/tonewall/tonewall/controller/call"
	"github.com/tonewall/tonewall/controller/payments"
	"github.com/tonewall/tonewall/controller/secrets"
	"github.com/tonewall/tonewall/pluginsdk"
)

// ExampleProvider is the name of the embedded example provider, used when
// no plugin is configured. It approves and declines the providers'
// documented test cards and never reaches a real provider.
const ExampleProvider = "example"

// Plugin names a payment provider plugin to launch.
type Plugin struct {
	// Name is the provider name capture requests use ("stripe").
	Name string
	// Path is the plugin executable.
	Path string
	// Args are its arguments; never secrets.
	Args []string
	// SHA256 is the executable's hex SHA-256; the launch is refused if
	// the file does not match.
	SHA256 string
	// Settings are non-secret settings passed to Configure.
	Settings map[string]string
	// Secret is the name of the secret holding the plugin's credentials
	// ("provider/stripe"); empty if it needs none.
	Secret string
}

// embeddedExample is the example provider served by this very executable,
// re-run as "tonewall plugin example".
func embeddedExample() (Plugin, error) {
	exe, err := os.Executable()
	if err != nil {
		return Plugin{}, fmt.Errorf("locate own executable for the embedded example provider: %w", err)
	}
	sum, err := pluginsdk.FileSHA256(exe)
	if err != nil {
		return Plugin{}, err
	}
	return Plugin{Name: ExampleProvider, Path: exe, Args: []string{"plugin", ExampleProvider}, SHA256: sum}, nil
}

// providers adapts the plugin host to what the call manager needs: a Sink
// for completed cards and a check that a provider can take a payment.
type providers struct {
	host    *payments.Host
	plugins map[string]Plugin
	source  secrets.Source

	mu         sync.Mutex
	configured map[string]bool // plugins whose credentials have been delivered
	unsubs     []func()
}

func newProviders(host *payments.Host, plugins []Plugin, source secrets.Source) *providers {
	p := &providers{host: host, plugins: make(map[string]Plugin), source: source, configured: make(map[string]bool)}
	for _, pl := range plugins {
		p.plugins[pl.Name] = pl
	}
	return p
}

// Errors from Usable.
var (
	errNoSuchProvider = errors.New("no such provider is configured")
	errNoCredentials  = errors.New("no credentials have been loaded for it")
	errPluginDown     = errors.New("its plugin is not running")
)

// Usable implements call.Providers.
func (p *providers) Usable(name string) error {
	pl, ok := p.plugins[name]
	if !ok {
		return errNoSuchProvider
	}
	if pl.Secret != "" {
		p.mu.Lock()
		ok := p.configured[name]
		p.mu.Unlock()
		if !ok {
			return errNoCredentials
		}
	}
	for _, h := range p.host.Health() {
		if h.Name == name && h.State == payments.StateStopped {
			return errPluginDown
		}
	}
	return nil
}

// preload hands each plugin its credentials before the plugins start, so
// their first Configure carries them. A secret that cannot be loaded now
// (Vault down, path missing) leaves that provider unusable, with the reason
// logged, until a version arrives.
func (p *providers) preload(ctx context.Context, d *Daemon) {
	if p.source == nil {
		return
	}
	for _, pl := range p.plugins {
		if pl.Secret == "" {
			continue
		}
		s, err := p.source.Get(ctx, pl.Secret)
		if err != nil {
			d.log.Error("provider credentials not loaded; captures for it are refused until they are", "provider", pl.Name, "secret", pl.Secret, "err", err)
			continue
		}
		data := s.Data.Clone()
		err = p.host.SetSecrets(pl.Name, data)
		for _, v := range data {
			clear(v)
		}
		if err == nil {
			p.mu.Lock()
			p.configured[pl.Name] = true
			p.mu.Unlock()
		}
	}
}

// follow delivers every later version of each plugin's credentials.
func (p *providers) follow(d *Daemon) {
	if p.source == nil {
		return
	}
	for _, pl := range p.plugins {
		if pl.Secret == "" {
			continue
		}
		name := pl.Name
		p.unsubs = append(p.unsubs, p.source.Subscribe(pl.Secret, func(s secrets.Secret) {
			p.configure(d.baseCtx, d, name, s)
		}))
	}
}

func (p *providers) configure(ctx context.Context, d *Daemon, name string, s secrets.Secret) {
	data := s.Data.Clone()
	defer func() {
		for _, v := range data {
			clear(v)
		}
	}()
	if err := p.host.Configure(ctx, name, data); err != nil {
		d.log.Error("provider credentials could not be delivered to its plugin", "provider", name, "version", s.Version, "err", err)
		return
	}
	p.mu.Lock()
	p.configured[name] = true
	p.mu.Unlock()
	d.log.Info("provider configured", "provider", name, "version", s.Version)
}

func (p *providers) close() {
	for _, u := range p.unsubs {
		u()
	}
}

// Submit implements call.Sink: the card becomes a payment through the
// provider's plugin.
func (p *providers) Submit(ctx context.Context, pay call.Payment) (call.PaymentResult, error) {
	r, err := p.host.Pay(ctx, payments.Payment{
		CaptureID: pay.CaptureID,
		Provider:  pay.Provider,
		Operation: pluginsdk.Operation(pay.Operation),
		Amount:    pluginsdk.Money{Minor: pay.Amount, Currency: pay.Currency},
		Reference: pay.Reference,
		Card:      pay.Card,
	})
	return resultOf(r), err
}

func resultOf(r pluginsdk.Result) call.PaymentResult {
	return call.PaymentResult{
		Outcome:           string(r.Outcome),
		Reason:            string(r.Reason),
		ProviderCode:      r.ProviderCode,
		ProviderMessage:   r.ProviderMessage,
		ProviderReference: r.ProviderReference,
		Token:             r.Token,
	}
}

// pluginConfigs turns the daemon's plugin list into the host's.
func pluginConfigs(plugins []Plugin) []payments.PluginConfig {
	out := make([]payments.PluginConfig, 0, len(plugins))
	for _, pl := range plugins {
		out = append(out, payments.PluginConfig{Name: pl.Name, Path: pl.Path, Args: pl.Args, SHA256: pl.SHA256, Settings: pl.Settings})
	}
	return out
}
