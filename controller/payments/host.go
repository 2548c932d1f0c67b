// Package payments is the controller's payment plugin host. It launches each
// configured provider plugin (pluginsdk over hashicorp/go-plugin) after
// verifying its checksum, configures it with its settings and latest secrets,
// pings it, restarts it with backoff when it dies, bounds every call with a
// deadline, and turns a captured card into a normalised payment result.
//
// Outcomes left unknown (the plugin died or the deadline passed while a call
// was in flight) are never retried: the host asks the plugin's Status for the
// transaction once the plugin is back. Pay waits for that answer until its
// deadline; if the answer comes later, Options.OnResolved receives it.
package payments

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/tonewall/tonewall/pluginsdk"
)

// ErrUnknownProvider is returned for a provider name no plugin is configured
// under.
var ErrUnknownProvider = errors.New("payments: unknown provider")

// ErrClosed is returned once the host is closed.
var ErrClosed = errors.New("payments: host closed")

// Host runs the payment plugins. Its methods are safe for concurrent use.
type Host struct {
	opts    Options
	log     *slog.Logger
	plugins map[string]*instance
	names   []string // configuration order

	ctx    context.Context // ends at Close
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	started bool
	closed  bool
}

// State is a plugin's lifecycle state.
type State string

// Plugin states.
const (
	StateStarting State = "starting" // not launched yet
	StateUp       State = "up"       // answering
	StateDown     State = "down"     // dead or unresponsive; being restarted
	StateStopped  State = "stopped"  // the host is closed
)

// PluginHealth is one plugin's health as the host sees it.
type PluginHealth struct {
	Name           string
	State          State
	Since          time.Time // when State last changed
	Pid            int       // 0 while down
	Version        string    // from Describe
	Operations     []pluginsdk.Operation
	Launches       int           // successful launches, the first included
	Restarts       int           // successful launches after a death
	FailedLaunches int           // launch attempts that failed
	Backoff        time.Duration // the delay before the latest launch attempt
	LastError      string        // why it last went down or failed to launch
	Pending        int           // unknown outcomes being resolved
}

// Healthy reports whether the plugin is up.
func (h PluginHealth) Healthy() bool { return h.State == StateUp }

// New checks opts and prepares a host. It launches nothing: Start does.
func New(opts Options) (*Host, error) {
	opts = opts.withDefaults()
	if err := opts.validate(); err != nil {
		return nil, fmt.Errorf("payments: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &Host{
		opts:    opts,
		log:     opts.Logger,
		plugins: make(map[string]*instance, len(opts.Plugins)),
		ctx:     ctx,
		cancel:  cancel,
	}
	for _, pc := range opts.Plugins {
		pc.Args = slices.Clone(pc.Args)
		pc.Settings = maps.Clone(pc.Settings)
		h.plugins[pc.Name] = newInstance(h, pc)
		h.names = append(h.names, pc.Name)
	}
	return h, nil
}

// Start launches every plugin, calls Describe and Configure on each, and
// starts watching them. If any plugin cannot be launched (a wrong checksum,
// a broken handshake), Start stops those already launched and returns an
// error naming each failure. Start may be called once.
func (h *Host) Start(ctx context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case h.closed:
		return ErrClosed
	case h.started:
		return errors.New("payments: already started")
	}
	var errs []error
	for _, name := range h.names {
		inst := h.plugins[name]
		if err := inst.start(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		for _, inst := range h.plugins {
			inst.stop()
		}
		return err
	}
	h.started = true
	for _, inst := range h.plugins {
		h.wg.Go(func() { inst.supervise(h.ctx) })
		h.wg.Go(func() { inst.resolveLoop(h.ctx) })
	}
	return nil
}

// Close stops watching the plugins and kills them. Payments still waiting
// for a resolution return OutcomeUnknown. Close is safe to call twice.
func (h *Host) Close() error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	h.closed = true
	h.mu.Unlock()
	h.cancel()
	h.wg.Wait()
	for _, inst := range h.plugins {
		inst.stop()
	}
	return nil
}

// Health reports every plugin's health, in configuration order.
func (h *Host) Health() []PluginHealth {
	out := make([]PluginHealth, 0, len(h.names))
	for _, name := range h.names {
		out = append(out, h.plugins[name].healthSnapshot())
	}
	return out
}

// Configure stores secrets as the plugin's latest and sends them, with its
// settings, to the running plugin. A plugin restarted later is configured
// with them again. The host keeps its own copy; the caller may wipe secrets
// once Configure returns. Secret values are never logged.
func (h *Host) Configure(ctx context.Context, name string, secrets map[string][]byte) error {
	inst, err := h.instance(name)
	if err != nil {
		return err
	}
	inst.storeSecrets(secrets)
	h.log.Info("payment plugin secrets updated", "plugin", name, "secret_names", slices.Sorted(maps.Keys(secrets)))

	ctx, cancel := context.WithTimeout(ctx, h.opts.CallTimeout)
	defer cancel()
	g, err := inst.ready(ctx)
	if err != nil {
		return fmt.Errorf("payments: plugin %q is not running; it gets the new secrets when it restarts: %w", name, err)
	}
	if err := inst.configure(ctx, g); err != nil {
		return fmt.Errorf("payments: configure plugin %q: %w", name, err)
	}
	return nil
}

// SetSecrets stores secrets as the plugin's latest without sending them:
// before Start, so that the plugin's first Configure carries them.
func (h *Host) SetSecrets(name string, secrets map[string][]byte) error {
	inst, err := h.instance(name)
	if err != nil {
		return err
	}
	inst.storeSecrets(secrets)
	return nil
}

func (h *Host) instance(name string) (*instance, error) {
	h.mu.Lock()
	closed := h.closed
	h.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	inst, ok := h.plugins[name]
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownProvider, name)
	}
	return inst, nil
}
