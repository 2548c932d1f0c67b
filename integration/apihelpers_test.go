package integration_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tonewall/tonewall/controller/api"
	"github.com/tonewall/tonewall/controller/auth"
	"github.com/tonewall/tonewall/controller/call"
	"github.com/tonewall/tonewall/controller/daemon"
	"github.com/tonewall/tonewall/controller/stream"
)

// testAPIKey is the CRM's API key in these tests.
const testAPIKey = "crm-test-key-0123456789abcdefghij"

// signingKey is shared by every controller in a test, as in a cluster.
var signingKey = bytes.Repeat([]byte{0x5a}, auth.MinSigningKeyLen)

// securedEnv is a controller under test whose API is authenticated and
// streams progress: an api.Server with auth and a progress hub, around the
// daemon's call manager. (The daemon's own API stays open on another port
// for the harness.)
type securedEnv struct {
	*env
	hub    *stream.Hub
	signer *auth.Signer
	srv    *api.Server
}

func newSecuredEnv(t testing.TB) *securedEnv {
	t.Helper()
	hub := stream.NewHub(stream.Options{})
	e := newEnv(t, func(o *daemon.Options) {
		prev := o.Observer
		o.Observer = call.ObserverFunc(func(ev call.Event) {
			if prev != nil {
				prev.Observe(ev)
			}
			hub.Observe(ev)
		})
	})
	log := slog.New(slog.NewTextHandler(e.out, &slog.HandlerOptions{Level: slog.LevelDebug})).With("component", "secured-api")
	s := &securedEnv{env: e, hub: hub}
	s.srv, s.signer = newSecuredServer(t, e, hub, log)
	return s
}

// newSecuredServer opens an authenticated API server around e's call
// manager, logging into e's scanned output.
func newSecuredServer(t testing.TB, e *env, hub *stream.Hub, log *slog.Logger) (*api.Server, *auth.Signer) {
	t.Helper()
	keys, err := auth.NewKeys(map[string][]byte{"crm": []byte(testAPIKey)})
	if err != nil {
		t.Fatal(err)
	}
	signer, err := auth.NewSigner(signingKey)
	if err != nil {
		t.Fatal(err)
	}
	srv := &api.Server{
		Addr:     "127.0.0.1:0",
		Captures: e.d.Calls(),
		Events:   hub,
		Tokens:   signer,
		Auth:     (&auth.Authenticator{Keys: keys, Tokens: signer, Logger: log}).Middleware,
		Logger:   log,
	}
	if err := srv.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Close(ctx); err != nil {
			t.Errorf("api close: %v", err)
		}
	})
	return srv, signer
}

// call sends one request with a bearer token ("" for none) to base and
// decodes the reply into into (if not nil). Bodies join the scanned output.
func (s *securedEnv) call(base, method, path, token string, body, into any) (int, http.Header) {
	s.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			s.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	s.out.Write(append(b, '\n'))
	if into != nil && len(b) > 0 {
		if err := json.Unmarshal(b, into); err != nil {
			s.t.Fatalf("%s %s: %d %s: %v", method, path, resp.StatusCode, b, err)
		}
	}
	return resp.StatusCode, resp.Header
}

// agentToken mints an agent token for callID with the API key.
func (s *securedEnv) agentToken(callID string) api.AgentTokenResponse {
	s.t.Helper()
	var tok api.AgentTokenResponse
	if code, _ := s.call(s.srv.URL(), "POST", "/v1/calls/"+callID+"/agent-tokens", testAPIKey, map[string]any{"ttl_seconds": 300}, &tok); code != http.StatusCreated {
		s.t.Fatalf("mint agent token: status %d", code)
	}
	return tok
}

// firstEvent opens an event stream at path with the token in the query
// and returns the event type of its first event.
func (s *securedEnv) firstEvent(path, token string) (int, string) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", s.srv.URL()+path+"?access_token="+token, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, ""
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		s.out.Write(append(sc.Bytes(), '\n'))
		if ev, ok := strings.CutPrefix(sc.Text(), "event: "); ok {
			return resp.StatusCode, ev
		}
	}
	return resp.StatusCode, ""
}
