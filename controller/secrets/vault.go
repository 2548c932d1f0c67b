package secrets

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/vault/api"
)

var (
	_ Source = (*Vault)(nil)
	_ Source = (*DevFile)(nil)
)

// Vault is a [Source] backed by HashiCorp Vault's KV version 2 engine.
// It loads every configured secret at start, checks each secret's
// current version every poll interval, and tells subscribers about new
// versions. While Vault is unreachable it keeps serving what it holds,
// reports itself degraded, and retries with backoff.
type Vault struct {
	cfg    VaultConfig
	log    *slog.Logger
	client *api.Client
	kv     *api.KVv2
	names  []string // configured names, sorted

	base   context.Context // values of NewVault's context, never cancelled
	cancel context.CancelFunc
	wg     sync.WaitGroup
	close  sync.Once

	// Owned by whichever goroutine refreshes: NewVault before the loop
	// starts, then the loop alone.
	authed    bool
	watcher   *api.LifetimeWatcher
	spent     string // a token whose renewal has ended; not watched again
	failures  int    // consecutive refreshes that could not reach Vault
	metaWarns map[string]bool

	mu      sync.Mutex
	entries map[string]*entry
	subs    subscribers
	downErr error     // why Vault cannot be used; nil when it can
	lastOK  time.Time // last full refresh that Vault answered
	since   time.Time // when the current degradation began
}

// entry is what the source knows about one configured secret.
type entry struct {
	path    string // mount and path, for messages
	sec     Secret
	held    bool
	created time.Time // creation time of the held version in Vault
	err     error     // why the last refresh of this secret failed; nil if it did not
}

// NewVault connects to Vault, authenticates and loads every secret in
// cfg.Paths before it returns. Rejected credentials, or credentials that
// cannot be read, are an error matching [ErrAuthFailed] or a
// configuration error. An unreachable Vault is not an error: the source
// starts degraded, Get returns [ErrUnavailable] for what it has not
// loaded, and it keeps trying. ctx bounds only this first attempt; call
// Close to stop the source.
func NewVault(ctx context.Context, cfg VaultConfig, log *slog.Logger) (*Vault, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "secrets", "source", "vault")

	conf := api.DefaultConfig()
	if conf.Error != nil {
		return nil, fmt.Errorf("secrets: vault client configuration: %w", conf.Error)
	}
	conf.Address = cfg.Address
	conf.Timeout = cfg.RequestTimeout
	conf.MaxRetries = 0 // the source retries with its own backoff
	if cfg.CACert != "" {
		if err := conf.ConfigureTLS(&api.TLSConfig{CACert: cfg.CACert}); err != nil {
			return nil, fmt.Errorf("secrets: vault TLS configuration: %w", err)
		}
	}
	client, err := api.NewClient(conf)
	if err != nil {
		return nil, fmt.Errorf("secrets: vault client: %w", err)
	}
	client.ClearToken() // NewClient picks up VAULT_TOKEN; the source sets its own
	if cfg.Namespace != "" {
		client.SetNamespace(cfg.Namespace)
	}

	v := &Vault{
		cfg:       cfg,
		log:       log,
		client:    client,
		kv:        client.KVv2(cfg.Mount),
		names:     slices.Sorted(maps.Keys(cfg.Paths)),
		entries:   make(map[string]*entry, len(cfg.Paths)),
		metaWarns: make(map[string]bool),
	}
	for name, p := range cfg.Paths {
		v.entries[name] = &entry{path: cfg.Mount + "/" + p}
	}
	log.Info("loading secrets from vault",
		"address", cfg.Address, "mount", cfg.Mount, "auth", string(cfg.Auth.Method), "credentials", cfg.Auth.source(),
		"secrets", len(cfg.Paths), "poll_interval", cfg.PollInterval)

	err = v.refresh(ctx)
	switch {
	case ctx.Err() != nil:
		v.stopWatcher()
		v.wg.Wait()
		return nil, fmt.Errorf("secrets: loading from vault: %w", ctx.Err())
	case errors.Is(err, ErrAuthFailed), errors.As(err, new(*credentialError)):
		v.stopWatcher()
		v.wg.Wait()
		return nil, err
	}
	v.finish(err) // logs an unreachable Vault

	v.base = context.WithoutCancel(ctx)
	runCtx, cancel := context.WithCancel(v.base)
	v.cancel = cancel
	v.wg.Go(func() { v.run(runCtx) })
	return v, nil
}

