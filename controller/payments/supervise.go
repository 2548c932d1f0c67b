package payments

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tonewall/tonewall/pluginsdk"
)

// supervise watches the plugin until ctx ends: it polls for process exit,
// pings on the interval, and relaunches a dead plugin after a backoff that
// doubles while launches keep failing or dying young.
func (p *instance) supervise(ctx context.Context) {
	exitTick := time.NewTicker(exitPollInterval)
	defer exitTick.Stop()
	pingTick := time.NewTicker(p.opts.PingInterval)
	defer pingTick.Stop()
	var delay time.Duration

	for {
		p.mu.Lock()
		g := p.gen
		dead := g == nil || g.down
		p.mu.Unlock()

		if dead {
			if g != nil {
				g.client.Kill()
				p.mu.Lock()
				if p.gen == g {
					p.gen = nil
					p.health.Pid = 0
				}
				p.mu.Unlock()
				if time.Since(g.upAt) >= stableAfter {
					delay = 0
				}
			}
			delay = nextBackoff(delay, p.opts.RestartBackoffMin, p.opts.RestartBackoffMax)
			p.mu.Lock()
			p.health.Backoff = delay
			p.mu.Unlock()
			p.log.Info("payment plugin restarting", "after", delay.String())
			if !sleep(ctx, delay) {
				return
			}
			ng, err := p.launch(ctx)
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				p.mu.Lock()
				p.health.FailedLaunches++
				p.health.LastError = err.Error()
				p.mu.Unlock()
				p.log.Error("payment plugin launch failed", "error", err)
				continue
			}
			p.setUp(ng)
			continue
		}

		ping := false
		select {
		case <-ctx.Done():
			return
		case <-p.kick:
		case <-exitTick.C:
		case <-pingTick.C:
			ping = true
		}
		if g.client.Exited() {
			p.markDown(g, "plugin process exited")
			continue
		}
		if ping {
			pctx, cancel := context.WithTimeout(ctx, p.opts.PingTimeout)
			err := g.client.Ping(pctx)
			cancel()
			if err != nil && ctx.Err() == nil {
				p.markDown(g, "ping failed: "+err.Error())
			}
		}
	}
}

// nextBackoff doubles prev within [lo, hi]; a zero prev gives lo.
func nextBackoff(prev, lo, hi time.Duration) time.Duration {
	switch {
	case prev <= 0:
		return lo
	case prev >= hi/2:
		return hi
	default:
		return max(lo, min(prev*2, hi))
	}
}

// sleep waits for d or until ctx ends, and reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// launch starts a new process, verifies it, describes it and configures it
// with the latest secrets.
func (p *instance) launch(ctx context.Context) (*generation, error) {
	c, err := pluginsdk.NewClient(pluginsdk.ClientConfig{
		Name:         p.cfg.Name,
		Path:         p.cfg.Path,
		Args:         p.cfg.Args,
		SHA256:       p.cfg.SHA256,
		Logger:       p.hostLog,
		Stderr:       p.opts.PluginStderr,
		StartTimeout: p.opts.StartTimeout,
	})
	if err != nil {
		return nil, fmt.Errorf("payments: %w", err)
	}
	sctx, cancel := context.WithTimeout(ctx, p.opts.StartTimeout)
	defer cancel()
	prov, err := c.Provider(sctx)
	if err != nil {
		c.Kill()
		return nil, fmt.Errorf("payments: %w", err)
	}
	cctx, cancel := context.WithTimeout(ctx, p.opts.CallTimeout)
	defer cancel()
	desc, err := prov.Describe(cctx, &pluginsdk.DescribeRequest{})
	if err != nil {
		c.Kill()
		return nil, fmt.Errorf("payments: plugin %q: describe: %w", p.cfg.Name, err)
	}
	g := &generation{client: c, prov: prov, desc: desc, upAt: time.Now()}
	if err := p.configure(cctx, g); err != nil {
		if errors.Is(err, pluginsdk.ErrPluginGone) || errors.Is(err, pluginsdk.ErrDeadline) {
			c.Kill()
			return nil, fmt.Errorf("payments: plugin %q: configure: %w", p.cfg.Name, err)
		}
		// The plugin refused its configuration (typically: its credentials
		// are not loaded yet). It stays up and answers not-configured until
		// a later Configure succeeds.
		p.hostLog.Warn("payment plugin is up but not configured", "plugin", p.cfg.Name, "err", err)
	}
	return g, nil
}
