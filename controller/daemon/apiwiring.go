package daemon

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/tonewall/tonewall/controller/api"
	"github.com/tonewall/tonewall/controller/auth"
	"github.com/tonewall/tonewall/controller/call"
	"github.com/tonewall/tonewall/controller/panel"
	"github.com/tonewall/tonewall/controller/secrets"
	"github.com/tonewall/tonewall/controller/stream"
)

// observers is the order in which progress reaches its listeners: the
// webhook outbox first (a payment's result is stored durably before anyone
// is told), then the cluster directory, the embedder's observer, and last
// the event streams the agents' screens read.
func (d *Daemon) observers() call.Observer {
	d.hub = stream.NewHub(stream.Options{Logger: d.opts.Logger.With("component", "stream")})
	return observers{
		call.ObserverFunc(func(ev call.Event) {
			if n := d.notify.Load(); n != nil {
				n.Observe(ev)
			}
		}),
		call.ObserverFunc(func(ev call.Event) {
			if m := d.member.Load(); m != nil {
				m.Observe(ev)
			}
		}),
		d.opts.Observer,
		d.hub,
	}
}

// newAPI builds the HTTP API around the call manager: event streams,
// agent tokens, the panel.
func (d *Daemon) newAPI() error {
	key := d.opts.AgentSigningKey
	pnl, err := panel.New(panel.Options{FrameAncestors: d.opts.PanelFrameAncestors})
	if err != nil {
		return err
	}
	if len(key) == 0 {
		if key, err = auth.GenerateKey(); err != nil {
			return err
		}
	}
	if d.signer, err = auth.NewSigner(key); err != nil {
		return err
	}
	d.api = &api.Server{
		Addr:      d.opts.APIAddr,
		Captures:  d.calls,
		Events:    d.hub,
		Tokens:    d.signer,
		Health:    d.health,
		Panel:     pnl,
		PublicURL: d.opts.PublicURL,
		Logger:    d.opts.Logger.With("component", "api"),
	}
	return nil
}

// startAuth loads the API keys and the agent-token signing key, following
// their rotation. Without keys the API stays open, which is refused unless
// it listens on loopback only.
func (d *Daemon) startAuth() error {
	keys := d.opts.APIKeys
	src := d.opts.Secrets
	if keys == nil && src != nil {
		ctx, cancel := context.WithTimeout(d.baseCtx, d.opts.ShutdownTimeout)
		defer cancel()
		s, err := src.Get(ctx, "api/keys")
		if err != nil {
			return fmt.Errorf("API keys (secret api/keys): %w", err)
		}
		if keys, err = auth.NewKeys(s.Data); err != nil {
			return fmt.Errorf("API keys (secret api/keys): %w", err)
		}
		d.unsubs = append(d.unsubs, src.Subscribe("api/keys", func(s secrets.Secret) {
			if err := keys.Replace(s.Data); err != nil {
				d.log.Error("API keys not rotated; the current set stays", "version", s.Version, "err", err)
				return
			}
			d.log.Info("API keys rotated", "version", s.Version, "keys", keys.Len())
		}))
		if len(d.opts.AgentSigningKey) == 0 {
			d.followSigningKey(ctx, src)
		}
	}
	if keys == nil {
		if !loopbackOnly(d.opts.APIAddr) {
			return errors.New("the API has no keys (set a secret store with api/keys) and would be open on a non-loopback address")
		}
		d.log.Warn("the API is open: no API keys are configured (development only; loopback only)")
		return nil
	}
	d.api.Auth = (&auth.Authenticator{Keys: keys, Tokens: d.signer, Logger: d.opts.Logger.With("component", "auth")}).Middleware
	return nil
}

// followSigningKey uses the secret "api/agent-signing" ("current", and
// "previous" during a rotation) so that every controller accepts the
// others' agent tokens.
func (d *Daemon) followSigningKey(ctx context.Context, src secrets.Source) {
	apply := func(s secrets.Secret) {
		cur, ok := s.Value("current")
		if !ok {
			return
		}
		var prev [][]byte
		if p, ok := s.Value("previous"); ok && p != "" {
			prev = append(prev, []byte(p))
		}
		if err := d.signer.Replace([]byte(cur), prev...); err != nil {
			d.log.Error("agent-token signing key not applied", "version", s.Version, "err", err)
		}
	}
	if s, err := src.Get(ctx, "api/agent-signing"); err == nil {
		apply(s)
	} else {
		d.log.Warn("agent tokens are signed with a random per-process key: other controllers will refuse them", "err", err)
	}
	d.unsubs = append(d.unsubs, src.Subscribe("api/agent-signing", apply))
}

func loopbackOnly(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
