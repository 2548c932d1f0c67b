package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tonewall/tonewall/controller/call"
)

func TestOpenAPIMatchesRoutes(t *testing.T) {
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(OpenAPI(), &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi version %q", doc.OpenAPI)
	}
	var documented []string
	for path, ops := range doc.Paths {
		for method, op := range ops {
			documented = append(documented, strings.ToUpper(method)+" "+path)
			var o struct {
				OperationID string                     `json:"operationId"`
				Responses   map[string]json.RawMessage `json:"responses"`
			}
			if err := json.Unmarshal(op, &o); err != nil || o.OperationID == "" || len(o.Responses) == 0 {
				t.Errorf("%s %s: no operationId or responses", method, path)
			}
		}
	}
	var registered []string
	for _, rt := range (&Server{}).routes() {
		registered = append(registered, rt.pattern)
	}
	slices.Sort(documented)
	slices.Sort(registered)
	for _, r := range registered {
		if !slices.Contains(documented, r) {
			t.Errorf("route %q is not in openapi.json", r)
		}
	}
	for _, d := range documented {
		if !slices.Contains(registered, d) {
			t.Errorf("openapi.json documents %q, which the server does not serve", d)
		}
	}
}

func TestOpenAPIListsEveryErrorCode(t *testing.T) {
	var doc struct {
		Components struct {
			Schemas struct {
				ErrorBody struct {
					Properties struct {
						Error struct {
							Properties struct {
								Code struct {
									Enum []string `json:"enum"`
								} `json:"code"`
							} `json:"properties"`
						} `json:"error"`
					} `json:"properties"`
				} `json:"ErrorBody"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	enum := doc.Components.Schemas.ErrorBody.Properties.Error.Properties.Code.Enum
	slices.Sort(enum)
	codes := slices.Clone(allCodes)
	slices.Sort(codes)
	if !slices.Equal(enum, codes) {
		t.Errorf("documented codes %v\nconstants %v", enum, codes)
	}
}

// allCodes lists every Code constant; TestErrorCodes covers each.
var allCodes = []string{
	CodeInvalidRequest, CodeNotFound, CodeCallNotFound, CodeCaptureNotFound, CodeCallNotReady,
	CodeCaptureActive, CodeCaptureFinished, CodeCaptureIncomplete, CodeCallEnded, CodeMaskingFailed, CodeProviderUnavailable,
	CodeUnauthorized, CodeForbidden, CodeMethodNotAllowed, CodeUnsupportedMedia, CodeTooLarge,
	CodeTimeout, CodeNotConfigured, CodeDeliveryNotFound, CodeDeliveryPending, CodeEndpointNotFound,
	CodeEndpointDisabled, CodeInternal,
}

func TestOpenAPIServedWithoutAuth(t *testing.T) {
	r := newRig(t, nil)
	w := r.do("GET", "/v1/openapi.json", "", nil)
	if w.Code != 200 || w.Body.String() != string(OpenAPI()) {
		t.Fatalf("GET /v1/openapi.json: %d", w.Code)
	}
	if w := r.do("GET", "/healthz", "", nil); w.Code != 200 {
		t.Errorf("healthz: %d", w.Code)
	}
	// Every other route needs a token.
	for _, rt := range r.srv.routes() {
		if rt.public {
			continue
		}
		method, path, _ := strings.Cut(rt.pattern, " ")
		path = strings.NewReplacer("{call_id}", "call-X", "{id}", "cap-X", "{field}", "pan", "{event_id}", "e", "{endpoint_id}", "p").Replace(path)
		w := r.do(method, path, "", nil)
		if w.Code != 401 || errCode(t, w) != CodeUnauthorized || !strings.HasPrefix(w.Header().Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("%s without a token: %d %s", rt.pattern, w.Code, w.Body)
		}
	}
}

func TestErrorCodes(t *testing.T) {
	start := map[string]any{"amount": 100, "currency": "GBP", "reference": "r"}
	tests := []struct {
		name   string
		setup  func(*rig)
		method string
		path   string
		token  string // "" means the API key; "-" none; otherwise as given
		body   any
		status int
		code   string
	}{
		{"invalid body", nil, "POST", "/v1/calls/call-X/captures", "", `{"amount":`, 400, CodeInvalidRequest},
		{"unknown field", nil, "POST", "/v1/calls/call-X/captures", "", `{"amount":1,"colour":"red"}`, 400, CodeInvalidRequest},
		{"two values", nil, "POST", "/v1/calls/call-X/captures", "", `{"amount":1} {}`, 400, CodeInvalidRequest},
		{"rejected by the manager", func(r *rig) { r.fake.err["StartCapture"] = fmt.Errorf("%w: amount", call.ErrInvalidRequest) }, "POST", "/v1/calls/call-X/captures", "", start, 400, CodeInvalidRequest},
		{"bad field", nil, "POST", "/v1/captures/cap-X/fields/pin/restart", "", nil, 400, CodeInvalidRequest},
		{"no route", nil, "GET", "/v1/nothing", "", nil, 404, CodeNotFound},
		{"unknown call", nil, "POST", "/v1/calls/nope/captures", "", start, 404, CodeCallNotFound},
		{"unknown call read", nil, "GET", "/v1/calls/nope", "", nil, 404, CodeCallNotFound},
		{"unknown capture", nil, "GET", "/v1/captures/nope", "", nil, 404, CodeCaptureNotFound},
		{"not ready", func(r *rig) { r.fake.err["StartCapture"] = call.ErrCallNotReady }, "POST", "/v1/calls/call-X/captures", "", start, 409, CodeCallNotReady},
		{"in progress", func(r *rig) { r.fake.err["StartCapture"] = call.ErrCaptureActive }, "POST", "/v1/calls/call-X/captures", "", start, 409, CodeCaptureActive},
		{"finished", func(r *rig) { r.fake.err["CancelCapture"] = call.ErrCaptureFinished }, "POST", "/v1/captures/cap-X/cancel", "", nil, 409, CodeCaptureFinished},
		{"incomplete", nil, "POST", "/v1/captures/cap-X/complete", "", nil, 409, CodeCaptureIncomplete},
		{"call ended", func(r *rig) { r.fake.err["RestartField"] = call.ErrCallEnded }, "POST", "/v1/captures/cap-X/fields/cvv/restart", "", nil, 410, CodeCallEnded},
		{"masking failed", func(r *rig) { r.fake.err["StartCapture"] = call.ErrMaskingFailed }, "POST", "/v1/calls/call-X/captures", "", start, 502, CodeMaskingFailed},
		{"provider unavailable", func(r *rig) { r.fake.err["StartCapture"] = call.ErrProviderUnavailable }, "POST", "/v1/calls/call-X/captures", "", start, 503, CodeProviderUnavailable},
		{"no token", nil, "GET", "/v1/calls", "-", nil, 401, CodeUnauthorized},
		{"wrong token", nil, "GET", "/v1/calls", "crm-key-not-the-right-one-at-all", nil, 401, CodeUnauthorized},
		{"agent lists calls", nil, "GET", "/v1/calls", "agent:call-X", nil, 403, CodeForbidden},
		{"method", nil, "DELETE", "/v1/captures/cap-X", "", nil, 405, CodeMethodNotAllowed},
		{"media type", nil, "POST", "/v1/calls/call-X/captures", "", nil, 415, CodeUnsupportedMedia},
		{"too large", nil, "POST", "/v1/calls/call-X/captures", "", `{"reference":"` + strings.Repeat("x", maxBody) + `"}`, 413, CodeTooLarge},
		{"timeout", func(r *rig) { r.fake.err["CancelCapture"] = fmt.Errorf("cancel: %w", context.DeadlineExceeded) }, "POST", "/v1/captures/cap-X/cancel", "", nil, 504, CodeTimeout},
		{"no signer", func(r *rig) { r.srv.Tokens = nil }, "POST", "/v1/calls/call-X/agent-tokens", "", nil, 501, CodeNotConfigured},
		{"no hub", func(r *rig) { r.srv.Events = nil }, "GET", "/v1/calls/call-X/events", "", nil, 501, CodeNotConfigured},
		{"no sender", func(r *rig) { r.srv.Deliveries = nil }, "GET", "/v1/webhooks/deliveries", "", nil, 501, CodeNotConfigured},
		{"no delivery", func(r *rig) { r.dels.replayErr = fmt.Errorf("x: %w", ErrDeliveryNotFound) }, "POST", "/v1/webhooks/deliveries/evt_1/crm/replay", "", nil, 404, CodeDeliveryNotFound},
		{"pending", func(r *rig) { r.dels.replayErr = ErrDeliveryPending }, "POST", "/v1/webhooks/deliveries/evt_1/crm/replay", "", nil, 409, CodeDeliveryPending},
		{"no endpoint", func(r *rig) { r.dels.replayErr = ErrEndpointNotFound }, "POST", "/v1/webhooks/deliveries/evt_1/crm/replay", "", nil, 404, CodeEndpointNotFound},
		{"endpoint off", func(r *rig) { r.dels.replayErr = ErrEndpointDisabled }, "POST", "/v1/webhooks/deliveries/evt_1/crm/replay", "", nil, 409, CodeEndpointDisabled},
		{"internal", func(r *rig) { r.fake.err["StartCapture"] = fmt.Errorf("switch said secret things") }, "POST", "/v1/calls/call-X/captures", "", start, 500, CodeInternal},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, func(s *Server) {})
			if tt.setup != nil {
				tt.setup(r)
				r.h = r.srv.Handler()
			}
			token := apiKey
			switch {
			case tt.token == "-":
				token = ""
			case strings.HasPrefix(tt.token, "agent:"):
				token = r.agent(strings.TrimPrefix(tt.token, "agent:"))
			case tt.token != "":
				token = tt.token
			}
			var w = r.do(tt.method, tt.path, token, tt.body)
			if tt.code == CodeUnsupportedMedia {
				req := newReq(tt.method, tt.path, `{}`)
				req.Header.Set("Content-Type", "text/plain")
				req.Header.Set("Authorization", "Bearer "+token)
				w = serve(r.h, req)
			}
			if w.Code != tt.status || errCode(t, w) != tt.code {
				t.Fatalf("%s %s: %d %s; want %d %s", tt.method, tt.path, w.Code, w.Body, tt.status, tt.code)
			}
			if strings.Contains(w.Body.String(), "secret things") {
				t.Error("internal error text reached the client")
			}
			if tt.status == 405 && w.Header().Get("Allow") != "GET" {
				t.Errorf("Allow = %q", w.Header().Get("Allow"))
			}
			seen[tt.code] = true
		})
	}
	for _, c := range allCodes {
		if !seen[c] {
			t.Errorf("code %s not covered", c)
		}
	}
}

func TestStartAndAct(t *testing.T) {
	r := newRig(t, nil)
	req := newReq("POST", "/v1/calls/call-X/captures", `{"amount":1250,"currency":"GBP","reference":"order-1"}`)
	req.Header.Set("Authorization", "Bearer "+r.agent("call-X"))
	req.Header.Set("Idempotency-Key", "idem-1")
	w := serve(r.h, req)
	var v call.CaptureView
	if w.Code != 201 || json.Unmarshal(w.Body.Bytes(), &v) != nil || w.Header().Get("Location") != "/v1/captures/"+v.ID {
		t.Fatalf("start: %d %s", w.Code, w.Body)
	}
	if got := r.fake.started[0]; got.IdempotencyKey != "idem-1" || got.Amount != 1250 {
		t.Errorf("request reached the manager as %+v", got)
	}
	if w := r.do("POST", "/v1/captures/"+v.ID+"/fields/expiry/restart", r.agent("call-X"), nil); w.Code != 200 {
		t.Errorf("restart: %d %s", w.Code, w.Body)
	}
	if w := r.do("POST", "/v1/captures/"+v.ID+"/cancel", r.agent("call-X"), nil); w.Code != 200 || !strings.Contains(w.Body.String(), `"outcome":"cancelled"`) {
		t.Errorf("cancel: %d %s", w.Code, w.Body)
	}
	w = r.do("GET", "/v1/calls/call-X/captures", apiKey, nil)
	var list struct{ Captures []call.CaptureView }
	if w.Code != 200 || json.Unmarshal(w.Body.Bytes(), &list) != nil || len(list.Captures) != 2 {
		t.Errorf("list: %d %s", w.Code, w.Body)
	}
	if w := r.do("GET", "/v1/calls", apiKey, nil); w.Code != 200 || !strings.Contains(w.Body.String(), "call-Y") {
		t.Errorf("calls: %d %s", w.Code, w.Body)
	}
}

func TestComplete(t *testing.T) {
	done := func(v *call.CaptureView) {
		for i := range v.Fields {
			v.Fields[i].Done, v.Fields[i].Valid = true, true
		}
	}
	tests := []struct {
		name   string
		edit   func(v *call.CaptureView)
		status int
		msg    string
	}{
		{"collecting", func(v *call.CaptureView) {}, 409, "pan, expiry, cvv"},
		{"card complete, submitting", func(v *call.CaptureView) { done(v); v.State = "complete"; v.Outcome = "submitting" }, 409, "being submitted"},
		{"cancelled", func(v *call.CaptureView) { v.State = "cancelled"; v.Outcome = "cancelled" }, 409, "without a complete card"},
		{"paid", func(v *call.CaptureView) {
			done(v)
			v.State, v.Outcome, v.Brand, v.Last4 = "complete", "approved", "visa", "4242"
			v.Payment = &call.PaymentResult{Outcome: "approved"}
		}, 200, `"last4":"4242"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, nil)
			v, _ := r.fake.Capture("cap-X")
			tt.edit(&v)
			r.fake.set(v)
			w := r.do("POST", "/v1/captures/cap-X/complete", r.agent("call-X"), nil)
			if w.Code != tt.status || !strings.Contains(w.Body.String(), tt.msg) {
				t.Errorf("%d %s; want %d with %q", w.Code, w.Body, tt.status, tt.msg)
			}
		})
	}
}

