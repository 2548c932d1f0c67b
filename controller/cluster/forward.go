package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/nats-io/nats.go"
)

// Error codes this package answers with, in the API's error body
// {"error":{"code":...,"message":...}}. They are stable.
const (
	// CodeControllerUnavailable: the controller holding the call did not
	// answer (gone, or too slow), or the directory cannot be reached.
	CodeControllerUnavailable = "controller_unavailable"
	// CodeWrongController: a streaming request reached a controller that
	// does not hold the call; the Tonewall-Controller header names the one
	// that does.
	CodeWrongController = "wrong_controller"
	// CodeInvalidRequest: the body looks like it holds a card number.
	CodeInvalidRequest = "invalid_request"
	// CodeTooLarge: the body is larger than MaxBody.
	CodeTooLarge = "request_too_large"
	// CodeInternal: the local handler failed while serving a forwarded request.
	CodeInternal = "internal_error"
)

// Middleware forwards a request naming a call or capture
// (/v1/calls/{call_id}/…, /v1/captures/{id}/…) that this controller does not
// hold to the controller that does, and serves everything else with next.
// next is also the handler that serves requests forwarded to this controller;
// the handler given to the latest call of Middleware is the one used.
//
// Wrap the API's whole handler, outside authentication, so that the owner
// authenticates the forwarded request with the call at hand.
func (c *Cluster) Middleware(next http.Handler) http.Handler {
	c.handler.Store(&next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t, ok := parseTarget(r.URL.Path)
		if !ok || r.Header.Get(HeaderForwarded) != "" || c.holds(t) {
			c.serveLocal(next, t, w, r)
			return
		}
		owner, err := c.locate(r.Context(), t)
		switch {
		case errors.Is(err, ErrUnknown):
			next.ServeHTTP(w, r) // the API answers not found
			return
		case err != nil:
			if r.Context().Err() == nil {
				c.log.Warn("directory lookup failed", "kind", t.kind, "err", err)
				writeError(w, http.StatusServiceUnavailable, CodeControllerUnavailable, "the call directory cannot be reached; try again")
			}
			return
		case owner == c.opts.NodeID:
			c.serveLocal(next, t, w, r)
			return
		}
		if isStream(t, r) {
			c.relayStream(w, r, owner)
			return
		}
		c.forward(w, r, owner)
	})
}

// holds reports whether this controller holds t.
func (c *Cluster) holds(t target) bool {
	if t.kind == kindCapture {
		return c.opts.Local.HasCapture(t.id)
	}
	return c.opts.Local.HasCall(t.id)
}

// serveLocal serves r with next. When r may create a capture, the capture's
// directory entry is written before the answer leaves, so that the next
// request for it finds it through any controller.
func (c *Cluster) serveLocal(next http.Handler, t target, w http.ResponseWriter, r *http.Request) {
	if !t.createsCapture(r.Method) {
		next.ServeHTTP(w, r)
		return
	}
	next.ServeHTTP(&noteWriter{ResponseWriter: w, c: c, ctx: r.Context(), callID: t.id}, r)
}

// noteWriter writes a created capture's directory entry when the 201 is
// written.
type noteWriter struct {
	http.ResponseWriter
	c      *Cluster
	ctx    context.Context
	callID string
	wrote  bool
}

func (w *noteWriter) WriteHeader(code int) {
	if !w.wrote {
		w.wrote = true
		w.c.noteCreated(w.ctx, code, w.Header(), w.callID)
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *noteWriter) Write(p []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *noteWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// noteCreated records the capture named by a 201 answer's Location header.
func (c *Cluster) noteCreated(ctx context.Context, code int, h http.Header, callID string) {
	if code != http.StatusCreated {
		return
	}
	id, ok := strings.CutPrefix(h.Get("Location"), "/v1/captures/")
	if !ok || !idRE.MatchString(id) || !c.opts.Local.HasCapture(id) {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), opTimeout)
	defer cancel()
	if err := c.noteCapture(ctx, id, callID); err != nil {
		c.log.Warn("directory write failed", "capture", id, "err", err)
	}
}

// forward sends r to owner over NATS and writes its answer.
func (c *Cluster) forward(w http.ResponseWriter, r *http.Request, owner string) {
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBody+1))
	if err != nil {
		writeError(w, http.StatusBadRequest, CodeInvalidRequest, "body could not be read")
		return
	}
	data, err := encodeRequest(r, body, c.opts.NodeID)
	switch {
	case errors.Is(err, ErrTooLarge):
		writeError(w, http.StatusRequestEntityTooLarge, CodeTooLarge, "body too large")
		return
	case errors.Is(err, ErrCardLike):
		c.log.Warn("request not forwarded: body holds a long run of digits", "method", r.Method, "path", r.URL.Path)
		writeError(w, http.StatusBadRequest, CodeInvalidRequest, "body holds a run of 12 or more digits, which could be a card number; card data must never be sent to the API")
		return
	case err != nil:
		writeError(w, http.StatusInternalServerError, CodeInternal, "internal error")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), c.opts.RequestTimeout)
	defer cancel()
	msg, err := c.nc.RequestMsgWithContext(ctx, &nats.Msg{Subject: nodeSubject(owner), Data: data})
	if err != nil {
		if r.Context().Err() != nil {
			return // the client went away
		}
		c.log.Warn("forwarded request failed", "owner", owner, "method", r.Method, "path", r.URL.Path, "err", err)
		w.Header().Set(HeaderController, owner)
		writeError(w, http.StatusServiceUnavailable, CodeControllerUnavailable, "the controller holding the call did not answer; try again")
		return
	}
	resp, err := decodeResponse(msg.Data)
	if err != nil {
		c.log.Warn("forwarded answer malformed", "owner", owner, "err", err)
		writeError(w, http.StatusServiceUnavailable, CodeControllerUnavailable, "the controller holding the call gave no usable answer")
		return
	}
	w.Header().Set(HeaderController, owner)
	resp.write(w)
}

