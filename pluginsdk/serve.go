package pluginsdk

import (
	"context"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
)

// Defaults for Serve.
const (
	// DefaultMaxCallDuration bounds a call that arrives without a deadline.
	DefaultMaxCallDuration = 2 * time.Minute
	// DefaultParentCheckInterval is how often a plugin checks that the
	// controller that launched it is still alive.
	DefaultParentCheckInterval = 250 * time.Millisecond
)

// ServeOption changes how Serve runs a plugin.
type ServeOption func(*serveConfig)

type serveConfig struct {
	logger         hclog.Logger
	level          hclog.Level
	maxCall        time.Duration
	parentInterval time.Duration
	exit           func(code int)
}

// WithLogLevel sets the level of the SDK's own log lines ("trace", "debug",
// "info", "warn", "error"). The default is "info".
func WithLogLevel(level string) ServeOption {
	return func(c *serveConfig) { c.level = hclog.LevelFromString(level) }
}

// WithHCLogger replaces the SDK's logger. It must write JSON to stderr: the
// host reads stderr, and stdout belongs to the handshake.
func WithHCLogger(l hclog.Logger) ServeOption {
	return func(c *serveConfig) { c.logger = l }
}

// WithMaxCallDuration bounds calls that arrive without a deadline.
func WithMaxCallDuration(d time.Duration) ServeOption {
	return func(c *serveConfig) { c.maxCall = d }
}

// WithParentCheckInterval sets how often the plugin checks for its parent.
func WithParentCheckInterval(d time.Duration) ServeOption {
	return func(c *serveConfig) { c.parentInterval = d }
}

// Serve runs p as a plugin process: it performs the go-plugin handshake on
// stdout, serves tonewall.payment.v1.Provider over gRPC with mutual TLS, and
// returns only when the host shuts the plugin down. It is the one function a
// plugin's main calls:
//
//	func main() { pluginsdk.Serve(myprovider.New()) }
//
// Serve logs JSON lines to stderr and never to stdout. It exits the process by
// itself when the controller that launched it goes away, so a controller
// killed with SIGKILL does not leave plugins behind.
func Serve(p Provider, opts ...ServeOption) {
	cfg := serveConfig{
		level:          hclog.Info,
		maxCall:        DefaultMaxCallDuration,
		parentInterval: DefaultParentCheckInterval,
		exit:           os.Exit,
	}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.logger == nil {
		// os.Stderr is read now: go-plugin later swaps the variable for a
		// pipe that the host does not read.
		cfg.logger = hclog.New(&hclog.LoggerOptions{
			Name:       "pluginsdk",
			Level:      cfg.level,
			Output:     os.Stderr,
			JSONFormat: true,
		})
	}
	if cfg.maxCall <= 0 {
		cfg.maxCall = DefaultMaxCallDuration
	}

	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	if cfg.parentInterval > 0 && os.Getenv(MagicCookieKey) == MagicCookieValue {
		parent := os.Getppid()
		wg.Go(func() {
			watchParent(ctx, parent, os.Getppid, cfg.parentInterval, func() {
				cfg.logger.Info("parent process went away; plugin exiting")
				cfg.exit(0)
			})
		})
	}

	gp := &grpcPlugin{server: &providerServer{p: p, log: cfg.logger, maxCall: cfg.maxCall}}
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig:  handshake(),
		VersionedPlugins: versionedPlugins(gp),
		GRPCServer: func(o []grpc.ServerOption) *grpc.Server {
			return grpc.NewServer(o...)
		},
		Logger: cfg.logger,
	})
}

// watchParent calls gone once getppid stops returning parent: on Linux and the
// BSDs an orphaned process is re-parented (to init or a subreaper), so a
// changed parent id means the controller died. Standard input is no signal
// here: go-plugin hands the host's own stdin to the plugin.
func watchParent(ctx context.Context, parent int, getppid func() int, every time.Duration, gone func()) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if getppid() != parent {
				gone()
				return
			}
		}
	}
}

// NewLogger returns a logger for a plugin's own code. It writes JSON lines to
// w (os.Stderr when w is nil) in the shape the host understands, so each line
// reaches the controller's log with its level. Call it before Serve. Never
// log card data or secrets through it, or through anything else.
func NewLogger(w io.Writer, level slog.Leveler) *slog.Logger {
	if w == nil {
		w = os.Stderr
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{
		Level: level,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) > 0 {
				return a
			}
			switch a.Key {
			case slog.TimeKey:
				return slog.String("@timestamp", a.Value.Time().Format("2006-01-02T15:04:05.000000Z07:00"))
			case slog.LevelKey:
				return slog.String("@level", hclogLevelName(a.Value.Any()))
			case slog.MessageKey:
				return slog.String("@message", a.Value.String())
			}
			return a
		},
	}))
}

func hclogLevelName(v any) string {
	l, ok := v.(slog.Level)
	if !ok {
		return "info"
	}
	switch {
	case l < slog.LevelInfo:
		return "debug"
	case l < slog.LevelWarn:
		return "info"
	case l < slog.LevelError:
		return "warn"
	default:
		return "error"
	}
}
