package auth

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

var (
	keyA = bytes.Repeat([]byte("a"), MinSigningKeyLen)
	keyB = bytes.Repeat([]byte("b"), MinSigningKeyLen)
)

// clock is a settable clock for tests.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newTestSigner(t testing.TB, key []byte, prev ...[]byte) (*Signer, *clock) {
	t.Helper()
	s, err := NewSigner(key, prev...)
	if err != nil {
		t.Fatal(err)
	}
	c := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	s.Now = c.now
	return s, c
}

func TestIssueVerify(t *testing.T) {
	s, c := newTestSigner(t, keyA)
	tests := []struct {
		name    string
		ttl     time.Duration
		wantTTL time.Duration
		wantErr error
	}{
		{"default", 0, DefaultTTL, nil},
		{"short", 30 * time.Second, 30 * time.Second, nil},
		{"max", MaxTTL, MaxTTL, nil},
		{"too long", MaxTTL + time.Second, 0, ErrInvalidTTL},
		{"negative", -time.Minute, 0, ErrInvalidTTL},
		{"sub-second", time.Millisecond, 0, ErrInvalidTTL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			at, err := s.Issue("call-1", tt.ttl)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Issue err = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if want := c.t.Add(tt.wantTTL); !at.ExpiresAt.Equal(want) {
				t.Errorf("expires %v, want %v", at.ExpiresAt, want)
			}
			if parts := strings.Split(at.Token, "."); len(parts) != 3 || parts[0] != "v1" {
				t.Fatalf("token form %q", at.Token)
			}
			p, err := s.Verify(at.Token)
			if err != nil {
				t.Fatal(err)
			}
			if p.Kind != KindAgent || p.CallID != "call-1" || p.TokenID != at.ID || !p.Expires.Equal(at.ExpiresAt) {
				t.Errorf("principal %+v from %+v", p, at)
			}
			if strings.Contains(at.String(), at.Token) {
				t.Error("AgentToken.String shows the token")
			}
		})
	}
}

func TestTokenIDsAreUnique(t *testing.T) {
	s, _ := newTestSigner(t, keyA)
	seen := map[string]bool{}
	for range 100 {
		at, err := s.Issue("c", 0)
		if err != nil {
			t.Fatal(err)
		}
		if seen[at.ID] || seen[at.Token] {
			t.Fatal("token id repeated")
		}
		seen[at.ID], seen[at.Token] = true, true
	}
}

func TestExpiry(t *testing.T) {
	s, c := newTestSigner(t, keyA)
	at, err := s.Issue("call-1", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		after time.Duration
		want  error
	}{
		{0, nil},
		{59 * time.Second, nil},
		{time.Minute, ErrExpired},
		{time.Hour, ErrExpired},
	} {
		c2 := *c
		c2.t = c.t.Add(tt.after)
		s.Now = c2.now
		_, err := s.Verify(at.Token)
		if !errors.Is(err, tt.want) {
			t.Errorf("after %s: err %v, want %v", tt.after, err, tt.want)
		}
		if err != nil && !errors.Is(err, ErrUnauthorized) {
			t.Errorf("expiry error %v does not match ErrUnauthorized", err)
		}
	}
}

// forge signs an arbitrary payload with key, as an attacker who knew the
// key would.
func forge(key []byte, payload string) string {
	signed := tokenPrefix + b64.EncodeToString([]byte(payload))
	return signed + "." + b64.EncodeToString(mac(key, signed))
}