func TestAgentTokens(t *testing.T) {
	r := newRig(t, func(s *Server) { s.PublicURL = "https://tonewall.example/" })
	w := r.do("POST", "/v1/calls/call-X/agent-tokens", apiKey, map[string]any{"ttl_seconds": 600})
	var resp AgentTokenResponse
	if w.Code != 201 || json.Unmarshal(w.Body.Bytes(), &resp) != nil {
		t.Fatalf("mint: %d %s", w.Code, w.Body)
	}
	if d := time.Until(resp.ExpiresAt); d < 9*time.Minute || d > 10*time.Minute {
		t.Errorf("expires in %s, want 10m", d)
	}
	if want := "https://tonewall.example/panel/?call=call-X#token=" + resp.Token; resp.PanelURL != want {
		t.Errorf("panel_url %q, want %q", resp.PanelURL, want)
	}
	if w.Header().Get("Cache-Control") != "no-store" {
		t.Error("token response may be cached")
	}
	if strings.Contains(r.logs.String(), resp.Token) {
		t.Error("the token was logged")
	}
	// The token works on its call and nowhere else.
	if w := r.do("GET", "/v1/calls/call-X", resp.Token, nil); w.Code != 200 {
		t.Errorf("own call: %d", w.Code)
	}
	for _, tt := range []struct{ method, path string }{
		{"GET", "/v1/calls/call-Y"},
		{"GET", "/v1/calls/call-Y/captures"},
		{"POST", "/v1/calls/call-Y/captures"},
		{"GET", "/v1/calls/call-Y/events"},
		{"GET", "/v1/captures/cap-Y"},
		{"POST", "/v1/captures/cap-Y/cancel"},
		{"POST", "/v1/captures/cap-Y/complete"},
		{"POST", "/v1/captures/cap-Y/fields/pan/restart"},
		{"GET", "/v1/captures/cap-Y/events"},
		{"GET", "/v1/calls"},
		{"POST", "/v1/calls/call-X/agent-tokens"},
		{"GET", "/v1/webhooks/deliveries"},
		{"POST", "/v1/webhooks/deliveries/evt_1/crm/replay"},
	} {
		w := r.do(tt.method, tt.path, resp.Token, map[string]any{"amount": 1, "currency": "GBP", "reference": "r"})
		if w.Code != 403 || errCode(t, w) != CodeForbidden {
			t.Errorf("%s %s with a call-X token: %d %s", tt.method, tt.path, w.Code, w.Body)
		}
	}
	if v, _ := r.fake.Capture("cap-Y"); v.State != "collecting" || len(r.fake.started) != 0 {
		t.Error("a refused request acted anyway")
	}
	for _, tt := range []struct {
		body any
		code int
	}{
		{map[string]any{"ttl_seconds": 3601}, 400},
		{map[string]any{"ttl_seconds": -1}, 400},
		{map[string]any{"ttl": 5}, 400},
		{nil, 201}, // empty body: default lifetime
	} {
		if w := r.do("POST", "/v1/calls/call-X/agent-tokens", apiKey, tt.body); w.Code != tt.code {
			t.Errorf("mint with %v: %d %s", tt.body, w.Code, w.Body)
		}
	}
	if w := r.do("POST", "/v1/calls/gone/agent-tokens", apiKey, nil); w.Code != 404 || errCode(t, w) != CodeCallNotFound {
		t.Errorf("mint for an unknown call: %d", w.Code)
	}
}