// onRequest takes one request forwarded to this controller and serves it on
// its own goroutine, up to MaxInFlight at once.
func (c *Cluster) onRequest(m *nats.Msg) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		c.respondError(m, http.StatusServiceUnavailable, CodeControllerUnavailable, "the controller is shutting down")
		return
	}
	select {
	case c.inflight <- struct{}{}:
	default:
		c.mu.Unlock()
		c.respondError(m, http.StatusServiceUnavailable, CodeControllerUnavailable, "the controller holding the call is overloaded; try again")
		return
	}
	c.wg.Add(1)
	c.mu.Unlock()
	go func() {
		defer c.wg.Done()
		defer func() { <-c.inflight }()
		c.serveForwarded(m)
	}()
}

// serveForwarded serves one forwarded request with the local handler and
// replies with its answer.
func (c *Cluster) serveForwarded(m *nats.Msg) {
	ctx, cancel := context.WithTimeout(c.ctx, c.opts.RequestTimeout)
	defer cancel()
	r, err := decodeRequest(ctx, m.Data)
	if err != nil {
		c.log.Warn("forwarded request refused", "err", err)
		c.respondError(m, http.StatusBadRequest, CodeInvalidRequest, "malformed forwarded request")
		return
	}
	h := c.handler.Load()
	if h == nil {
		c.respondError(m, http.StatusServiceUnavailable, CodeControllerUnavailable, "the controller holding the call is not serving the API yet")
		return
	}
	t, _ := parseTarget(r.URL.Path)
	if isStream(t, r) {
		c.respondError(m, http.StatusMisdirectedRequest, CodeWrongController, "event streams are not forwarded")
		return
	}
	rec := newRecorder(c.limit)
	if !c.serveRecovered(*h, rec, r) {
		c.respondError(m, http.StatusInternalServerError, CodeInternal, "internal error")
		return
	}
	if ctx.Err() != nil {
		// The requester has given up (its timeout is the same): an answer
		// now could be a handler's half-written one. Say so instead.
		c.respondError(m, http.StatusServiceUnavailable, CodeControllerUnavailable, "the controller holding the call did not answer in time")
		return
	}
	status, body := rec.result()
	if rec.overflow {
		c.log.Error("forwarded answer too large", "method", r.Method, "path", r.URL.Path, "limit", c.limit)
		c.respondError(m, http.StatusInternalServerError, CodeInternal, "answer too large to forward")
		return
	}
	if t.createsCapture(r.Method) {
		c.noteCreated(ctx, status, rec.Header(), t.id)
	}
	data, err := encodeResponse(status, rec.Header(), body)
	if err != nil {
		c.respondError(m, http.StatusInternalServerError, CodeInternal, "internal error")
		return
	}
	c.respond(m, data)
}

// serveRecovered runs h, turning a panic into false, as net/http would for
// a request of its own.
func (c *Cluster) serveRecovered(h http.Handler, w http.ResponseWriter, r *http.Request) (ok bool) {
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				ok = false
				return
			}
			c.log.Error("panic serving a forwarded request", "method", r.Method, "path", r.URL.Path, "panic", p)
			ok = false
		}
	}()
	h.ServeHTTP(w, r)
	return true
}

func (c *Cluster) respond(m *nats.Msg, data []byte) {
	if err := m.Respond(data); err != nil {
		c.log.Warn("reply to forwarded request failed", "err", err)
	}
}

func (c *Cluster) respondError(m *nats.Msg, status int, code, message string) {
	body, _ := json.Marshal(errorBody{Error: apiError{Code: code, Message: message}})
	data, err := encodeResponse(status, http.Header{
		"Content-Type":  {"application/json"},
		"Cache-Control": {"no-store"},
	}, append(body, '\n'))
	if err == nil {
		c.respond(m, data)
	}
}

type apiError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

type errorBody struct {
	Error apiError `json:"error"`
}

// writeError writes an error in the API's shape.
func writeError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(errorBody{Error: apiError{Code: code, Message: message}})
}
