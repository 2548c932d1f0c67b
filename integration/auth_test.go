package integration_test

import (
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tonewall/tonewall/controller/auth"
	"github.com/tonewall/tonewall/controller/call"
	"github.com/tonewall/tonewall/integration/fssim"
)

func TestAPIAuthentication(t *testing.T) {
	s := newSecuredEnv(t)
	x := s.dial(fssim.CallOptions{})
	y := s.dial(fssim.CallOptions{})
	base := s.srv.URL()

	// The CRM starts a capture on call Y with its API key.
	var capY call.CaptureView
	if code, _ := s.call(base, "POST", "/v1/calls/"+y.A()+"/captures", testAPIKey,
		map[string]any{"amount": 700, "currency": "GBP", "reference": "order-y"}, &capY); code != http.StatusCreated {
		t.Fatalf("start on Y with the API key: %d", code)
	}
	tokX := s.agentToken(x.A())

	// An expired token, signed with the right key.
	past, err := auth.NewSigner(signingKey)
	if err != nil {
		t.Fatal(err)
	}
	past.Now = func() time.Time { return time.Now().Add(-2 * time.Hour) }
	expired, err := past.Issue(x.A(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}

	body := map[string]any{"amount": 100, "currency": "GBP", "reference": "r"}
	refused := []struct {
		name         string
		method, path string
		token        string
		status       int
		code         string
	}{
		{"no token", "GET", "/v1/calls/" + x.A(), "", 401, "unauthorized"},
		{"no token, list", "GET", "/v1/calls", "", 401, "unauthorized"},
		{"wrong token", "GET", "/v1/calls/" + x.A(), "crm-test-key-not-the-right-one-000", 401, "unauthorized"},
		{"tampered agent token", "GET", "/v1/calls/" + x.A(), tokX.Token[:len(tokX.Token)-2] + "AA", 401, "unauthorized"},
		{"expired agent token", "GET", "/v1/calls/" + x.A(), expired.Token, 401, "unauthorized"},
		{"X token reads call Y", "GET", "/v1/calls/" + y.A(), tokX.Token, 403, "forbidden"},
		{"X token starts on call Y", "POST", "/v1/calls/" + y.A() + "/captures", tokX.Token, 403, "forbidden"},
		{"X token lists Y's captures", "GET", "/v1/calls/" + y.A() + "/captures", tokX.Token, 403, "forbidden"},
		{"X token reads Y's capture", "GET", "/v1/captures/" + capY.ID, tokX.Token, 403, "forbidden"},
		{"X token cancels Y's capture", "POST", "/v1/captures/" + capY.ID + "/cancel", tokX.Token, 403, "forbidden"},
		{"X token restarts Y's field", "POST", "/v1/captures/" + capY.ID + "/fields/pan/restart", tokX.Token, 403, "forbidden"},
		{"X token completes Y's capture", "POST", "/v1/captures/" + capY.ID + "/complete", tokX.Token, 403, "forbidden"},
		{"X token lists calls", "GET", "/v1/calls", tokX.Token, 403, "forbidden"},
		{"X token mints tokens", "POST", "/v1/calls/" + x.A() + "/agent-tokens", tokX.Token, 403, "forbidden"},
		{"X token reads deliveries", "GET", "/v1/webhooks/deliveries", tokX.Token, 403, "forbidden"},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			var eb struct{ Error struct{ Code string } }
			var b any
			if tt.method == "POST" && strings.HasSuffix(tt.path, "/captures") {
				b = body
			}
			code, h := s.call(base, tt.method, tt.path, tt.token, b, &eb)
			if code != tt.status || eb.Error.Code != tt.code {
				t.Errorf("%d %q, want %d %q", code, eb.Error.Code, tt.status, tt.code)
			}
			if tt.status == 401 && !strings.HasPrefix(h.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("WWW-Authenticate %q", h.Get("WWW-Authenticate"))
			}
		})
	}
	for _, path := range []string{"/v1/calls/" + y.A() + "/events", "/v1/captures/" + capY.ID + "/events"} {
		if code, _ := s.firstEvent(path, tokX.Token); code != 403 {
			t.Errorf("X token on %s: %d, want 403", path, code)
		}
	}
	// Nothing refused touched call Y's capture.
	if v, err := s.d.Calls().Capture(capY.ID); err != nil || v.State != "collecting" || v.Masking != "on" {
		t.Errorf("Y's capture after the refused requests: %+v %v", v, err)
	}

	// The API key reaches everything.
	var calls struct{ Calls []call.CallView }
	if code, _ := s.call(base, "GET", "/v1/calls", testAPIKey, nil, &calls); code != 200 || len(calls.Calls) != 2 {
		t.Errorf("list calls with the API key: %d, %d calls", code, len(calls.Calls))
	}

	// The agent token works on its own call.
	if code, _ := s.call(base, "GET", "/v1/calls/"+x.A(), tokX.Token, nil, nil); code != 200 {
		t.Errorf("X token reads call X: %d", code)
	}
	var capX call.CaptureView
	if code, _ := s.call(base, "POST", "/v1/calls/"+x.A()+"/captures", tokX.Token, body, &capX); code != 201 || capX.Masking != "on" {
		t.Fatalf("X token starts on call X: %d %+v", code, capX)
	}
	if code, ev := s.firstEvent("/v1/captures/"+capX.ID+"/events", tokX.Token); code != 200 || ev != "snapshot" {
		t.Errorf("X token streams its capture: %d, first event %q", code, ev)
	}
	if code, _ := s.call(base, "GET", "/v1/captures/"+capX.ID, tokX.Token, nil, nil); code != 200 {
		t.Errorf("X token reads its capture: %d", code)
	}
	var cancelled call.CaptureView
	if code, _ := s.call(base, "POST", "/v1/captures/"+capX.ID+"/cancel", tokX.Token, nil, &cancelled); code != 200 || cancelled.Outcome != "cancelled" {
		t.Errorf("X token cancels its capture: %d %+v", code, cancelled)
	}
	// The OpenAPI document needs no token.
	if code, _ := s.call(base, "GET", "/v1/openapi.json", "", nil, nil); code != 200 {
		t.Errorf("openapi.json: %d", code)
	}
	// No token ever reaches the log.
	logs := logLines(s.out.String())
	if !strings.Contains(logs, "not authenticated") {
		t.Error("refusals were not logged")
	}
	for _, tok := range []string{testAPIKey, tokX.Token, expired.Token} {
		if strings.Contains(logs, tok) {
			t.Errorf("token %.8s… was logged", tok)
		}
	}
}

// logLines keeps only the log lines of the output (the responses are
// scanned elsewhere and legitimately hold the minted token).
func logLines(out string) string {
	var b strings.Builder
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "time=") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

// Controllers that share the signing key accept each other's agent tokens.
func TestAgentTokenAcrossControllers(t *testing.T) {
	s := newSecuredEnv(t)
	c := s.dial(fssim.CallOptions{})
	tok := s.agentToken(c.A())
	peer, _ := newSecuredServer(t, s.env, s.hub, slog.New(slog.NewTextHandler(s.out, nil)))
	if code, _ := s.call(peer.URL(), "GET", "/v1/calls/"+c.A(), tok.Token, nil, nil); code != 200 {
		t.Errorf("peer controller: %d", code)
	}
}
