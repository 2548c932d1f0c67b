package auth

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestMiddleware(t *testing.T) {
	keys, err := NewKeys(map[string][]byte{"crm": []byte(crmToken)})
	if err != nil {
		t.Fatal(err)
	}
	signer, c := newTestSigner(t, keyA)
	good, _ := signer.Issue("call-X", time.Minute)
	old, _ := signer.Issue("call-X", time.Second)
	c.t = c.t.Add(30 * time.Second)
	other, _ := newTestSigner(t, keyB)
	foreign, _ := other.Issue("call-X", time.Minute)

	var logs bytes.Buffer
	a := &Authenticator{Keys: keys, Tokens: signer, Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	var got Principal
	h := a.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := FromContext(r.Context())
		if !ok {
			t.Error("no principal in the context")
		}
		got = p
		w.WriteHeader(http.StatusNoContent)
	}))

	tests := []struct {
		name      string
		header    string
		status    int
		invalid   bool // error="invalid_token" in the challenge
		principal Principal
	}{
		{"api key", "Bearer " + crmToken, 204, false, Principal{Kind: KindAPIKey, KeyID: "crm"}},
		{"scheme case", "bearer " + crmToken, 204, false, Principal{Kind: KindAPIKey, KeyID: "crm"}},
		{"agent token", "Bearer " + good.Token, 204, false, Principal{Kind: KindAgent, CallID: "call-X", TokenID: good.ID, Expires: good.ExpiresAt}},
		{"no header", "", 401, false, Principal{}},
		{"basic auth", "Basic Y3JtOnB3", 401, true, Principal{}},
		{"no token", "Bearer ", 401, true, Principal{}},
		{"wrong key", "Bearer crm-not-the-right-token-at-all", 401, true, Principal{}},
		{"expired agent token", "Bearer " + old.Token, 401, true, Principal{}},
		{"other controller's key", "Bearer " + foreign.Token, 401, true, Principal{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got = Principal{}
			logs.Reset()
			r := httptest.NewRequest("GET", "/v1/calls?x=1", nil)
			if tt.header != "" {
				r.Header.Set("Authorization", tt.header)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d", w.Code, tt.status)
			}
			if tt.status != 401 {
				if got != tt.principal {
					t.Errorf("principal %+v, want %+v", got, tt.principal)
				}
				return
			}
			ch := w.Header().Get("WWW-Authenticate")
			if !strings.HasPrefix(ch, "Bearer ") || strings.Contains(ch, "invalid_token") != tt.invalid {
				t.Errorf("WWW-Authenticate %q", ch)
			}
			var body struct {
				Error struct{ Code, Message string }
			}
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body.Error.Code != "unauthorized" {
				t.Errorf("body %s", w.Body)
			}
			if tok := strings.TrimPrefix(tt.header, "Bearer "); len(tok) > 8 && (strings.Contains(logs.String(), tok) || strings.Contains(w.Body.String(), tok)) {
				t.Error("the token was logged or echoed")
			}
			if !strings.Contains(logs.String(), "not authenticated") {
				t.Errorf("refusal not logged: %s", logs.String())
			}
		})
	}
}

func TestMiddlewareWithoutSigner(t *testing.T) {
	signer, _ := newTestSigner(t, keyA)
	tok, _ := signer.Issue("c", 0)
	a := &Authenticator{}
	h := a.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { t.Error("reached the handler") }))
	for _, hdr := range []string{"Bearer " + tok.Token, "Bearer " + crmToken} {
		r := httptest.NewRequest("GET", "/v1/calls", nil)
		r.Header.Set("Authorization", hdr)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != 401 {
			t.Errorf("status %d with nothing configured", w.Code)
		}
	}
}

func TestPrincipalLogValue(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	log.Info("x", "who", Principal{Kind: KindAgent, CallID: "c1", TokenID: "t1"}, "key", Principal{Kind: KindAPIKey, KeyID: "crm"})
	if s := buf.String(); !strings.Contains(s, "who.call=c1") || !strings.Contains(s, "key.key=crm") {
		t.Errorf("log %q", s)
	}
}
