package auth

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// Agent token lifetimes.
const (
	DefaultTTL = 15 * time.Minute
	MaxTTL     = time.Hour
)

// MinSigningKeyLen is the shortest signing key accepted, in bytes.
const MinSigningKeyLen = 32

// maxTokenLen bounds what Verify will look at.
const maxTokenLen = 2048

// tokenPrefix starts every agent token: "v1.<payload>.<mac>".
const tokenPrefix = "v1."

var b64 = base64.RawURLEncoding.Strict()

// claims is an agent token's payload.
type claims struct {
	Call string `json:"call"`
	Exp  int64  `json:"exp"`
	ID   string `json:"jti"`
}

// AgentToken is a freshly issued agent token.
type AgentToken struct {
	// Token is the bearer token. It is a credential: never log it.
	Token string
	// ID is the token's random id, safe to log.
	ID        string
	CallID    string
	ExpiresAt time.Time
}

// String hides the token.
func (t AgentToken) String() string {
	return "agent token " + t.ID + " for call " + t.CallID
}

// Signer issues and verifies agent tokens: "v1." + base64url(payload) + "."
// + base64url(HMAC-SHA256(key, "v1." + base64url(payload))). The payload
// holds the call id, the expiry and a random id. Controllers that share
// the signing key accept each other's tokens.
type Signer struct {
	// Now is the clock; time.Now if nil.
	Now func() time.Time
	// Rand is the source of token ids; crypto/rand if nil.
	Rand io.Reader

	mu   sync.RWMutex
	keys [][]byte // keys[0] signs; all verify
}

// GenerateKey returns a random signing key, for a controller that runs
// alone in development: its tokens die with the process.
func GenerateKey() ([]byte, error) {
	k := make([]byte, MinSigningKeyLen)
	if _, err := rand.Read(k); err != nil {
		return nil, fmt.Errorf("auth: generate signing key: %w", err)
	}
	return k, nil
}

// NewSigner returns a Signer that signs with key and also accepts tokens
// signed with any of the previous keys (during a rotation).
func NewSigner(key []byte, previous ...[]byte) (*Signer, error) {
	s := &Signer{}
	if err := s.Replace(key, previous...); err != nil {
		return nil, err
	}
	return s, nil
}

// Replace rotates the signing key: new tokens are signed with key, and
// tokens signed with key or any of previous are accepted.
func (s *Signer) Replace(key []byte, previous ...[]byte) error {
	all := append([][]byte{key}, previous...)
	keys := make([][]byte, 0, len(all))
	for i, k := range all {
		if len(k) < MinSigningKeyLen {
			return fmt.Errorf("%w: signing key %d is shorter than %d bytes", ErrInvalidKey, i, MinSigningKeyLen)
		}
		keys = append(keys, bytes.Clone(k))
	}
	s.mu.Lock()
	s.keys = keys
	s.mu.Unlock()
	return nil
}

func (s *Signer) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Issue mints a token for one call, valid for ttl (DefaultTTL if zero, at
// most MaxTTL). Expiry has a resolution of one second.
func (s *Signer) Issue(callID string, ttl time.Duration) (AgentToken, error) {
	if callID == "" {
		return AgentToken{}, fmt.Errorf("%w: no call id", ErrMalformed)
	}
	if ttl == 0 {
		ttl = DefaultTTL
	}
	if ttl < time.Second || ttl > MaxTTL {
		return AgentToken{}, fmt.Errorf("%w: %s is not between 1s and %s", ErrInvalidTTL, ttl, MaxTTL)
	}
	var id [16]byte
	r := s.Rand
	if r == nil {
		r = rand.Reader
	}
	if _, err := io.ReadFull(r, id[:]); err != nil {
		return AgentToken{}, fmt.Errorf("auth: token id: %w", err)
	}
	exp := time.Unix(s.now().Add(ttl).Unix(), 0).UTC()
	c := claims{Call: callID, Exp: exp.Unix(), ID: b64.EncodeToString(id[:])}
	payload, err := json.Marshal(c)
	if err != nil {
		return AgentToken{}, fmt.Errorf("auth: encode token: %w", err)
	}
	s.mu.RLock()
	key := s.keys[0]
	s.mu.RUnlock()
	signed := tokenPrefix + b64.EncodeToString(payload)
	tok := signed + "." + b64.EncodeToString(mac(key, signed))
	return AgentToken{Token: tok, ID: c.ID, CallID: callID, ExpiresAt: exp}, nil
}

// Verify checks an agent token's signature and expiry and returns its
// principal. Errors match ErrUnauthorized and never hold the token.
func (s *Signer) Verify(token string) (Principal, error) {
	if len(token) > maxTokenLen || !strings.HasPrefix(token, tokenPrefix) {
		return Principal{}, ErrMalformed
	}
	dot := strings.LastIndexByte(token, '.')
	if dot <= len(tokenPrefix) {
		return Principal{}, ErrMalformed
	}
	signed, sig := token[:dot], token[dot+1:]
	payloadB64 := signed[len(tokenPrefix):]
	if strings.IndexByte(payloadB64, '.') >= 0 {
		return Principal{}, ErrMalformed
	}
	got, err := b64.DecodeString(sig)
	if err != nil || len(got) != sha256.Size {
		return Principal{}, ErrMalformed
	}
	s.mu.RLock()
	keys := s.keys
	s.mu.RUnlock()
	ok := false
	for _, k := range keys {
		if hmac.Equal(got, mac(k, signed)) {
			ok = true
		}
	}
	if !ok {
		return Principal{}, ErrBadSignature
	}
	payload, err := b64.DecodeString(payloadB64)
	if err != nil {
		return Principal{}, ErrMalformed
	}
	var c claims
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil || c.Call == "" || c.ID == "" || c.Exp == 0 {
		return Principal{}, ErrMalformed
	}
	exp := time.Unix(c.Exp, 0).UTC()
	if !s.now().Before(exp) {
		return Principal{}, ErrExpired
	}
	return Principal{Kind: KindAgent, CallID: c.Call, TokenID: c.ID, Expires: exp}, nil
}

func mac(key []byte, signed string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(signed))
	return h.Sum(nil)
}

// IsAgentToken reports whether a bearer token has the agent token's form
// (it says nothing of its validity).
func IsAgentToken(token string) bool { return strings.HasPrefix(token, tokenPrefix) }
