package pluginsdk

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc/health/grpc_health_v1"
)

// DefaultStartTimeout bounds a plugin's launch and handshake.
const DefaultStartTimeout = 10 * time.Second

// ErrChecksumMismatch is matched (errors.Is) by a *ChecksumError.
var ErrChecksumMismatch = errors.New("plugin checksum mismatch")

// ErrHandshake is matched (errors.Is) by a *HandshakeError.
var ErrHandshake = errors.New("plugin handshake failed")

// ChecksumError reports a plugin executable whose SHA-256 is not the one
// configured. The plugin is not started.
type ChecksumError struct {
	Plugin   string
	Path     string
	Expected string // hex
	Actual   string // hex
}

// Error names the plugin and both sums.
func (e *ChecksumError) Error() string {
	return fmt.Sprintf("plugin %q: refusing to start %s: sha256 is %s, configuration expects %s",
		e.Plugin, e.Path, e.Actual, e.Expected)
}

// Is matches ErrChecksumMismatch.
func (e *ChecksumError) Is(target error) bool { return target == ErrChecksumMismatch }

// HandshakeError reports a plugin that started but did not complete the
// go-plugin handshake.
type HandshakeError struct {
	Plugin string
	Detail string
}

// Error names the plugin and what went wrong.
func (e *HandshakeError) Error() string {
	return fmt.Sprintf("plugin %q: handshake failed: %s", e.Plugin, e.Detail)
}

// Is matches ErrHandshake.
func (e *HandshakeError) Is(target error) bool { return target == ErrHandshake }

// ClientConfig says how to launch one plugin.
type ClientConfig struct {
	Name   string   // used in logs and errors; defaults to the executable's base name
	Path   string   // the plugin executable
	Args   []string // its arguments; never secrets
	Env    []string // extra environment ("KEY=value"); never secrets
	SHA256 string   // hex SHA-256 of the executable; required

	// Logger receives go-plugin's messages and every log line the plugin
	// writes to stderr, at the plugin's level, with card-number-like digit
	// runs redacted. Nil discards them.
	Logger *slog.Logger
	// Stderr, when set, receives a raw, unredacted copy of the plugin's
	// stderr (the conformance kit scans it).
	Stderr io.Writer
	// StartTimeout bounds the launch and handshake; zero means
	// DefaultStartTimeout.
	StartTimeout time.Duration
}

// passEnv lists the host environment variables a plugin inherits. Everything
// else, such as a Vault token, stays with the controller.
var passEnv = []string{
	"PATH", "HOME", "TMPDIR", "TZ", "LANG", "LC_ALL",
	"SSL_CERT_FILE", "SSL_CERT_DIR",
	"HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "https_proxy", "http_proxy", "no_proxy",
}

// Client launches and talks to one plugin process.
type Client struct {
	cfg ClientConfig
	pc  *plugin.Client

	wg       sync.WaitGroup // the launch goroutine
	mu       sync.Mutex
	prov     Provider
	starting chan startResult // a launch in progress
}

// NewClient checks cfg and the executable's checksum. It does not start the
// process: Provider does, on first use.
func NewClient(cfg ClientConfig) (*Client, error) {
	if cfg.Path == "" {
		return nil, errors.New("plugin: no executable path")
	}
	if cfg.Name == "" {
		cfg.Name = filepath.Base(cfg.Path)
	}
	want, err := hex.DecodeString(strings.TrimSpace(cfg.SHA256))
	if err != nil || len(want) != sha256.Size {
		return nil, fmt.Errorf("plugin %q: sha256 must be 64 hex digits", cfg.Name)
	}
	if err := verifyChecksum(cfg.Name, cfg.Path, want); err != nil {
		return nil, err
	}
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = DefaultStartTimeout
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}

	cmd := exec.Command(cfg.Path, cfg.Args...)
	for _, k := range passEnv {
		if v, ok := os.LookupEnv(k); ok {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
	}
	cmd.Env = append(cmd.Env, cfg.Env...)

	pc := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  handshake(),
		VersionedPlugins: versionedPlugins(&grpcPlugin{}),
		Cmd:              cmd,
		SkipHostEnv:      true,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         true,
		SecureConfig:     &plugin.SecureConfig{Checksum: want, Hash: sha256.New()},
		Managed:          true,
		StartTimeout:     cfg.StartTimeout,
		Logger:           newHCLogAdapter(logger.With("plugin", cfg.Name)),
		Stderr:           cfg.Stderr,
	})
	return &Client{cfg: cfg, pc: pc}, nil
}

// FileSHA256 returns the hex SHA-256 of the file at path.
func FileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func verifyChecksum(name, path string, want []byte) error {
	got, err := FileSHA256(path)
	if err != nil {
		return fmt.Errorf("plugin %q: checksum: %w", name, err)
	}
	if got != hex.EncodeToString(want) {
		return &ChecksumError{Plugin: name, Path: path, Expected: hex.EncodeToString(want), Actual: got}
	}
	return nil
}

// Name is the plugin's name from the configuration.
func (c *Client) Name() string { return c.cfg.Name }

