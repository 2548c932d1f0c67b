// Package api is the controller's HTTP API: JSON under /v1 to start,
// watch, complete and cancel card captures on live calls, mint agent
// tokens, follow progress as server-sent events, and inspect and replay
// webhook deliveries; the agent panel is served under /panel/. The API is
// described by the OpenAPI document at /v1/openapi.json. Responses never
// hold card digits beyond the last four of a completed, valid PAN.
package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/tonewall/tonewall/controller/auth"
	"github.com/tonewall/tonewall/controller/call"
	"github.com/tonewall/tonewall/controller/capture"
	"github.com/tonewall/tonewall/controller/panel"
	"github.com/tonewall/tonewall/controller/stream"
)

// Captures is what the API needs from the call manager.
type Captures interface {
	StartCapture(ctx context.Context, callID string, req call.CaptureRequest) (call.CaptureView, error)
	Capture(id string) (call.CaptureView, error)
	Captures(callID string) []call.CaptureView
	CancelCapture(ctx context.Context, id string) (call.CaptureView, error)
	RestartField(ctx context.Context, id string, f capture.Field) (call.CaptureView, error)
	Calls() []call.CallView
	Call(id string) (call.CallView, error)
}

// Events is what the API needs from the progress hub (*stream.Hub).
type Events interface {
	Subscribe(f stream.Filter, lastEventID string) (*stream.Subscription, bool)
}

// AgentTokens mints agent tokens (*auth.Signer).
type AgentTokens interface {
	Issue(callID string, ttl time.Duration) (auth.AgentToken, error)
}

// Defaults for Server.
const (
	DefaultAddr         = "127.0.0.1:8080"
	DefaultHeartbeat    = 15 * time.Second
	maxBody             = 64 << 10
	defaultReqTimeout   = 15 * time.Second
	readHeaderTimeout   = 5 * time.Second
	defaultCloseTimeout = 10 * time.Second
)

// Server is the HTTP API. Fields other than Addr and Captures may be nil;
// the endpoints that need a missing part answer 501 not_configured.
type Server struct {
	// Addr to listen on; port 0 picks a free port (see URL after Open).
	Addr string
	// Captures is the call manager.
	Captures Captures
	// Events is the progress hub behind the event streams.
	Events Events
	// Tokens mints agent tokens.
	Tokens AgentTokens
	// Deliveries is the webhook delivery log.
	Deliveries Deliveries
	// Health reports the controller's health for GET /healthz.
	Health func() any
	// Auth authenticates the /v1 routes (auth.Authenticator.Middleware)
	// and puts the caller's auth.Principal in the request context; the
	// handlers check its scope. Nil leaves the API open, which is only
	// sensible on loopback in development.
	Auth func(http.Handler) http.Handler
	// Wrap, if set, wraps the whole handler, outside authentication: the
	// cluster's forwarding middleware, so that the controller holding a
	// call checks the caller's scope.
	Wrap func(http.Handler) http.Handler
	// Panel serves the agent panel under /panel/; panel.Handler with
	// default options if nil.
	Panel http.Handler
	// PublicURL is the controller's base URL as agents' browsers reach it,
	// used in the panel links of agent tokens; the request's host if empty.
	PublicURL string
	// Heartbeat is the interval of SSE keep-alive comments; 15 s if zero.
	Heartbeat time.Duration
	// Logger for requests and errors.
	Logger *slog.Logger

	initOnce sync.Once
	log      *slog.Logger
	v1       *http.ServeMux
	quit     chan struct{} // closed when the server shuts down: ends SSE streams
	quitOnce sync.Once

	ln   net.Listener
	srv  *http.Server
	errc chan error
}

// route is one API endpoint. The OpenAPI document lists exactly these.
type route struct {
	pattern string
	handler http.HandlerFunc
	public  bool // served without authentication
}

func (s *Server) routes() []route {
	return []route{
		{"GET /healthz", s.health, true},
		{"GET /v1/openapi.json", s.openAPI, true},
		{"GET /v1/calls", s.listCalls, false},
		{"GET /v1/calls/{call_id}", s.getCall, false},
		{"POST /v1/calls/{call_id}/agent-tokens", s.issueAgentToken, false},
		{"POST /v1/calls/{call_id}/captures", s.startCapture, false},
		{"GET /v1/calls/{call_id}/captures", s.listCaptures, false},
		{"GET /v1/calls/{call_id}/events", s.callEvents, false},
		{"GET /v1/captures/{id}", s.getCapture, false},
		{"POST /v1/captures/{id}/cancel", s.cancelCapture, false},
		{"POST /v1/captures/{id}/complete", s.completeCapture, false},
		{"POST /v1/captures/{id}/fields/{field}/restart", s.restartField, false},
		{"GET /v1/captures/{id}/events", s.captureEvents, false},
		{"GET /v1/webhooks/deliveries", s.listDeliveries, false},
		{"POST /v1/webhooks/deliveries/{event_id}/{endpoint_id}/replay", s.replayDelivery, false},
	}
}

