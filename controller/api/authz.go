package api

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tonewall/tonewall/controller/auth"
	"github.com/tonewall/tonewall/controller/call"
)

// Scope checks, all in this file. Auth (the middleware) has established
// who the caller is; here each handler asks whether that caller reaches
// what it is about to touch, before touching it. With no Auth configured
// the API is open and every check passes.

// principal returns the caller. ok is false when the API is open.
func (s *Server) principal(r *http.Request) (p auth.Principal, ok bool, err error) {
	if s.Auth == nil {
		return auth.Principal{}, false, nil
	}
	p, ok = auth.FromContext(r.Context())
	if !ok {
		return auth.Principal{}, false, auth.ErrUnauthorized
	}
	return p, true, nil
}

// requireKey admits API keys only: agent tokens cannot list calls, mint
// tokens or see webhook deliveries.
func (s *Server) requireKey(r *http.Request) error {
	p, ok, err := s.principal(r)
	if err != nil || !ok {
		return err
	}
	if !p.IsAPIKey() {
		return fmt.Errorf("%w: this endpoint needs an API key", auth.ErrForbidden)
	}
	return nil
}

// allowCall admits API keys and the agent tokens of that call.
func (s *Server) allowCall(r *http.Request, callID string) error {
	p, ok, err := s.principal(r)
	if err != nil || !ok {
		return err
	}
	if !p.MayAccessCall(callID) {
		return fmt.Errorf("%w: the token is for another call", auth.ErrForbidden)
	}
	return nil
}

// capture looks up the capture named in the path and checks the caller
// reaches its call.
func (s *Server) capture(r *http.Request) (call.CaptureView, error) {
	v, err := s.Captures.Capture(r.PathValue("id"))
	if err != nil {
		return call.CaptureView{}, err
	}
	if err := s.allowCall(r, v.CallID); err != nil {
		return call.CaptureView{}, err
	}
	return v, nil
}

// AgentTokenRequest is the optional body of POST /v1/calls/{call_id}/agent-tokens.
type AgentTokenRequest struct {
	// TTLSeconds is the token's lifetime: 900 if zero, at most 3600.
	TTLSeconds int `json:"ttl_seconds,omitempty"`
}

// AgentTokenResponse is a freshly minted agent token.
type AgentTokenResponse struct {
	Token     string    `json:"token"`
	TokenID   string    `json:"token_id"`
	CallID    string    `json:"call_id"`
	ExpiresAt time.Time `json:"expires_at"`
	// PanelURL opens the agent panel on the call; the token travels in
	// the fragment, which browsers never send to a server.
	PanelURL string `json:"panel_url"`
}

func (s *Server) issueAgentToken(w http.ResponseWriter, r *http.Request) {
	if err := s.requireKey(r); err != nil {
		s.fail(w, r, err)
		return
	}
	if s.Tokens == nil {
		s.fail(w, r, fmt.Errorf("%w: agent tokens need a signing key", errNotConfigured))
		return
	}
	callID := r.PathValue("call_id")
	var req AgentTokenRequest
	if err := decodeBody(r, &req, true); err != nil {
		s.fail(w, r, err)
		return
	}
	if req.TTLSeconds < 0 || req.TTLSeconds > int(auth.MaxTTL/time.Second) {
		s.fail(w, r, auth.ErrInvalidTTL)
		return
	}
	if _, err := s.Captures.Call(callID); err != nil {
		s.fail(w, r, err)
		return
	}
	at, err := s.Tokens.Issue(callID, time.Duration(req.TTLSeconds)*time.Second)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p, _, _ := s.principal(r)
	s.logger().InfoContext(r.Context(), "agent token issued", "call", callID, "token_id", at.ID, "expires", at.ExpiresAt, "by", p)
	writeJSON(w, http.StatusCreated, AgentTokenResponse{
		Token:     at.Token,
		TokenID:   at.ID,
		CallID:    callID,
		ExpiresAt: at.ExpiresAt,
		PanelURL:  s.panelURL(r, callID, at.Token),
	})
}

// panelURL is the link that opens the panel on a call with a token.
func (s *Server) panelURL(r *http.Request, callID, token string) string {
	base := strings.TrimRight(s.PublicURL, "/")
	if base == "" {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		base = scheme + "://" + r.Host
	}
	return base + "/panel/?call=" + url.QueryEscape(callID) + "#token=" + url.QueryEscape(token)
}
