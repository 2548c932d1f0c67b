package payments

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/tonewall/tonewall/pluginsdk"
)

// instance is one configured plugin and its current process.
type instance struct {
	cfg     PluginConfig
	opts    *Options
	log     *slog.Logger // with the plugin's name
	hostLog *slog.Logger // without: pluginsdk adds the name itself

	kick        chan struct{} // wakes the supervisor
	resolveKick chan struct{} // wakes the resolver

	mu      sync.Mutex
	gen     *generation       // the current process; nil before the first launch and between restarts
	up      chan struct{}     // closed while gen is live
	secrets map[string][]byte // the latest secrets, host-owned
	pending map[string]*pending
	health  PluginHealth
}

// generation is one launch of a plugin.
type generation struct {
	client *pluginsdk.Client
	prov   pluginsdk.Provider
	desc   *pluginsdk.DescribeResponse
	upAt   time.Time
	down   bool // set once it is found dead; guarded by instance.mu
}

func newInstance(h *Host, cfg PluginConfig) *instance {
	return &instance{
		cfg:         cfg,
		opts:        &h.opts,
		log:         h.log.With("plugin", cfg.Name),
		hostLog:     h.log,
		kick:        make(chan struct{}, 1),
		resolveKick: make(chan struct{}, 1),
		up:          make(chan struct{}),
		pending:     make(map[string]*pending),
		health:      PluginHealth{Name: cfg.Name, State: StateStarting, Since: time.Now()},
	}
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// start performs the first launch.
func (p *instance) start(ctx context.Context) error {
	g, err := p.launch(ctx)
	if err != nil {
		p.mu.Lock()
		p.health.FailedLaunches++
		p.health.LastError = err.Error()
		p.mu.Unlock()
		return err
	}
	p.setUp(g)
	return nil
}

// stop kills the current process, wipes the secrets and marks the plugin
// stopped.
func (p *instance) stop() {
	p.mu.Lock()
	g := p.gen
	p.gen = nil
	for _, v := range p.secrets {
		clear(v)
	}
	p.secrets = nil
	p.setState(StateStopped)
	p.health.Pid = 0
	p.mu.Unlock()
	if g != nil {
		g.client.Kill()
	}
}

// setState changes the health state; p.mu is held.
func (p *instance) setState(s State) {
	if p.health.State != s {
		p.health.State, p.health.Since = s, time.Now()
	}
}

// setUp makes g the live generation.
func (p *instance) setUp(g *generation) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.health.Launches > 0 {
		p.health.Restarts++
	}
	p.health.Launches++
	p.gen = g
	p.health.Pid = g.client.Pid()
	p.health.Version = g.desc.Version
	p.health.Operations = slices.Clone(g.desc.Operations)
	p.setState(StateUp)
	select {
	case <-p.up:
	default:
		close(p.up)
	}
	p.log.Info("payment plugin up", "pid", p.health.Pid, "version", g.desc.Version,
		"protocol", g.client.NegotiatedVersion(), "launches", p.health.Launches)
	signal(p.resolveKick)
}

// markDown records that g is dead or unresponsive; the supervisor restarts
// it. Only the first report for a generation counts.
func (p *instance) markDown(g *generation, reason string) {
	p.mu.Lock()
	if p.gen != g || g.down {
		p.mu.Unlock()
		return
	}
	g.down = true
	p.up = make(chan struct{})
	p.setState(StateDown)
	p.health.LastError = reason
	p.mu.Unlock()
	p.log.Warn("payment plugin down", "reason", reason)
	signal(p.kick)
}

// live returns the live generation, or nil.
func (p *instance) live() *generation {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.gen == nil || p.gen.down {
		return nil
	}
	return p.gen
}

// upChan returns the channel closed when a generation is live.
func (p *instance) upChan() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.up
}

// ready waits for a live generation.
func (p *instance) ready(ctx context.Context) (*generation, error) {
	for {
		if g := p.live(); g != nil {
			return g, nil
		}
		p.mu.Lock()
		stopped := p.health.State == StateStopped
		up := p.up
		p.mu.Unlock()
		if stopped {
			return nil, ErrClosed
		}
		select {
		case <-up:
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: plugin %q not up: %w", pluginsdk.ErrProviderUnavailable, p.cfg.Name, ctx.Err())
		}
	}
}

// storeSecrets keeps a private copy of secrets and wipes the previous one.
func (p *instance) storeSecrets(secrets map[string][]byte) {
	cp := make(map[string][]byte, len(secrets))
	for k, v := range secrets {
		cp[k] = append([]byte(nil), v...)
	}
	p.mu.Lock()
	old := p.secrets
	p.secrets = cp
	p.mu.Unlock()
	for _, v := range old {
		clear(v)
	}
}

// configure sends the settings and a copy of the latest secrets to g, and
// wipes the copy afterwards.
func (p *instance) configure(ctx context.Context, g *generation) error {
	p.mu.Lock()
	secrets := make(map[string][]byte, len(p.secrets))
	for k, v := range p.secrets {
		secrets[k] = append([]byte(nil), v...)
	}
	p.mu.Unlock()
	defer func() {
		for _, v := range secrets {
			clear(v)
		}
	}()
	_, err := g.prov.Configure(ctx, &pluginsdk.ConfigureRequest{Settings: p.cfg.Settings, Secrets: secrets})
	if errors.Is(err, pluginsdk.ErrPluginGone) {
		p.markDown(g, "configure: "+err.Error())
	}
	return err
}

// healthSnapshot copies the health record.
func (p *instance) healthSnapshot() PluginHealth {
	p.mu.Lock()
	defer p.mu.Unlock()
	h := p.health
	h.Operations = slices.Clone(h.Operations)
	h.Pending = len(p.pending)
	return h
}