// Provider starts the plugin if it is not running yet, completes the
// handshake, and returns the plugin as a Provider. Later calls return the
// same value. If ctx ends first, Provider returns at once; the launch goes on
// in the background until Kill, which the caller calls in every case.
func (c *Client) Provider(ctx context.Context) (Provider, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.prov != nil {
		return c.prov, nil
	}
	if c.starting == nil {
		ch := make(chan startResult, 1)
		c.starting = ch
		c.wg.Go(func() { ch <- c.start() })
	}
	select {
	case s := <-c.starting:
		c.starting = nil
		if s.err != nil {
			c.pc.Kill()
			return nil, c.startError(s.err)
		}
		c.prov = s.p
		return s.p, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("plugin %q: start: %w", c.cfg.Name, ctx.Err())
	}
}

type startResult struct {
	p   Provider
	err error
}

func (c *Client) start() startResult {
	rpc, err := c.pc.Client()
	if err != nil {
		return startResult{err: err}
	}
	raw, err := rpc.Dispense(PluginName)
	if err != nil {
		return startResult{err: err}
	}
	p, ok := raw.(Provider)
	if !ok {
		return startResult{err: fmt.Errorf("dispensed %T, not a Provider", raw)}
	}
	return startResult{p: p}
}

// startError turns go-plugin's start-up errors into ones that say what to fix.
func (c *Client) startError(err error) error {
	msg := err.Error()
	switch {
	case errors.Is(err, plugin.ErrChecksumsDoNotMatch):
		want, _ := hex.DecodeString(c.cfg.SHA256)
		if cerr := verifyChecksum(c.cfg.Name, c.cfg.Path, want); cerr != nil {
			return cerr
		}
		return &ChecksumError{Plugin: c.cfg.Name, Path: c.cfg.Path, Expected: c.cfg.SHA256, Actual: "changed while starting"}
	case strings.Contains(msg, "Failed to read any lines from plugin's stdout"),
		strings.Contains(msg, "exited before we could connect"):
		return &HandshakeError{Plugin: c.cfg.Name, Detail: "the plugin exited before completing the handshake " +
			"(is it built with pluginsdk.Serve? see its stderr in the log)"}
	case strings.Contains(msg, "Unrecognized remote plugin message"):
		// The offending line is not repeated: it is unknown output.
		return &HandshakeError{Plugin: c.cfg.Name, Detail: "the plugin wrote to stdout before the handshake; " +
			"stdout carries only the handshake line, plugins must log to stderr"}
	case strings.Contains(msg, "incompatible API version"), strings.Contains(msg, "incompatible core API version"):
		return &HandshakeError{Plugin: c.cfg.Name, Detail: fmt.Sprintf(
			"the plugin speaks another protocol version (this host speaks %d): %s", ProtocolVersion, msg)}
	case strings.Contains(msg, "timeout while waiting for plugin to start"):
		return &HandshakeError{Plugin: c.cfg.Name, Detail: fmt.Sprintf(
			"no handshake within %s", c.cfg.StartTimeout)}
	case strings.Contains(msg, "unsupported plugin protocol"):
		return &HandshakeError{Plugin: c.cfg.Name, Detail: "the plugin does not serve gRPC: " + msg}
	}
	return fmt.Errorf("plugin %q: start: %w", c.cfg.Name, err)
}

// Ping checks that the plugin answers gRPC health checks within ctx.
func (c *Client) Ping(ctx context.Context) error {
	c.mu.Lock()
	started := c.prov != nil
	c.mu.Unlock()
	if !started {
		return &Error{Kind: KindPluginGone, Message: "plugin not started"}
	}
	rpc, err := c.pc.Client()
	if err != nil {
		return &Error{Kind: KindPluginGone, Message: err.Error()}
	}
	gc, ok := rpc.(*plugin.GRPCClient)
	if !ok {
		return fmt.Errorf("plugin %q: not a gRPC plugin", c.cfg.Name)
	}
	_, err = grpc_health_v1.NewHealthClient(gc.Conn).Check(ctx, &grpc_health_v1.HealthCheckRequest{Service: plugin.GRPCServiceName})
	if err != nil {
		return errorFromStatus(ctx, err)
	}
	return nil
}

// Exited reports whether the plugin process has exited.
func (c *Client) Exited() bool { return c.pc.Exited() }

// Pid returns the plugin's process id, or 0 before it has started.
func (c *Client) Pid() int {
	if rc := c.pc.ReattachConfig(); rc != nil {
		return rc.Pid
	}
	return 0
}

// NegotiatedVersion returns the protocol version agreed with the plugin.
func (c *Client) NegotiatedVersion() int { return c.pc.NegotiatedVersion() }

// Kill stops the plugin and waits for it to go. A plugin that answers a
// health check within a second is asked to shut down and given two seconds;
// one that does not is sent SIGKILL first. Kill is safe to call more than once.
func (c *Client) Kill() {
	c.mu.Lock()
	started := c.prov != nil
	c.mu.Unlock()
	if started && !c.pc.Exited() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := c.Ping(ctx)
		cancel()
		if err != nil {
			if proc, ferr := os.FindProcess(c.Pid()); ferr == nil && c.Pid() > 0 {
				_ = proc.Kill()
			}
		}
	}
	c.pc.Kill()
	c.wg.Wait()
	c.pc.Kill() // a launch that finished after the first Kill
}

// CleanupClients kills every plugin started in this process. The controller
// calls it once on shutdown, after closing its payment host.
func CleanupClients() { plugin.CleanupClients() }