func (s *Server) init() {
	s.initOnce.Do(func() {
		s.log = s.Logger
		if s.log == nil {
			s.log = slog.New(slog.DiscardHandler)
		}
		s.quit = make(chan struct{})
		if s.Heartbeat <= 0 {
			s.Heartbeat = DefaultHeartbeat
		}
	})
}

func (s *Server) logger() *slog.Logger {
	s.init()
	return s.log
}

// Handler returns the API's routes and the panel.
func (s *Server) Handler() http.Handler {
	s.init()
	s.v1 = http.NewServeMux()
	mux := http.NewServeMux()
	for _, rt := range s.routes() {
		if rt.public {
			mux.Handle(rt.pattern, rt.handler)
		} else {
			s.v1.Handle(rt.pattern, rt.handler)
		}
	}
	s.v1.HandleFunc("/v1/", s.noRoute)
	var h http.Handler = s.v1
	if s.Auth != nil {
		h = s.Auth(h)
	}
	mux.Handle("/v1/", limitBody(queryToken(h)))
	p := s.Panel
	if p == nil {
		p = panel.Handler(panel.Options{})
	}
	mux.Handle("/panel/", p)
	return s.logRequests(mux)
}

func (s *Server) wrapped() http.Handler {
	h := s.Handler()
	if s.Wrap != nil {
		h = s.Wrap(h)
	}
	return h
}

// Open binds the address and starts serving. Bind errors are returned.
func (s *Server) Open() error {
	s.init()
	addr := s.Addr
	if addr == "" {
		addr = DefaultAddr
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("api: listen on %s: %w", addr, err)
	}
	s.ln = ln
	s.srv = &http.Server{
		Handler:           s.wrapped(),
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	s.srv.RegisterOnShutdown(s.stopStreams)
	s.errc = make(chan error, 1)
	go func() { s.errc <- s.srv.Serve(ln) }()
	return nil
}

// URL is the server's base URL, valid after Open.
func (s *Server) URL() string {
	if s.ln == nil {
		return ""
	}
	return "http://" + s.ln.Addr().String()
}

// Close stops the server: event streams end at once, other requests in
// flight are waited for until ctx is done. Safe to call more than once.
func (s *Server) Close(ctx context.Context) error {
	s.stopStreams()
	if s.srv == nil {
		return nil
	}
	err := s.srv.Shutdown(ctx)
	if serr := <-s.errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	s.errc <- http.ErrServerClosed // keep Close safe to call twice
	return err
}

func (s *Server) stopStreams() {
	s.init()
	s.quitOnce.Do(func() { close(s.quit) })
}

func limitBody(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		h.ServeHTTP(w, r)
	})
}

// queryToken lets the event streams take the bearer token from
// ?access_token= (a browser's EventSource cannot set headers). The
// parameter is moved into the Authorization header and removed from the
// URL, so nothing after this point can log it.
func queryToken(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if !q.Has("access_token") {
			h.ServeHTTP(w, r)
			return
		}
		tok := q.Get("access_token")
		q.Del("access_token")
		r2 := r.Clone(r.Context())
		r2.URL.RawQuery = q.Encode()
		r2.RequestURI = r2.URL.RequestURI()
		if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/events") && r.Header.Get("Authorization") == "" && tok != "" {
			r2.Header.Set("Authorization", "Bearer "+tok)
		}
		h.ServeHTTP(w, r2)
	})
}

// statusWriter records the status for the request log. Unwrap lets
// http.ResponseController reach Flush on the real writer.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// logRequests logs each request's method, path, status and duration. The
// query string is never logged: it may hold an access token.
func (s *Server) logRequests(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		h.ServeHTTP(sw, r)
		s.log.LogAttrs(r.Context(), slog.LevelDebug, "request",
			slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.Int("status", sw.status), slog.Duration("took", time.Since(start)))
	})
}

// noRoute answers paths under /v1 that match no endpoint: 405 if the path
// exists with another method, 404 otherwise.
func (s *Server) noRoute(w http.ResponseWriter, r *http.Request) {
	if allowed(s.v1, r) != "" {
		s.fail(w, r, errMethod)
		return
	}
	s.fail(w, r, errNoRoute)
}

// allowed lists the methods the mux serves at r's path.
func allowed(mux *http.ServeMux, r *http.Request) string {
	var out []string
	for _, m := range []string{http.MethodGet, http.MethodPost} {
		r2 := r.Clone(r.Context())
		r2.Method = m
		if _, pattern := mux.Handler(r2); pattern != "" && pattern != "/v1/" {
			out = append(out, m)
		}
	}
	return strings.Join(out, ", ")
}

func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	var body any = map[string]string{"status": "ok"}
	if s.Health != nil {
		body = s.Health()
	}
	writeJSON(w, http.StatusOK, body)
}