// Get returns the held value of the secret called name, even while Vault
// is unreachable. It never waits on Vault.
func (v *Vault) Get(ctx context.Context, name string) (Secret, error) {
	if err := ctx.Err(); err != nil {
		return Secret{}, err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	e, ok := v.entries[name]
	switch {
	case !ok:
		return Secret{}, &lookupError{name: name, kind: ErrNotFound, cause: errors.New("no such secret is configured")}
	case e.held:
		return e.sec.Clone(), nil
	case e.err != nil:
		return Secret{}, e.err
	case v.downErr != nil:
		return Secret{}, &lookupError{name: name, path: e.path, kind: ErrUnavailable, cause: v.downErr}
	default:
		return Secret{}, &lookupError{name: name, path: e.path, kind: ErrUnavailable, cause: errors.New("not loaded yet")}
	}
}

// Subscribe calls fn with each new version of the secret called name
// loaded after the call, including a first load after Vault was
// unreachable at start.
func (v *Vault) Subscribe(name string, fn func(Secret)) (unsubscribe func()) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if _, ok := v.entries[name]; !ok {
		v.log.Warn("subscription to a secret that is not configured", "secret", name)
	}
	id := v.subs.add(name, fn)
	return func() {
		v.mu.Lock()
		defer v.mu.Unlock()
		v.subs.remove(name, id)
	}
}

// Health reports the state of the source.
func (v *Vault) Health() Health {
	v.mu.Lock()
	defer v.mu.Unlock()
	h := Health{LastOK: v.lastOK, Since: v.since}
	var first *entry
	failing := 0
	for _, name := range v.names {
		e := v.entries[name]
		if e.held {
			h.Held++
		} else {
			h.Missing = append(h.Missing, name)
		}
		if e.err != nil {
			failing++
			if first == nil {
				first = e
			}
		}
	}
	switch {
	case v.downErr != nil:
		h.Reason = fmt.Sprintf("%v; serving %d held secrets", v.downErr, h.Held)
	case first != nil:
		h.Reason = first.err.Error()
		if first.held {
			h.Reason += "; serving the held version"
		}
		if failing > 1 {
			h.Reason += fmt.Sprintf(" (and %d more)", failing-1)
		}
	case len(h.Missing) > 0:
		h.Reason = fmt.Sprintf("secrets not loaded yet: %v", h.Missing)
	}
	h.Degraded = h.Reason != ""
	return h
}

// Close stops polling and renewal and, for a token obtained by AppRole
// login, revokes it. It is safe to call more than once.
func (v *Vault) Close() error {
	v.close.Do(func() {
		v.cancel()
		v.wg.Wait() // run stops the watcher before it returns
		if v.cfg.Auth.Method == AuthAppRole && v.authed {
			ctx, cancel := context.WithTimeout(v.base, v.cfg.RequestTimeout)
			defer cancel()
			if err := v.client.Auth().Token().RevokeSelfWithContext(ctx, ""); err != nil {
				v.log.Debug("revoking vault token at close", "error", cleanErr(err).Error())
			}
			v.client.ClearToken()
		}
		v.log.Info("vault secret source closed")
	})
	return nil
}

// run refreshes on a timer and handles the end of token renewal until
// ctx is cancelled.
func (v *Vault) run(ctx context.Context) {
	timer := time.NewTimer(v.wait())
	defer timer.Stop()
	for {
		var done <-chan error
		var renewed <-chan *api.RenewOutput
		if v.watcher != nil {
			done, renewed = v.watcher.DoneCh(), v.watcher.RenewCh()
		}
		select {
		case <-ctx.Done():
			v.stopWatcher()
			return
		case <-timer.C:
			v.finish(v.refresh(ctx))
			timer.Reset(v.wait())
		case r := <-renewed:
			if r != nil && r.Secret != nil && r.Secret.Auth != nil {
				v.log.Debug("vault token renewed", "ttl", ttlOf(r.Secret.Auth.LeaseDuration))
			}
		case err := <-done:
			v.renewalEnded(ctx, err)
		}
	}
}

