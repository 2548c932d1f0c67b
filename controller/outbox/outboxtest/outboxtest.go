// Package outboxtest starts embedded outboxes for tests: a single server on a
// temporary directory, or several servers routed together into one cluster
// on loopback.
package outboxtest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/tonewall/tonewall/controller/outbox"
)

// Logger discards logs unless the environment variable TONEWALL_TEST_LOG is set.
func Logger(tb testing.TB) *slog.Logger {
	tb.Helper()
	if os.Getenv("TONEWALL_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// Open opens an outbox with opts (a temporary data directory and a quiet
// logger unless given) and closes it when the test ends.
func Open(tb testing.TB, opts outbox.Options) *outbox.Outbox {
	tb.Helper()
	if opts.URL == "" && opts.DataDir == "" {
		opts.DataDir = tb.TempDir()
	}
	if opts.Logger == nil {
		opts.Logger = Logger(tb)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	o, err := outbox.Open(ctx, opts)
	if err != nil {
		tb.Fatalf("outbox.Open: %v", err)
	}
	tb.Cleanup(func() { o.Close() })
	return o
}

// ClusterOptions returns options for n embedded servers routed together on
// loopback, each with its own temporary data directory.
func ClusterOptions(tb testing.TB, n int) []outbox.Options {
	tb.Helper()
	ports := freePorts(tb, n)
	var routes []string
	for _, p := range ports {
		routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", p))
	}
	opts := make([]outbox.Options, n)
	for i, p := range ports {
		opts[i] = outbox.Options{
			DataDir:      tb.TempDir(),
			ServerName:   fmt.Sprintf("node%d", i),
			Cluster:      outbox.Cluster{Name: "tonewall-test", Listen: fmt.Sprintf("127.0.0.1:%d", p), Routes: routes},
			StartTimeout: 90 * time.Second,
			Logger:       Logger(tb),
		}
	}
	return opts
}

// Cluster opens n outboxes on n embedded servers routed together, started at
// once (JetStream needs a quorum before any of them can finish opening), and
// closes them when the test ends.
func Cluster(tb testing.TB, n int) []*outbox.Outbox {
	tb.Helper()
	opts := ClusterOptions(tb, n)
	obs := make([]*outbox.Outbox, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range opts {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			obs[i], errs[i] = outbox.Open(ctx, opts[i])
		})
	}
	wg.Wait()
	for i := range obs {
		if obs[i] != nil {
			tb.Cleanup(func() { obs[i].Close() })
		}
	}
	for i, err := range errs {
		if err != nil {
			tb.Fatalf("cluster node %d: %v", i, err)
		}
	}
	return obs
}

// freePorts finds n free loopback TCP ports. Another process could take one
// before the server binds it; on a test machine that is rare.
func freePorts(tb testing.TB, n int) []int {
	tb.Helper()
	ports := make([]int, 0, n)
	ls := make([]net.Listener, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			tb.Fatal(err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return ports
}
