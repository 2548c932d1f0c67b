package integration_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/tonewall/tonewall/controller/auth"
	"github.com/tonewall/tonewall/controller/call"
	"github.com/tonewall/tonewall/controller/daemon"
	"github.com/tonewall/tonewall/controller/secrets"
	"github.com/tonewall/tonewall/integration/fssim"
	"github.com/tonewall/tonewall/integration/vaulttest"
	"github.com/tonewall/tonewall/plugins/stripe/stripepay/stripetest"
	"github.com/tonewall/tonewall/pluginsdk"
	"github.com/tonewall/tonewall/pluginsdk/conformance"
)

// keyRecorder stands in front of the fake Stripe API and records which API
// key each request carried, then passes it on with the key the fake knows.
type keyRecorder struct {
	mu   sync.Mutex
	keys []string
}

func (k *keyRecorder) last() string {
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.keys) == 0 {
		return ""
	}
	return k.keys[len(k.keys)-1]
}

func newKeyRecorder(t *testing.T, upstream string) (*keyRecorder, *httptest.Server) {
	u, err := url.Parse(upstream)
	if err != nil {
		t.Fatal(err)
	}
	k := &keyRecorder{}
	proxy := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k.mu.Lock()
		k.keys = append(k.keys, r.Header.Get("Authorization"))
		k.mu.Unlock()
		r.Header.Set("Authorization", "Bearer "+stripetest.APIKey)
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return k, srv
}

// TestProviderKeyRotationAndVaultOutage runs the daemon with the real
// Stripe plugin process and a real Vault dev server: a rotated key is used by
// the next payment without a restart; with Vault down, captures keep working
// on the key held and health says degraded; when Vault is back, health
// recovers by itself.
func TestProviderKeyRotationAndVaultOutage(t *testing.T) {
	v := vaulttest.Start(t)
	const path = "tonewall/providers/stripe"
	keyA, keyB := "sk_test_rotation_first_51Hx", "sk_test_rotation_second_77Qz"
	v.PutKV(t, path, map[string]any{"api_key": keyA})

	plugin, cleanup, err := conformance.Build("../plugins/stripe", "tonewall-stripe")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cleanup)
	sum, err := pluginsdk.FileSHA256(plugin)
	if err != nil {
		t.Fatal(err)
	}
	fake := stripetest.NewServer(t)
	rec, front := newKeyRecorder(t, fake.URL)

	t.Setenv("TONEWALL_TEST_VAULT_TOKEN", v.RootToken)
	ctx := context.Background()
	src, err := secrets.NewVault(ctx, secrets.VaultConfig{
		Address:      v.Addr,
		Paths:        map[string]string{"provider/stripe": path},
		Auth:         secrets.VaultAuth{Method: secrets.AuthToken, TokenEnv: "TONEWALL_TEST_VAULT_TOKEN"},
		PollInterval: 200 * time.Millisecond,
		BackoffMin:   100 * time.Millisecond,
		BackoffMax:   500 * time.Millisecond,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	const apiKey = "tw_test_rotation_api_key_0123456789abcdef"
	keys, err := auth.NewKeys(map[string][]byte{"crm": []byte(apiKey)})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(o *daemon.Options) {
		o.APIKeys = keys
		o.Sink = nil
		o.Secrets = src
		o.Plugins = []daemon.Plugin{{
			Name: "stripe", Path: plugin, SHA256: sum, Secret: "provider/stripe",
			Settings: map[string]string{"api_base": front.URL, "timeout": "2s"},
		}}
	})

	e.token = apiKey
	pay := func(ref string) call.CaptureView {
		t.Helper()
		c := e.dial(fssim.CallOptions{})
		cv := e.startCapture(c, map[string]any{"amount": 1250, "currency": "GBP", "reference": ref, "provider": "stripe"})
		keyCard(t, e, c, fssim.RFC2833, visaPAN, goodExp, visaCVV)
		cv = e.waitCapture(cv.ID, "payment outcome", func(v call.CaptureView) bool {
			return v.Outcome != "" && v.Outcome != "submitting"
		})
		if cv.Outcome != "approved" {
			t.Fatalf("%s: outcome %q (%s)", ref, cv.Outcome, cv.Reason)
		}
		hctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		_ = c.HangUp(hctx, fssim.LegA)
		return cv
	}

	pay("before-rotation")
	if got := rec.last(); got != "Bearer "+keyA {
		t.Fatalf("first payment used %q, want the first key", redact(got))
	}

	v.PutKV(t, path, map[string]any{"api_key": keyB})
	e.poll("rotated key delivered", func() bool {
		s, err := src.Get(ctx, "provider/stripe")
		return err == nil && s.Version == 2
	})
	time.Sleep(300 * time.Millisecond) // Configure runs right after the subscriber sees it
	pay("after-rotation")
	if got := rec.last(); got != "Bearer "+keyB {
		t.Fatalf("payment after rotation used %q, want the second key", redact(got))
	}

	v.Stop(t)
	e.poll("degraded health", func() bool {
		h := e.d.Health()
		return h.Status == "degraded" && h.Secrets != nil && h.Secrets.Degraded
	})
	pay("vault-down") // the held key still works
	if got := rec.last(); got != "Bearer "+keyB {
		t.Fatalf("payment with Vault down used %q", redact(got))
	}

	v.Restart(t)
	v.PutKV(t, path, map[string]any{"api_key": keyB}) // a dev server restarts empty
	e.poll("health recovered", func() bool {
		h := e.d.Health()
		return h.Secrets != nil && !h.Secrets.Degraded
	})
	for _, k := range []string{keyA, keyB, v.RootToken, apiKey} {
		scanSecret(t, e.out.String(), k)
	}
}

func redact(s string) string {
	if len(s) > 16 {
		return s[:16] + "…"
	}
	return s
}

func scanSecret(t *testing.T, out, secret string) {
	t.Helper()
	if i := indexOf(out, secret); i >= 0 {
		t.Errorf("a secret value appears in the output: %q", excerpt(out, i))
	}
}

func indexOf(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}
