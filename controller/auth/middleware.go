package auth

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
)

// errMissing: the request carries no Authorization header.
var errMissing = fmt.Errorf("%w: no bearer token", ErrUnauthorized)

// CodeUnauthorized is the error code of a refused request, matching the
// API's error codes.
const CodeUnauthorized = "unauthorized"

// Authenticator checks bearer tokens: API keys against Keys, agent tokens
// with Tokens. Either may be nil, and then that kind is refused.
type Authenticator struct {
	Keys   *Keys
	Tokens *Signer
	// Logger records refusals (never the token); discards if nil.
	Logger *slog.Logger
}

// Authenticate returns the principal of the request's bearer token, read
// from the Authorization header.
func (a *Authenticator) Authenticate(r *http.Request) (Principal, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return Principal{}, errMissing
	}
	scheme, tok, ok := strings.Cut(h, " ")
	tok = strings.TrimSpace(tok)
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return Principal{}, ErrMalformed
	}
	if IsAgentToken(tok) {
		if a.Tokens == nil {
			return Principal{}, ErrBadSignature
		}
		return a.Tokens.Verify(tok)
	}
	if a.Keys == nil {
		return Principal{}, ErrUnknownKey
	}
	return a.Keys.Verify(tok)
}

// Middleware refuses requests without a valid bearer token with 401 and
// `WWW-Authenticate: Bearer`, and passes the others on with their
// Principal in the context (see FromContext). Scope is the handler's to
// check.
func (a *Authenticator) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := a.Authenticate(r)
		if err != nil {
			if a.Logger != nil {
				a.Logger.InfoContext(r.Context(), "request refused: not authenticated",
					"method", r.Method, "path", r.URL.Path, "reason", reason(err))
			}
			Refuse(w, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(NewContext(r.Context(), p)))
	})
}

// Refuse writes a 401 response in the API's error format, with the
// WWW-Authenticate challenge of RFC 6750.
func Refuse(w http.ResponseWriter, err error) {
	challenge := `Bearer realm="tonewall"`
	msg := "a valid bearer token is required"
	if err != nil && !errors.Is(err, errMissing) {
		challenge += `, error="invalid_token"`
		msg = "the bearer token is not valid"
		if errors.Is(err, ErrExpired) {
			msg = "the bearer token has expired"
		}
	}
	w.Header().Set("WWW-Authenticate", challenge)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusUnauthorized)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": CodeUnauthorized, "message": msg}})
}

// reason names why a token was refused, for logs.
func reason(err error) string {
	switch {
	case errors.Is(err, ErrMalformed):
		return "malformed"
	case errors.Is(err, ErrBadSignature):
		return "bad-signature"
	case errors.Is(err, ErrExpired):
		return "expired"
	case errors.Is(err, ErrUnknownKey):
		return "unknown-key"
	case errors.Is(err, errMissing):
		return "missing"
	}
	return "error"
}
