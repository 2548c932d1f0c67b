package auth

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"sync"
)

// MinAPIKeyLen is the shortest API key token accepted, in bytes.
const MinAPIKeyLen = 24

var keyIDRE = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

type hashedKey struct {
	id  string
	sum [sha256.Size]byte
}

// Keys holds the API keys, as SHA-256 hashes of their tokens: the tokens
// themselves are not kept. It is safe for concurrent use, and Replace swaps
// the whole set at once when the keys are rotated.
type Keys struct {
	mu   sync.RWMutex
	keys []hashedKey

	// compare is subtle.ConstantTimeCompare; a test counts its calls.
	compare func(a, b []byte) int
}

// NewKeys returns the set of API keys given as key id → token. A
// secrets.Secret's Data can be passed as it is.
func NewKeys(keys map[string][]byte) (*Keys, error) {
	k := &Keys{compare: subtle.ConstantTimeCompare}
	if err := k.Replace(keys); err != nil {
		return nil, err
	}
	return k, nil
}

// Replace swaps in a new set of API keys. An invalid set is refused as a
// whole and the current keys stay in force. Leading and trailing white
// space around a token is ignored; a token must be at least MinAPIKeyLen
// bytes with no white space inside and must not look like an agent token.
func (k *Keys) Replace(keys map[string][]byte) error {
	next := make([]hashedKey, 0, len(keys))
	for _, id := range slices.Sorted(maps.Keys(keys)) {
		tok := bytes.TrimSpace(keys[id])
		switch {
		case !keyIDRE.MatchString(id):
			return fmt.Errorf("%w: API key id %q must be 1-64 letters, digits, '.', '_' or '-'", ErrInvalidKey, id)
		case len(tok) < MinAPIKeyLen:
			return fmt.Errorf("%w: API key %q is shorter than %d bytes", ErrInvalidKey, id, MinAPIKeyLen)
		case bytes.ContainsAny(tok, " \t\r\n"):
			return fmt.Errorf("%w: API key %q contains white space", ErrInvalidKey, id)
		case bytes.HasPrefix(tok, []byte(tokenPrefix)):
			return fmt.Errorf("%w: API key %q starts like an agent token", ErrInvalidKey, id)
		}
		next = append(next, hashedKey{id: id, sum: sha256.Sum256(tok)})
	}
	k.mu.Lock()
	k.keys = next
	k.mu.Unlock()
	return nil
}

// Len is the number of keys held.
func (k *Keys) Len() int {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return len(k.keys)
}

// IDs lists the key ids held, sorted.
func (k *Keys) IDs() []string {
	k.mu.RLock()
	defer k.mu.RUnlock()
	out := make([]string, len(k.keys))
	for i, h := range k.keys {
		out[i] = h.id
	}
	return out
}

// Verify returns the principal of an API key token. The token's hash is
// compared with every key's hash in constant time; the comparison does not
// stop at a match.
func (k *Keys) Verify(token string) (Principal, error) {
	sum := sha256.Sum256([]byte(strings.TrimSpace(token)))
	compare := k.compare
	if compare == nil {
		compare = subtle.ConstantTimeCompare
	}
	k.mu.RLock()
	defer k.mu.RUnlock()
	found := -1
	for i := range k.keys {
		if compare(sum[:], k.keys[i].sum[:]) == 1 {
			found = i
		}
	}
	if found < 0 {
		return Principal{}, ErrUnknownKey
	}
	return Principal{Kind: KindAPIKey, KeyID: k.keys[found].id}, nil
}
