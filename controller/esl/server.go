package esl

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/percipia/eslgo"
)

// Defaults for ServerOptions.
const (
	DefaultAddr           = "127.0.0.1:8084"
	DefaultCommandTimeout = 5 * time.Second
	DefaultConnectTimeout = 5 * time.Second
	DefaultReorderWindow  = time.Millisecond
)

// Handler runs one call. It must return when the call is over; the
// connection is closed when it returns.
type Handler func(ctx context.Context, s *Session)

// ServerOptions configures a Server. Zero values mean the defaults above.
type ServerOptions struct {
	// Addr is where FreeSWITCH's socket application connects. Port 0 picks
	// a free port (see Server.Addr).
	Addr string
	// CommandTimeout bounds every command's wait for its reply.
	CommandTimeout time.Duration
	// ConnectTimeout bounds the wait for the reply to "connect".
	ConnectTimeout time.Duration
	// ReorderWindow is how long an event is held so that events the client
	// library delivered out of order can be put back in sequence.
	ReorderWindow time.Duration
	// Logger receives the server's and the library's messages.
	Logger *slog.Logger
}

func (o *ServerOptions) setDefaults() {
	if o.Addr == "" {
		o.Addr = DefaultAddr
	}
	if o.CommandTimeout <= 0 {
		o.CommandTimeout = DefaultCommandTimeout
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = DefaultConnectTimeout
	}
	if o.ReorderWindow <= 0 {
		o.ReorderWindow = DefaultReorderWindow
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// Server accepts FreeSWITCH's outbound Event Socket connections, one per
// call, and runs a Handler for each.
//
// The client library's listener cannot be closed once started. Shutdown
// therefore stops admitting calls (a new connection is answered with exit,
// so FreeSWITCH moves on to the next controller in its socket list), drains
// the live ones, and then cuts whatever remains; the port itself is released
// when the process exits.
type Server struct {
	opts    ServerOptions
	addr    string
	handler Handler

	base    context.Context
	cancel  context.CancelFunc
	closing atomic.Bool
	calls   sync.WaitGroup
	live    atomic.Int64
	late    atomic.Uint64
	errc    chan error
	started atomic.Bool
}

// NewServer returns a server that will listen on opts.Addr.
func NewServer(opts ServerOptions) *Server {
	opts.setDefaults()
	base, cancel := context.WithCancel(context.Background())
	return &Server{opts: opts, base: base, cancel: cancel, errc: make(chan error, 1)}
}

// Addr is the address the server listens on, valid after Start.
func (s *Server) Addr() string { return s.addr }

// LiveCalls is the number of connections being handled now.
func (s *Server) LiveCalls() int64 { return s.live.Load() }

// LateEvents counts events that arrived too late to be put back in order.
func (s *Server) LateEvents() uint64 { return s.late.Load() }

// Start binds the listening address and begins serving calls with h. It
// returns once the port accepts connections, or with the bind error.
func (s *Server) Start(h Handler) error {
	if !s.started.CompareAndSwap(false, true) {
		return errors.New("esl: server already started")
	}
	s.handler = h
	addr, err := resolvePort(s.opts.Addr)
	if err != nil {
		return err
	}
	if portTaken(addr) {
		return fmt.Errorf("esl: listen on %s: %w", addr, syscall.EADDRINUSE)
	}
	s.addr = addr
	lib := eslgo.OutboundOptions{
		Options: eslgo.Options{
			Context:     s.base,
			Logger:      libLogger{s.opts.Logger.With("component", "eslgo")},
			ExitTimeout: s.opts.CommandTimeout,
		},
		Network:         "tcp",
		ConnectTimeout:  s.opts.ConnectTimeout,
		ConnectionDelay: 0,
	}
	// The library does not say when it is listening: wait until the port
	// is taken, or the library reports why it could not take it. Our probe
	// may hold the port for an instant while the library binds; then the
	// library is started again.
	for attempt := 0; attempt < 3; attempt++ {
		go func() { s.errc <- lib.ListenAndServe(addr, s.serve) }()
		err := s.waitListening(addr)
		if err == nil {
			s.opts.Logger.Info("listening for FreeSWITCH", "addr", addr)
			return nil
		}
		if !errors.Is(err, syscall.EADDRINUSE) || attempt == 2 {
			return fmt.Errorf("esl: listen on %s: %w", addr, err)
		}
	}
	return fmt.Errorf("esl: listen on %s: gave up", addr)
}

func (s *Server) waitListening(addr string) error {
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-s.errc:
			return err
		default:
		}
		if portTaken(addr) {
			return nil
		}
		time.Sleep(2 * time.Millisecond)
	}
	return errors.New("listener did not start")
}

// serve is the library's outbound handler for one connection.
func (s *Server) serve(ctx context.Context, conn *eslgo.Conn, connect *eslgo.RawResponse) {
	if s.closing.Load() {
		s.opts.Logger.Info("refusing call: shutting down")
		return // the library sends exit; FreeSWITCH tries the next controller
	}
	sess, err := newSession(conn, connect, s.opts.Logger, s.opts.CommandTimeout, s.opts.ReorderWindow)
	if err != nil {
		s.opts.Logger.Warn("refusing connection", "err", err)
		return
	}
	sess.late = func() { s.late.Add(1) }
	s.calls.Add(1)
	s.live.Add(1)
	defer func() {
		s.live.Add(-1)
		s.calls.Done()
	}()
	conn.RegisterEventListener(eslgo.EventListenAll, sess.deliver)
	stop := context.AfterFunc(ctx, sess.end) // the library cancels ctx when the socket closes
	defer stop()
	s.handler(ctx, sess)
	closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opts.CommandTimeout)
	sess.Close(closeCtx)
	cancel()
}

// Shutdown stops admitting calls and waits for live calls to end until ctx
// is done; then it cuts the remaining connections and waits for their
// handlers. Safe to call more than once.
func (s *Server) Shutdown(ctx context.Context) error {
	s.closing.Store(true)
	done := make(chan struct{})
	go func() { s.calls.Wait(); close(done) }()
	select {
	case <-done:
		s.cancel()
		return nil
	case <-ctx.Done():
		s.cancel()
		<-done
		return fmt.Errorf("esl: calls cut at shutdown: %w", ctx.Err())
	}
}

// resolvePort replaces port 0 by a free port: the library does not report
// the port it bound.
func resolvePort(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("esl: address %q: %w", addr, err)
	}
	if port != "0" {
		return addr, nil
	}
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return "", fmt.Errorf("esl: pick a port on %s: %w", host, err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func portTaken(addr string) bool {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return true
	}
	l.Close()
	return false
}

// libLogger passes the library's messages to slog without their arguments:
// the library formats whole frames (DTMF digits included) into some of them.
type libLogger struct{ l *slog.Logger }

func (l libLogger) Debug(format string, _ ...interface{}) { l.l.Debug(trimMsg(format)) }
func (l libLogger) Info(format string, _ ...interface{})  { l.l.Debug(trimMsg(format)) }
func (l libLogger) Warn(format string, _ ...interface{})  { l.l.Warn(trimMsg(format)) }
func (l libLogger) Error(format string, _ ...interface{}) { l.l.Error(trimMsg(format)) }

// verbs replaces the library's formatting verbs, whose arguments are dropped.
var verbs = strings.NewReplacer("%s", "(withheld)", "%v", "(withheld)", "%d", "(withheld)", "%#v", "(withheld)")

func trimMsg(f string) string {
	for len(f) > 0 && (f[len(f)-1] == '\n' || f[len(f)-1] == ' ') {
		f = f[:len(f)-1]
	}
	return verbs.Replace(f)
}
