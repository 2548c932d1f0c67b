package webhook

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// Secrets supplies the signing secrets of an endpoint ("whsec_" and base64).
// It returns one secret, or two while a rotation overlaps (the new one
// first); every request is then signed with each. Implementations are
// called on every attempt and should cache.
type Secrets interface {
	SigningSecrets(ctx context.Context, name string) ([]string, error)
}

// StaticSecrets is a fixed Secrets, by secret name: for development and tests.
type StaticSecrets map[string][]string

// SigningSecrets returns the secrets stored under name.
func (s StaticSecrets) SigningSecrets(_ context.Context, name string) ([]string, error) {
	v, ok := s[name]
	if !ok || len(v) == 0 {
		return nil, fmt.Errorf("webhook: no signing secret named %q", name)
	}
	return append([]string(nil), v...), nil
}

// errNoSecret is returned when a Secrets implementation returns none.
var errNoSecret = errors.New("webhook: no signing secret")

// sign returns the webhook-signature header value for one attempt: one
// "v1,<base64>" entry per secret, separated by spaces. Errors never include
// the secrets.
func sign(secrets []string, id string, ts time.Time, body []byte) (string, error) {
	if len(secrets) == 0 {
		return "", errNoSecret
	}
	sigs := make([]string, 0, len(secrets))
	for i, s := range secrets {
		if !strings.HasPrefix(s, "whsec_") {
			return "", fmt.Errorf("webhook: signing secret %d is not a whsec_ secret", i+1)
		}
		wh, err := standardwebhooks.NewWebhook(s)
		if err != nil {
			return "", fmt.Errorf("webhook: signing secret %d does not decode", i+1)
		}
		sig, err := wh.Sign(id, ts, body)
		if err != nil {
			return "", fmt.Errorf("webhook: sign: %w", err)
		}
		sigs = append(sigs, sig)
	}
	return strings.Join(sigs, " "), nil
}
