package outbox

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// startEmbedded starts a NATS server with JetStream on file storage under
// opts.DataDir, listening on loopback only, and waits until it accepts clients.
func startEmbedded(opts Options) (*server.Server, error) {
	dir, err := filepath.Abs(opts.DataDir)
	if err != nil {
		return nil, fmt.Errorf("outbox: data dir: %w", err)
	}
	port := opts.Port
	if port == 0 {
		port = server.RANDOM_PORT
	}
	so := &server.Options{
		ServerName:             opts.ServerName,
		Host:                   opts.Host,
		Port:                   port,
		NoSigs:                 true,
		NoLog:                  false,
		JetStream:              true,
		StoreDir:               dir,
		SyncAlways:             opts.SyncAlways,
		DisableJetStreamBanner: true,
		MaxPayload:             1 << 20,
	}
	if opts.Cluster.enabled() {
		host, cport, err := splitHostPort(opts.Cluster.Listen)
		if err != nil {
			return nil, fmt.Errorf("outbox: cluster listen: %w", err)
		}
		if cport == 0 {
			cport = server.RANDOM_PORT
		}
		so.Cluster = server.ClusterOpts{Name: opts.Cluster.Name, Host: host, Port: cport}
		for _, r := range opts.Cluster.Routes {
			u, err := url.Parse(r)
			if err != nil || u.Host == "" {
				return nil, fmt.Errorf("outbox: invalid cluster route %q", r)
			}
			so.Routes = append(so.Routes, u)
		}
	}

	s, err := server.NewServer(so)
	if err != nil {
		return nil, fmt.Errorf("outbox: embedded server: %w", err)
	}
	s.SetLoggerV2(&natsLogger{log: opts.Logger.With("component", "nats-server")}, false, false, false)
	s.Start()
	if !s.ReadyForConnections(opts.StartTimeout) {
		s.Shutdown()
		s.WaitForShutdown()
		return nil, fmt.Errorf("outbox: embedded server not ready after %s", opts.StartTimeout)
	}
	return s, nil
}

// clusterSize counts the members an embedded server was configured with,
// itself included.
func clusterSize(opts Options, s *server.Server) int {
	if !opts.Cluster.enabled() {
		return 1
	}
	self := ""
	if a := s.ClusterAddr(); a != nil {
		self = a.String()
	}
	seen := map[string]bool{}
	for _, r := range opts.Cluster.Routes {
		u, err := url.Parse(r)
		if err != nil || u.Host == self || u.Host == opts.Cluster.Listen {
			continue
		}
		seen[strings.ToLower(u.Host)] = true
	}
	return len(seen) + 1
}

// natsLogger routes the embedded server's logs into slog.
type natsLogger struct {
	log *slog.Logger
}

func (l *natsLogger) logf(level slog.Level, format string, v []any) {
	ctx := context.Background()
	if !l.log.Enabled(ctx, level) {
		return
	}
	l.log.Log(ctx, level, fmt.Sprintf(format, v...))
}

// Noticef logs a notice at Info level.
func (l *natsLogger) Noticef(format string, v ...any) { l.logf(slog.LevelInfo, format, v) }

// Warnf logs a warning.
func (l *natsLogger) Warnf(format string, v ...any) { l.logf(slog.LevelWarn, format, v) }

// Fatalf logs at Error level; the embedding process decides whether to exit.
func (l *natsLogger) Fatalf(format string, v ...any) { l.logf(slog.LevelError, format, v) }

// Errorf logs an error.
func (l *natsLogger) Errorf(format string, v ...any) { l.logf(slog.LevelError, format, v) }

// Debugf logs at Debug level.
func (l *natsLogger) Debugf(format string, v ...any) { l.logf(slog.LevelDebug, format, v) }

// Tracef logs at Debug level; tracing is never switched on.
func (l *natsLogger) Tracef(format string, v ...any) { l.logf(slog.LevelDebug-4, format, v) }

// waitBackoff sleeps for d or until ctx is done.
func waitBackoff(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
