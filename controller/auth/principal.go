// Package auth authenticates callers of the controller's HTTP API.
//
// Two kinds of bearer token are accepted. API keys, for CRMs and back
// offices, reach every call; they come from the secret store as a map of
// key id to token and are held only as SHA-256 hashes. Agent tokens are
// short-lived, HMAC-signed tokens minted for one call: an agent's panel
// holds one and reaches that call and its captures only.
//
// Middleware puts the caller's Principal in the request context; the API
// checks scope against it. Tokens never appear in logs or errors.
package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Errors of authentication and authorisation. Every token problem matches
// ErrUnauthorized; a valid token used beyond its scope is ErrForbidden.
var (
	ErrUnauthorized = errors.New("auth: missing or invalid bearer token")
	ErrForbidden    = errors.New("auth: token not valid for this resource")

	// ErrMalformed, ErrBadSignature, ErrExpired and ErrUnknownKey say why
	// a token was refused; each matches ErrUnauthorized.
	ErrMalformed    = fmt.Errorf("%w: malformed token", ErrUnauthorized)
	ErrBadSignature = fmt.Errorf("%w: bad signature", ErrUnauthorized)
	ErrExpired      = fmt.Errorf("%w: token expired", ErrUnauthorized)
	ErrUnknownKey   = fmt.Errorf("%w: unknown API key", ErrUnauthorized)

	// ErrInvalidTTL is returned by Signer.Issue for a lifetime beyond MaxTTL.
	ErrInvalidTTL = errors.New("auth: token lifetime out of range")
	// ErrInvalidKey is returned for signing keys and API keys that are
	// too short or badly named.
	ErrInvalidKey = errors.New("auth: invalid key")
)

// Kind is the kind of caller.
type Kind string

// The kinds of caller.
const (
	KindAPIKey Kind = "api_key"
	KindAgent  Kind = "agent"
)

// String returns the kind's name.
func (k Kind) String() string { return string(k) }

// Principal is an authenticated caller.
type Principal struct {
	Kind Kind
	// KeyID names the API key (KindAPIKey).
	KeyID string
	// CallID is the one call an agent token reaches (KindAgent).
	CallID string
	// TokenID is the agent token's random id, for audit (KindAgent).
	TokenID string
	// Expires is when the agent token stops working (KindAgent).
	Expires time.Time
}

// IsAPIKey reports whether p authenticated with an API key.
func (p Principal) IsAPIKey() bool { return p.Kind == KindAPIKey }

// MayAccessCall reports whether p may read and act on the call: API keys
// reach every call, agent tokens only their own.
func (p Principal) MayAccessCall(callID string) bool {
	switch p.Kind {
	case KindAPIKey:
		return true
	case KindAgent:
		return callID != "" && p.CallID == callID
	}
	return false
}

// LogValue logs who the caller is, never a token.
func (p Principal) LogValue() slog.Value {
	switch p.Kind {
	case KindAPIKey:
		return slog.GroupValue(slog.String("kind", string(p.Kind)), slog.String("key", p.KeyID))
	case KindAgent:
		return slog.GroupValue(slog.String("kind", string(p.Kind)), slog.String("call", p.CallID), slog.String("token_id", p.TokenID))
	}
	return slog.StringValue("none")
}

type principalKey struct{}

// NewContext returns ctx carrying p.
func NewContext(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the principal Middleware put in ctx.
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}