// wait returns how long to wait before the next refresh.
func (v *Vault) wait() time.Duration {
	if v.failures == 0 {
		return v.cfg.PollInterval
	}
	d := v.cfg.BackoffMin
	for i := 1; i < v.failures && d < v.cfg.BackoffMax; i++ {
		d *= 2
	}
	d = min(d, v.cfg.BackoffMax)
	// Up to 20% jitter, so a fleet does not retry in step.
	return d - time.Duration(rand.Int64N(int64(d)/5+1))
}

// finish records the outcome of a refresh: err is nil when Vault
// answered for every secret.
func (v *Vault) finish(err error) {
	now := time.Now()
	v.mu.Lock()
	wasDown, downSince := v.downErr != nil, v.since
	v.downErr = err
	if err == nil {
		v.lastOK = now
	}
	degraded := err != nil
	for _, e := range v.entries {
		degraded = degraded || e.err != nil || !e.held
	}
	switch {
	case !degraded:
		v.since = time.Time{}
	case v.since.IsZero():
		v.since = now
	}
	held := 0
	for _, e := range v.entries {
		if e.held {
			held++
		}
	}
	v.mu.Unlock()

	switch {
	case err != nil:
		v.failures++
		if !wasDown {
			v.log.Warn("vault cannot be used; serving held secrets", "reason", err.Error(), "held", held)
		} else {
			v.log.Debug("vault still cannot be used", "reason", err.Error(), "attempts", v.failures)
		}
	case wasDown:
		v.failures = 0
		v.log.Info("vault usable again", "down_for", now.Sub(downSince).Round(time.Millisecond), "held", held)
	default:
		v.failures = 0
	}
}

// refresh checks every configured secret, loading new versions and
// notifying subscribers. It returns an error only when Vault cannot be
// used at all: unreachable, failing, or rejecting the login. Problems
// with single secrets are recorded on their entries.
func (v *Vault) refresh(ctx context.Context) error {
	if !v.authed {
		if err := v.login(ctx); err != nil {
			return err
		}
	}
	tokenChecked := false
	for _, name := range v.names {
		r, err := v.fetch(ctx, name)
		if err != nil && errors.Is(err, ErrPermissionDenied) && !tokenChecked {
			// Vault answers 403 both for a path the policy does not
			// allow and for a token it no longer knows (expired, or a
			// server that lost its state). Tell them apart once.
			tokenChecked = true
			valid, terr := v.tokenValid(ctx)
			if terr != nil {
				return terr
			}
			if !valid {
				v.log.Warn("vault no longer accepts the token; logging in again")
				v.authed = false
				v.stopWatcher()
				if err := v.login(ctx); err != nil {
					return err
				}
				r, err = v.fetch(ctx, name)
			}
		}
		if err != nil && !errors.As(err, new(*lookupError)) {
			return err
		}
		v.apply(name, r, err)
	}
	return nil
}

// renewalEnded handles the end of token renewal: the token reached its
// maximum TTL, or renewal failed for long enough that it is about to
// expire. AppRole logs in again; a given token is read again from its
// file or environment variable in case it was replaced.
func (v *Vault) renewalEnded(ctx context.Context, err error) {
	token := v.client.Token()
	v.stopWatcher()
	if err != nil {
		v.log.Warn("vault token renewal failed", "error", cleanErr(err).Error())
	}
	switch v.cfg.Auth.Method {
	case AuthAppRole:
		v.log.Info("vault token renewal ended; logging in again")
	case AuthToken:
		v.spent = token
		v.log.Warn("vault token can no longer be renewed; replace it before it expires",
			"credentials", v.cfg.Auth.source())
	}
	v.authed = false
	if err := v.login(ctx); err != nil {
		v.finish(err)
	}
}

// stopWatcher stops token renewal, if running. Its goroutine ends on its
// own; wg tracks it.
func (v *Vault) stopWatcher() {
	if v.watcher != nil {
		v.watcher.Stop()
		v.watcher = nil
	}
}

// watch starts renewing the token in auth until its maximum TTL.
func (v *Vault) watch(auth *api.SecretAuth) {
	w, err := v.client.NewLifetimeWatcher(&api.LifetimeWatcherInput{Secret: &api.Secret{Auth: auth}})
	if err != nil {
		v.log.Warn("cannot watch the vault token's lifetime", "error", err.Error())
		return
	}
	v.watcher = w
	v.wg.Go(w.Start)
}
