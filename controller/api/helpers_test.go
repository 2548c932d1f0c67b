package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tonewall/tonewall/controller/auth"
	"github.com/tonewall/tonewall/controller/call"
	"github.com/tonewall/tonewall/controller/capture"
	"github.com/tonewall/tonewall/controller/stream"
)

// fakeCaptures is an in-memory call manager. err, when set for a method
// name, is returned by that method.
type fakeCaptures struct {
	mu       sync.Mutex
	calls    map[string]call.CallView
	captures map[string]call.CaptureView
	err      map[string]error
	started  []call.CaptureRequest
}

func newFake() *fakeCaptures {
	f := &fakeCaptures{calls: map[string]call.CallView{}, captures: map[string]call.CaptureView{}, err: map[string]error{}}
	for _, id := range []string{"call-X", "call-Y"} {
		f.calls[id] = call.CallView{ID: id, Bridged: true, StartedAt: time.Unix(0, 0).UTC()}
	}
	f.captures["cap-X"] = call.CaptureView{ID: "cap-X", CallID: "call-X", State: "collecting", Masking: "on",
		Fields: []call.FieldView{{Field: "pan", Digits: 4}, {Field: "expiry"}, {Field: "cvv"}}}
	f.captures["cap-Y"] = call.CaptureView{ID: "cap-Y", CallID: "call-Y", State: "collecting", Masking: "on",
		Fields: []call.FieldView{{Field: "pan"}, {Field: "expiry"}, {Field: "cvv"}}}
	return f
}

func (f *fakeCaptures) fail(method string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err[method]
}

func (f *fakeCaptures) StartCapture(ctx context.Context, callID string, req call.CaptureRequest) (call.CaptureView, error) {
	if err := f.fail("StartCapture"); err != nil {
		return call.CaptureView{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.calls[callID]; !ok {
		return call.CaptureView{}, fmt.Errorf("call %s: %w", callID, call.ErrCallNotFound)
	}
	f.started = append(f.started, req)
	v := call.CaptureView{ID: fmt.Sprintf("cap-%d", len(f.started)), CallID: callID, State: "collecting", Masking: "on",
		Amount: req.Amount, Currency: req.Currency, Reference: req.Reference}
	f.captures[v.ID] = v
	return v, nil
}

func (f *fakeCaptures) Capture(id string) (call.CaptureView, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v, ok := f.captures[id]
	if !ok {
		return v, fmt.Errorf("capture %s: %w", id, call.ErrCaptureNotFound)
	}
	return v, nil
}

func (f *fakeCaptures) Captures(callID string) []call.CaptureView {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := []call.CaptureView{}
	for _, v := range f.captures {
		if v.CallID == callID {
			out = append(out, v)
		}
	}
	return out
}

func (f *fakeCaptures) CancelCapture(ctx context.Context, id string) (call.CaptureView, error) {
	if err := f.fail("CancelCapture"); err != nil {
		return call.CaptureView{}, err
	}
	v, err := f.Capture(id)
	if err != nil {
		return v, err
	}
	v.State, v.Outcome, v.Masking = "cancelled", "cancelled", "off"
	f.set(v)
	return v, nil
}

func (f *fakeCaptures) RestartField(ctx context.Context, id string, fl capture.Field) (call.CaptureView, error) {
	if err := f.fail("RestartField"); err != nil {
		return call.CaptureView{}, err
	}
	if fl != capture.FieldPAN && fl != capture.FieldExpiry && fl != capture.FieldCVV && fl != capture.FieldPostcode {
		return call.CaptureView{}, fmt.Errorf("%w: unknown field %q", call.ErrInvalidRequest, fl)
	}
	v, err := f.Capture(id)
	if err == nil {
		v.Field = string(fl)
	}
	return v, err
}

func (f *fakeCaptures) Calls() []call.CallView {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []call.CallView
	for _, c := range f.calls {
		out = append(out, c)
	}
	return out
}

func (f *fakeCaptures) Call(id string) (call.CallView, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.calls[id]
	if !ok {
		return c, fmt.Errorf("call %s: %w", id, call.ErrCallNotFound)
	}
	return c, nil
}

func (f *fakeCaptures) set(v call.CaptureView) {
	f.mu.Lock()
	f.captures[v.ID] = v
	f.mu.Unlock()
}

const apiKey = "crm-key-0123456789abcdefghijkl"

// rig is a Server with real auth, a real hub and fakes for the rest.
type rig struct {
	t      testing.TB
	srv    *Server
	fake   *fakeCaptures
	hub    *stream.Hub
	signer *auth.Signer
	dels   *fakeDeliveries
	logs   *syncBuffer
	h      http.Handler
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if os.Getenv("TONEWALL_TEST_LOG") != "" {
		os.Stderr.Write(p)
	}
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newRig(t testing.TB, mutate func(*Server)) *rig {
	t.Helper()
	keys, err := auth.NewKeys(map[string][]byte{"crm": []byte(apiKey)})
	if err != nil {
		t.Fatal(err)
	}
	signer, err := auth.NewSigner(bytes.Repeat([]byte("k"), auth.MinSigningKeyLen))
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	r := &rig{t: t, fake: newFake(), hub: stream.NewHub(stream.Options{}), signer: signer, dels: &fakeDeliveries{}, logs: logs}
	r.srv = &Server{
		Captures:   r.fake,
		Events:     r.hub,
		Tokens:     signer,
		Deliveries: r.dels,
		Auth:       (&auth.Authenticator{Keys: keys, Tokens: signer, Logger: log}).Middleware,
		Logger:     log,
	}
	if mutate != nil {
		mutate(r.srv)
	}
	r.h = r.srv.Handler()
	return r
}

// agent mints an agent token for callID.
func (r *rig) agent(callID string) string {
	r.t.Helper()
	at, err := r.signer.Issue(callID, time.Minute)
	if err != nil {
		r.t.Fatal(err)
	}
	return at.Token
}

// do serves one request; token "" sends none.
func (r *rig) do(method, path, token string, body any) *httptest.ResponseRecorder {
	r.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			r.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req := httptest.NewRequest(method, path, rd)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	w := httptest.NewRecorder()
	r.h.ServeHTTP(w, req)
	return w
}

// errCode returns the error code of a response body, or "".
func errCode(t testing.TB, w *httptest.ResponseRecorder) string {
	t.Helper()
	var body errorBody
	_ = json.Unmarshal(w.Body.Bytes(), &body)
	return body.Error.Code
}

type fakeDeliveries struct {
	mu        sync.Mutex
	filter    DeliveryFilter
	list      []DeliveryView
	replayErr error
	replayed  []string
}

func (f *fakeDeliveries) List(ctx context.Context, fl DeliveryFilter) ([]DeliveryView, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.filter = fl
	return f.list, nil
}

func (f *fakeDeliveries) Replay(ctx context.Context, ev, ep string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.replayErr != nil {
		return f.replayErr
	}
	f.replayed = append(f.replayed, ev+"/"+ep)
	return nil
}
