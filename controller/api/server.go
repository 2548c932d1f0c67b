// Package api is the controller's HTTP API: JSON under /v1 to start,
// watch and cancel card captures on live calls. Responses never hold card
// digits beyond the last four of a completed, valid PAN.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/tonewall/tonewall/controller/call"
	"github.com/tonewall/tonewall/controller/capture"
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

// Defaults for Server.
const (
	DefaultAddr         = "127.0.0.1:8080"
	maxBody             = 64 << 10
	defaultReqTimeout   = 15 * time.Second
	readHeaderTimeout   = 5 * time.Second
	defaultCloseTimeout = 10 * time.Second
)

// Server is the HTTP API.
type Server struct {
	// Addr to listen on; port 0 picks a free port (see URL after Open).
	Addr string
	// Captures is the call manager.
	Captures Captures
	// Health reports the controller's health for GET /healthz.
	Health func() any
	// Auth wraps the /v1 routes (authentication and authorisation); nil
	// leaves them open, which is only sensible on loopback.
	Auth func(http.Handler) http.Handler
	// Logger for request errors.
	Logger *slog.Logger

	log  *slog.Logger
	ln   net.Listener
	srv  *http.Server
	errc chan error
}

// Handler returns the API's routes.
func (s *Server) Handler() http.Handler {
	if s.log == nil {
		s.log = s.Logger
		if s.log == nil {
			s.log = slog.New(slog.DiscardHandler)
		}
	}
	v1 := http.NewServeMux()
	v1.HandleFunc("GET /v1/calls", s.listCalls)
	v1.HandleFunc("GET /v1/calls/{call_id}", s.getCall)
	v1.HandleFunc("POST /v1/calls/{call_id}/captures", s.startCapture)
	v1.HandleFunc("GET /v1/calls/{call_id}/captures", s.listCaptures)
	v1.HandleFunc("GET /v1/captures/{id}", s.getCapture)
	v1.HandleFunc("POST /v1/captures/{id}/cancel", s.cancelCapture)
	v1.HandleFunc("POST /v1/captures/{id}/fields/{field}/restart", s.restartField)
	v1.HandleFunc("/v1/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, Error{CodeNotFound, "no such endpoint"})
	})
	var h http.Handler = v1
	if s.Auth != nil {
		h = s.Auth(h)
	}
	mux := http.NewServeMux()
	mux.Handle("/v1/", limitBody(h))
	mux.HandleFunc("GET /healthz", s.health)
	return mux
}

// Open binds the address and starts serving. Bind errors are returned.
func (s *Server) Open() error {
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
		Handler:           s.Handler(),
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
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

// Close stops the server, waiting for requests in flight until ctx is done.
func (s *Server) Close(ctx context.Context) error {
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

func limitBody(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		h.ServeHTTP(w, r)
	})
}

func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	var body any = map[string]string{"status": "ok"}
	if s.Health != nil {
		body = s.Health()
	}
	writeJSON(w, http.StatusOK, body)
}

func (s *Server) listCalls(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"calls": s.Captures.Calls()})
}

func (s *Server) getCall(w http.ResponseWriter, r *http.Request) {
	c, err := s.Captures.Call(r.PathValue("call_id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, c)
}

func (s *Server) startCapture(w http.ResponseWriter, r *http.Request) {
	var req call.CaptureRequest
	if !s.decode(w, r, &req) {
		return
	}
	if k := r.Header.Get("Idempotency-Key"); k != "" && req.IdempotencyKey == "" {
		req.IdempotencyKey = k
	}
	ctx, cancel := context.WithTimeout(r.Context(), defaultReqTimeout)
	defer cancel()
	v, err := s.Captures.StartCapture(ctx, r.PathValue("call_id"), req)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/v1/captures/"+v.ID)
	writeJSON(w, http.StatusCreated, v)
}

func (s *Server) listCaptures(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"captures": s.Captures.Captures(r.PathValue("call_id"))})
}

func (s *Server) getCapture(w http.ResponseWriter, r *http.Request) {
	v, err := s.Captures.Capture(r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) cancelCapture(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), defaultReqTimeout)
	defer cancel()
	v, err := s.Captures.CancelCapture(ctx, r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) restartField(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), defaultReqTimeout)
	defer cancel()
	v, err := s.Captures.RestartField(ctx, r.PathValue("id"), capture.Field(r.PathValue("field")))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// decode reads a JSON body strictly: unknown fields and trailing data are
// refused with invalid_request.
func (s *Server) decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		writeError(w, http.StatusUnsupportedMediaType, Error{CodeInvalidRequest, "body must be application/json"})
		return false
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, Error{CodeTooLarge, "body too large"})
			return false
		}
		writeError(w, http.StatusBadRequest, Error{CodeInvalidRequest, "malformed JSON body: " + jsonProblem(err)})
		return false
	}
	if dec.More() {
		writeError(w, http.StatusBadRequest, Error{CodeInvalidRequest, "body holds more than one JSON value"})
		return false
	}
	if _, err := io.Copy(io.Discard, r.Body); err != nil {
		writeError(w, http.StatusBadRequest, Error{CodeInvalidRequest, "body could not be read"})
		return false
	}
	return true
}

// jsonProblem describes a decode error without echoing the body.
func jsonProblem(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("syntax error at byte %d", se.Offset)
	case errors.As(err, &te):
		return fmt.Sprintf("field %q has the wrong type", te.Field)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return strings.TrimPrefix(err.Error(), "json: ")
	case errors.Is(err, io.EOF):
		return "empty body"
	default:
		return "cannot be decoded"
	}
}
