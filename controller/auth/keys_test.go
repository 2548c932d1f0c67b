package auth

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"
	"testing"
)

const (
	crmToken  = "crm-0123456789abcdefghijklmnop"
	backToken = "back-office-ABCDEFGHIJKLMNOPQRSTU"
)

func TestKeysVerify(t *testing.T) {
	k, err := NewKeys(map[string][]byte{"crm": []byte(crmToken), "back": []byte(backToken + "\n")})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		token  string
		wantID string
	}{
		{crmToken, "crm"},
		{backToken, "back"}, // the newline Vault kept is ignored
		{crmToken[:len(crmToken)-1], ""},
		{crmToken + "x", ""},
		{strings.ToUpper(crmToken), ""},
		{"", ""},
	}
	for _, tt := range tests {
		p, err := k.Verify(tt.token)
		if tt.wantID == "" {
			if !errors.Is(err, ErrUnknownKey) || !errors.Is(err, ErrUnauthorized) {
				t.Errorf("Verify(%.6q…) = %+v, %v; want ErrUnknownKey", tt.token, p, err)
			}
			continue
		}
		if err != nil || p.Kind != KindAPIKey || p.KeyID != tt.wantID {
			t.Errorf("Verify(%.6q…) = %+v, %v; want key %s", tt.token, p, err, tt.wantID)
		}
	}
}

func TestKeysHeldAsHashes(t *testing.T) {
	k, err := NewKeys(map[string][]byte{"crm": []byte(crmToken)})
	if err != nil {
		t.Fatal(err)
	}
	want := sha256.Sum256([]byte(crmToken))
	if len(k.keys) != 1 || k.keys[0].sum != want {
		t.Fatalf("stored %+v, want the SHA-256 of the token", k.keys)
	}
	if s := fmt.Sprintf("%+v %#v", k.keys, k.keys); strings.Contains(s, crmToken) {
		t.Error("the token itself is kept")
	}
}

func TestKeysCompareInConstantTime(t *testing.T) {
	keys := map[string][]byte{}
	for i := range 5 {
		keys[fmt.Sprintf("k%d", i)] = []byte(fmt.Sprintf("token-%d-%s", i, strings.Repeat("z", MinAPIKeyLen)))
	}
	k, err := NewKeys(keys)
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	k.compare = func(a, b []byte) int {
		calls++
		if len(a) != sha256.Size || len(b) != sha256.Size {
			t.Errorf("compared %d with %d bytes: not hashes", len(a), len(b))
		}
		return subtle.ConstantTimeCompare(a, b)
	}
	for _, tok := range []string{string(keys["k0"]), string(keys["k4"]), "nope-" + strings.Repeat("z", 30)} {
		calls = 0
		_, _ = k.Verify(tok)
		if calls != len(keys) {
			t.Errorf("Verify compared %d of %d keys: it must compare all, in constant time, whatever matches", calls, len(keys))
		}
	}
}

func TestKeysReplace(t *testing.T) {
	k, err := NewKeys(map[string][]byte{"crm": []byte(crmToken)})
	if err != nil {
		t.Fatal(err)
	}
	rotated := "crm-rotated-ZYXWVUTSRQPONMLKJIH"
	if err := k.Replace(map[string][]byte{"crm": []byte(rotated), "back": []byte(backToken)}); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Verify(crmToken); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("old token after rotation: %v, want refused", err)
	}
	if p, err := k.Verify(rotated); err != nil || p.KeyID != "crm" {
		t.Errorf("new token: %+v %v", p, err)
	}
	if got := k.IDs(); strings.Join(got, ",") != "back,crm" || k.Len() != 2 {
		t.Errorf("IDs = %v", got)
	}
	bad := []map[string][]byte{
		{"crm": []byte("short")},
		{"": []byte(crmToken)},
		{"has space": []byte(crmToken)},
		{"crm": []byte("with inner space " + crmToken)},
		{"crm": []byte("v1." + crmToken)},
	}
	for _, m := range bad {
		if err := k.Replace(m); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("Replace(%v) = %v, want ErrInvalidKey", m, err)
		}
		for _, v := range m {
			if err != nil && len(v) > 0 && strings.Contains(err.Error(), string(bytes.TrimSpace(v))) {
				t.Errorf("error %q holds the token", err)
			}
		}
	}
	// A refused set leaves the current keys in force.
	if _, err := k.Verify(rotated); err != nil {
		t.Errorf("keys changed by a refused Replace: %v", err)
	}
	// Empty set: nothing is accepted.
	if err := k.Replace(nil); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Verify(rotated); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("after emptying: %v", err)
	}
}