func TestDeliveries(t *testing.T) {
	r := newRig(t, nil)
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	r.dels.list = []DeliveryView{{EventID: "evt_1", EndpointID: "crm", State: "failed", Attempts: 9, CreatedAt: at, UpdatedAt: at}}
	w := r.do("GET", "/v1/webhooks/deliveries?state=failed&event_id=evt_1", apiKey, nil)
	if w.Code != 200 || !strings.Contains(w.Body.String(), `"state":"failed"`) {
		t.Fatalf("list: %d %s", w.Code, w.Body)
	}
	if r.dels.filter != (DeliveryFilter{State: "failed", EventID: "evt_1"}) {
		t.Errorf("filter %+v", r.dels.filter)
	}
	for _, q := range []string{"state=lost", "event_id=a.b", "colour=red", "state=failed&state=pending"} {
		if w := r.do("GET", "/v1/webhooks/deliveries?"+q, apiKey, nil); w.Code != 400 || errCode(t, w) != CodeInvalidRequest {
			t.Errorf("?%s: %d", q, w.Code)
		}
	}
	r.dels.list = nil
	if w := r.do("GET", "/v1/webhooks/deliveries", apiKey, nil); w.Code != 200 || !strings.Contains(w.Body.String(), `"deliveries":[]`) {
		t.Errorf("empty list: %s", w.Body)
	}
	w = r.do("POST", "/v1/webhooks/deliveries/evt_1/crm/replay", apiKey, nil)
	if w.Code != 202 || len(r.dels.replayed) != 1 || r.dels.replayed[0] != "evt_1/crm" {
		t.Errorf("replay: %d %s %v", w.Code, w.Body, r.dels.replayed)
	}
}

func TestPanelServed(t *testing.T) {
	r := newRig(t, nil)
	w := r.do("GET", "/panel/", "", nil)
	if w.Code != 200 || !strings.Contains(w.Header().Get("Content-Security-Policy"), "default-src 'self'") {
		t.Errorf("panel: %d, CSP %q", w.Code, w.Header().Get("Content-Security-Policy"))
	}
}

func newReq(method, path, body string) *http.Request {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	return req
}

func serve(h http.Handler, req *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}