func TestTampering(t *testing.T) {
	s, c := newTestSigner(t, keyA)
	at, err := s.Issue("call-X", 0)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(at.Token, ".")
	payload, _ := b64.DecodeString(parts[1])
	otherCall := strings.Replace(string(payload), "call-X", "call-Y", 1)
	exp := c.t.Add(time.Hour).Unix()
	okJSON, _ := json.Marshal(claims{Call: "call-Y", Exp: exp, ID: "x"})
	flip := []byte(parts[2])
	// Another base64url letter at the same place: still decodes, wrong MAC.
	if flip[3] == 'A' {
		flip[3] = 'B'
	} else {
		flip[3] = 'A'
	}
	tests := []struct {
		name  string
		token string
		want  error
	}{
		{"payload swapped, old mac", "v1." + b64.EncodeToString([]byte(otherCall)) + "." + parts[2], ErrBadSignature},
		{"mac bit flipped", parts[0] + "." + parts[1] + "." + string(flip), ErrBadSignature},
		{"mac from another key", forge(keyB, string(okJSON)), ErrBadSignature},
		{"mac truncated", parts[0] + "." + parts[1] + "." + parts[2][:20], ErrMalformed},
		{"no mac", parts[0] + "." + parts[1], ErrMalformed},
		{"extra part", at.Token + ".x", ErrMalformed},
		{"wrong version", "v2." + parts[1] + "." + parts[2], ErrMalformed},
		{"empty", "", ErrMalformed},
		{"garbage", "v1.!!!.###", ErrMalformed},
		{"too long", "v1." + strings.Repeat("A", maxTokenLen) + "." + parts[2], ErrMalformed},
		{"signed but no call", forge(keyA, `{"call":"","exp":`+itoa(exp)+`,"jti":"x"}`), ErrMalformed},
		{"signed but unknown field", forge(keyA, `{"call":"c","exp":`+itoa(exp)+`,"jti":"x","admin":true}`), ErrMalformed},
		{"signed but not JSON", forge(keyA, `call=c`), ErrMalformed},
		{"signed but expired", forge(keyA, `{"call":"c","exp":`+itoa(c.t.Unix())+`,"jti":"x"}`), ErrExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := s.Verify(tt.token)
			if !errors.Is(err, tt.want) || !errors.Is(err, ErrUnauthorized) {
				t.Fatalf("Verify = %+v, %v; want %v (and ErrUnauthorized)", p, err, tt.want)
			}
			if tt.token != "" && strings.Contains(err.Error(), tt.token) {
				t.Error("error text holds the token")
			}
		})
	}
	// Control: a correctly forged token with the right key is accepted,
	// so the cases above fail for the reason they name.
	if p, err := s.Verify(forge(keyA, string(okJSON))); err != nil || p.CallID != "call-Y" {
		t.Fatalf("control token refused: %v", err)
	}
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

func TestSignerRotation(t *testing.T) {
	s, _ := newTestSigner(t, keyA)
	old, err := s.Issue("c", 0)
	if err != nil {
		t.Fatal(err)
	}
	// Rotate to B, still accepting A.
	if err := s.Replace(keyB, keyA); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Verify(old.Token); err != nil {
		t.Errorf("token of the previous key refused during rotation: %v", err)
	}
	fresh, err := s.Issue("c", 0)
	if err != nil {
		t.Fatal(err)
	}
	onlyB, _ := newTestSigner(t, keyB)
	if _, err := onlyB.Verify(fresh.Token); err != nil {
		t.Errorf("new token not signed with the new key: %v", err)
	}
	// Drop A.
	if err := s.Replace(keyB); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Verify(old.Token); !errors.Is(err, ErrBadSignature) {
		t.Errorf("token of a retired key: %v, want ErrBadSignature", err)
	}
	// Another controller with the same key accepts the token.
	peer, _ := newTestSigner(t, keyB)
	if p, err := peer.Verify(fresh.Token); err != nil || p.CallID != "c" {
		t.Errorf("peer controller refused the token: %v", err)
	}
}

func TestSignerKeyLength(t *testing.T) {
	if _, err := NewSigner([]byte("short")); !errors.Is(err, ErrInvalidKey) {
		t.Errorf("short key: %v", err)
	}
	if _, err := NewSigner(keyA, []byte("short")); !errors.Is(err, ErrInvalidKey) {
		t.Errorf("short previous key: %v", err)
	}
	s, _ := newTestSigner(t, keyA)
	if err := s.Replace(nil); !errors.Is(err, ErrInvalidKey) {
		t.Errorf("Replace(nil): %v", err)
	}
	if at, err := s.Issue("c", 0); err != nil {
		t.Fatal(err)
	} else if _, err := s.Verify(at.Token); err != nil {
		t.Errorf("a refused Replace changed the key: %v", err)
	}
	k, err := GenerateKey()
	if err != nil || len(k) < MinSigningKeyLen || bytes.Equal(k, make([]byte, len(k))) {
		t.Errorf("GenerateKey = %d bytes, %v", len(k), err)
	}
}

func TestScope(t *testing.T) {
	agent := Principal{Kind: KindAgent, CallID: "X"}
	key := Principal{Kind: KindAPIKey, KeyID: "crm"}
	tests := []struct {
		p    Principal
		call string
		want bool
	}{
		{agent, "X", true},
		{agent, "Y", false},
		{agent, "", false},
		{key, "X", true},
		{key, "Y", true},
		{Principal{}, "X", false},
		{Principal{Kind: KindAgent}, "", false},
	}
	for _, tt := range tests {
		if got := tt.p.MayAccessCall(tt.call); got != tt.want {
			t.Errorf("%+v.MayAccessCall(%q) = %v, want %v", tt.p, tt.call, got, tt.want)
		}
	}
	if agent.IsAPIKey() || !key.IsAPIKey() {
		t.Error("IsAPIKey wrong")
	}
}
