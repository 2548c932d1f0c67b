package secrets_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/tonewall/tonewall/controller/secrets"
	"github.com/tonewall/tonewall/integration/vaulttest"
)

// The secrets every test loads: name, path under the mount, and the key
// holding the planted value.
var layout = []struct{ name, path, key string }{
	{"provider/stripe", "tonewall/providers/stripe", "api_key"},
	{"webhook/crm", "tonewall/webhooks/crm", "signing_secret"},
	{"api/keys", "tonewall/api-keys", "admin"},
}

const readPolicy = "tonewall-read"

// fixture is a dev server seeded with the layout, and a canary recorder
// that every value, token and credential is planted in.
type fixture struct {
	srv    *vaulttest.Server
	c      *canaries
	log    *slog.Logger
	dir    string
	values map[string]string // name → current planted value
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	srv := vaulttest.Start(t)
	c, log := newCanaries(t)
	c.watch(srv.RootToken)
	f := &fixture{srv: srv, c: c, log: log, dir: t.TempDir(), values: make(map[string]string)}
	for _, l := range layout {
		f.values[l.name] = c.plant(l.key + "_")
	}
	f.seed(t)
	return f
}

// seed writes the current values and the read policy; after a restart
// it brings the server back to what the test expects.
func (f *fixture) seed(t *testing.T) {
	t.Helper()
	var paths []string
	for _, l := range layout {
		f.srv.PutKV(t, l.path, map[string]any{l.key: f.values[l.name], "note": "not secret"})
		paths = append(paths, l.path)
	}
	f.srv.PutPolicy(t, readPolicy, vaulttest.ReadPolicy(paths...))
}

// appRole creates a role with the read policy and credentials planted
// as canaries; pass the same role again to recreate it after a restart.
func (f *fixture) appRole(t *testing.T, r vaulttest.AppRole) vaulttest.AppRole {
	t.Helper()
	if r.Name == "" {
		r.Name = "tonewall"
	}
	if r.Policies == nil {
		r.Policies = []string{readPolicy}
	}
	if r.RoleID == "" {
		r.RoleID = f.c.plant("role-")
	}
	if r.SecretID == "" {
		r.SecretID = f.c.plant("secret-")
	}
	return f.srv.CreateAppRole(t, r)
}

// file writes content to a new file and returns its path.
func (f *fixture) file(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(f.dir, name)
	writeFile(t, p, content+"\n")
	return p
}

func (f *fixture) config(auth secrets.VaultAuth) secrets.VaultConfig {
	cfg := secrets.VaultConfig{
		Address:        f.srv.Addr,
		Paths:          make(map[string]string),
		Auth:           auth,
		PollInterval:   200 * time.Millisecond,
		RequestTimeout: 2 * time.Second,
		BackoffMin:     100 * time.Millisecond,
		BackoffMax:     500 * time.Millisecond,
	}
	for _, l := range layout {
		cfg.Paths[l.name] = l.path
	}
	return cfg
}

func (f *fixture) rootAuth(t *testing.T) secrets.VaultAuth {
	return secrets.VaultAuth{TokenFile: f.file(t, "root-token", f.srv.RootToken)}
}

// open starts a source and closes it when the test ends.
func (f *fixture) open(t *testing.T, cfg secrets.VaultConfig) *secrets.Vault {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	src, err := secrets.NewVault(ctx, cfg, f.log)
	if err != nil {
		t.Fatalf("NewVault: %v", f.c.err(err))
	}
	t.Cleanup(func() {
		if err := src.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return src
}

// wantValue checks that src serves value under the layout key of name.
func (f *fixture) wantValue(t *testing.T, src secrets.Source, name, value string) secrets.Secret {
	t.Helper()
	sec, err := src.Get(t.Context(), name)
	if err != nil {
		t.Fatalf("Get(%s): %v", name, f.c.err(err))
	}
	key := ""
	for _, l := range layout {
		if l.name == name {
			key = l.key
		}
	}
	if got, _ := sec.Value(key); got != value {
		t.Fatalf("Get(%s) version %d: %s is not the value written", name, sec.Version, key)
	}
	if sec.Name != name {
		t.Fatalf("Get(%s) returned Name %q", name, sec.Name)
	}
	return sec
}

// health returns src's health, recording its reason for the canary scan.
func (f *fixture) health(src secrets.Source) secrets.Health {
	h := src.Health()
	f.c.text(h.Reason)
	return h
}

// recorder collects what a subscriber receives.
type recorder struct {
	mu  sync.Mutex
	got []secrets.Secret
	at  []time.Time
}

func (r *recorder) fn(s secrets.Secret) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, s)
	r.at = append(r.at, time.Now())
}

func (r *recorder) calls() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.got)
}

func (r *recorder) last() (secrets.Secret, time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.got[len(r.got)-1], r.at[len(r.at)-1]
}

func TestVaultAuthMethods(t *testing.T) {
	f := newFixture(t)
	role := f.appRole(t, vaulttest.AppRole{})
	childToken := f.srv.Token(t, time.Hour, readPolicy)
	f.c.watch(childToken)

	tests := []struct {
		name string
		auth func(t *testing.T) secrets.VaultAuth
		log  string // a line the login must produce
	}{
		{"root token from a file", func(t *testing.T) secrets.VaultAuth {
			return f.rootAuth(t)
		}, "vault token accepted"},
		{"renewable token from the environment", func(t *testing.T) secrets.VaultAuth {
			t.Setenv("TONEWALL_TEST_VAULT_TOKEN", childToken)
			return secrets.VaultAuth{TokenEnv: "TONEWALL_TEST_VAULT_TOKEN"}
		}, "vault token accepted"},
		{"approle with the secret id in a file", func(t *testing.T) secrets.VaultAuth {
			t.Setenv("TONEWALL_TEST_ROLE_ID", role.RoleID)
			return secrets.VaultAuth{RoleIDEnv: "TONEWALL_TEST_ROLE_ID", SecretIDFile: f.file(t, "secret-id", role.SecretID)}
		}, "logged in to vault with approle"},
		{"approle with both in files", func(t *testing.T) secrets.VaultAuth {
			return secrets.VaultAuth{
				Method:       secrets.AuthAppRole,
				RoleIDFile:   f.file(t, "role-id", role.RoleID),
				SecretIDFile: f.file(t, "secret-id-2", role.SecretID),
			}
		}, "logged in to vault with approle"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := f.c.count(tt.log)
			src := f.open(t, f.config(tt.auth(t)))
			for _, l := range layout {
				if sec := f.wantValue(t, src, l.name, f.values[l.name]); sec.Version != 1 {
					t.Errorf("%s: version %d, want 1", l.name, sec.Version)
				}
			}
			if h := f.health(src); h.Degraded || h.Held != len(layout) || len(h.Missing) != 0 || h.LastOK.IsZero() {
				t.Errorf("Health = %+v, want healthy with every secret held", h)
			}
			if f.c.count(tt.log) != before+1 {
				t.Errorf("want one %q log line for this source", tt.log)
			}
			_, err := src.Get(t.Context(), "provider/unknown")
			if !errors.Is(f.c.err(err), secrets.ErrNotFound) {
				t.Errorf("Get of an unconfigured name: err = %v, want ErrNotFound", err)
			}
		})
	}
}

func TestVaultRotation(t *testing.T) {
	f := newFixture(t)
	cfg := f.config(f.rootAuth(t))
	cfg.PollInterval = 500 * time.Millisecond
	src := f.open(t, cfg)

	// A subscriber that panics must not stop the others from hearing.
	src.Subscribe("provider/stripe", func(secrets.Secret) { panic("subscriber bug") })
	var rec, other recorder
	unsubscribe := src.Subscribe("provider/stripe", rec.fn)
	src.Subscribe("webhook/crm", other.fn)

	rotated := f.c.plant("api_key_")
	written := time.Now()
	if v := f.srv.PutKV(t, "tonewall/providers/stripe", map[string]any{"api_key": rotated}); v != 2 {
		t.Fatalf("wrote version %d, want 2", v)
	}
	waitFor(t, 5*time.Second, "the subscriber to hear of version 2", func() bool { return rec.calls() > 0 })
	sec, at := rec.last()
	if v, _ := sec.Value("api_key"); v != rotated || sec.Version != 2 {
		t.Fatalf("subscriber got version %d without the rotated value", sec.Version)
	}
	// One poll interval, plus room for a loaded machine.
	if d := at.Sub(written); d > cfg.PollInterval+750*time.Millisecond {
		t.Errorf("subscriber heard %v after the write; poll interval is %v", d, cfg.PollInterval)
	}
	if got := f.wantValue(t, src, "provider/stripe", rotated); got.Version != 2 {
		t.Errorf("Get returned version %d, want 2", got.Version)
	}
	f.wantValue(t, src, "webhook/crm", f.values["webhook/crm"])
	if f.c.count("secret rotated") != 1 || f.c.count("secret subscriber panicked") != 1 {
		t.Errorf("want one rotation and one subscriber panic logged")
	}

	// After unsubscribing, later versions are served but not delivered.
	unsubscribe()
	third := f.c.plant("api_key_")
	f.srv.PutKV(t, "tonewall/providers/stripe", map[string]any{"api_key": third})
	waitFor(t, 5*time.Second, "version 3", func() bool {
		s, err := src.Get(t.Context(), "provider/stripe")
		return f.c.err(err) == nil && s.Version == 3
	})
	if rec.calls() != 1 || other.calls() != 0 {
		t.Errorf("calls: unsubscribed %d (want 1), unchanged secret %d (want 0)", rec.calls(), other.calls())
	}
}

func TestVaultOutage(t *testing.T) {
	for _, method := range []secrets.AuthMethod{secrets.AuthToken, secrets.AuthAppRole} {
		t.Run(string(method), func(t *testing.T) {
			f := newFixture(t)
			auth := f.rootAuth(t)
			var role vaulttest.AppRole
			if method == secrets.AuthAppRole {
				role = f.appRole(t, vaulttest.AppRole{})
				auth = secrets.VaultAuth{RoleIDFile: f.file(t, "role-id", role.RoleID), SecretIDFile: f.file(t, "secret-id", role.SecretID)}
			}
			src := f.open(t, f.config(auth))
			var rec recorder
			src.Subscribe("provider/stripe", rec.fn)
			if h := f.health(src); h.Degraded {
				t.Fatalf("healthy at start expected: %+v", h)
			}

			f.srv.Stop(t)
			stopped := time.Now()
			waitFor(t, 5*time.Second, "degraded health", func() bool { return src.Health().Degraded })
			h := f.health(src)
			if !strings.Contains(h.Reason, "unavailable") || h.LastOK.IsZero() || h.LastOK.After(stopped) || h.Since.IsZero() || h.Held != len(layout) {
				t.Errorf("Health while down = %+v", h)
			}
			// Still serving through several failed retries.
			waitFor(t, 5*time.Second, "retries", func() bool { return f.c.count("vault still cannot be used") >= 3 })
			for _, l := range layout {
				f.wantValue(t, src, l.name, f.values[l.name])
			}
			if f.c.count("vault cannot be used; serving held secrets") != 1 {
				t.Errorf("want the outage logged once at warning level")
			}

			// The dev server comes back empty; seeding it again stands for
			// Vault returning, and a rotation that happened meanwhile.
			f.srv.Restart(t)
			f.seed(t)
			if method == secrets.AuthAppRole {
				f.appRole(t, role)
			}
			rotated := f.c.plant("api_key_")
			f.values["provider/stripe"] = rotated
			f.srv.PutKV(t, "tonewall/providers/stripe", map[string]any{"api_key": rotated})

			waitFor(t, 10*time.Second, "recovery", func() bool {
				s, err := src.Get(t.Context(), "provider/stripe")
				if src.Health().Degraded || f.c.err(err) != nil || s.Version != 2 || rec.calls() == 0 {
					return false
				}
				last, _ := rec.last()
				return last.Version == 2
			})
			h = f.health(src)
			if h.Reason != "" || !h.Since.IsZero() || !h.LastOK.After(stopped) {
				t.Errorf("Health after recovery = %+v", h)
			}
			for _, l := range layout {
				f.wantValue(t, src, l.name, f.values[l.name])
			}
			if sec, _ := rec.last(); string(sec.Data["api_key"]) != rotated {
				t.Error("the subscriber's last value is not the one rotated in during the outage")
			}
			if f.c.count("vault usable again") == 0 {
				t.Error("recovery not logged")
			}
			if method == secrets.AuthAppRole && f.c.count("logged in to vault with approle") < 2 {
				t.Error("want a fresh approle login after the server lost its tokens")
			}
		})
	}
}

func TestVaultDownAtStart(t *testing.T) {
	f := newFixture(t)
	f.srv.Stop(t)
	src := f.open(t, f.config(f.rootAuth(t)))
	var rec recorder
	src.Subscribe("webhook/crm", rec.fn)

	h := f.health(src)
	if !h.Degraded || !strings.Contains(h.Reason, "unavailable") || h.Held != 0 || len(h.Missing) != len(layout) || !h.LastOK.IsZero() {
		t.Errorf("Health with vault down at start = %+v", h)
	}
	for _, l := range layout {
		_, err := src.Get(t.Context(), l.name)
		if !errors.Is(f.c.err(err), secrets.ErrUnavailable) {
			t.Fatalf("Get(%s): err = %v, want ErrUnavailable", l.name, err)
		}
		if msg := err.Error(); !strings.Contains(msg, l.name) || !strings.Contains(msg, "secret/"+l.path) {
			t.Errorf("error %q does not name the secret and its path", msg)
		}
	}

	f.srv.Restart(t)
	f.seed(t)
	waitFor(t, 10*time.Second, "the first load", func() bool { return !src.Health().Degraded })
	for _, l := range layout {
		f.wantValue(t, src, l.name, f.values[l.name])
	}
	if rec.calls() != 1 {
		t.Errorf("subscriber called %d times for the first load, want 1", rec.calls())
	}
}

func TestVaultMissingAndDenied(t *testing.T) {
	f := newFixture(t)
	f.srv.DeleteKV(t, "tonewall/api-keys")
	partner := f.c.plant("partner_")
	f.srv.PutKV(t, "tonewall/webhooks/partner", map[string]any{"signing_secret": partner})
	f.srv.PutPolicy(t, "partial", vaulttest.ReadPolicy("tonewall/providers/stripe", "tonewall/api-keys")+
		`path "secret/data/tonewall/webhooks/partner" { capabilities = ["read"] }`)
	token := f.srv.Token(t, time.Hour, "partial")
	f.c.watch(token)

	cfg := f.config(secrets.VaultAuth{TokenFile: f.file(t, "token", token)})
	cfg.Paths["webhook/partner"] = "tonewall/webhooks/partner"
	src := f.open(t, cfg)

	tests := []struct {
		name, path string
		want       error
	}{
		{"provider/stripe", "secret/tonewall/providers/stripe", nil},
		{"api/keys", "secret/tonewall/api-keys", secrets.ErrNotFound},
		{"webhook/crm", "secret/tonewall/webhooks/crm", secrets.ErrPermissionDenied},
		{"webhook/partner", "secret/tonewall/webhooks/partner", nil}, // data only: polled without metadata
	}
	sentinels := []error{secrets.ErrNotFound, secrets.ErrPermissionDenied, secrets.ErrUnavailable, secrets.ErrAuthFailed}
	for _, tt := range tests {
		_, err := src.Get(t.Context(), tt.name)
		f.c.err(err)
		for _, s := range sentinels {
			if errors.Is(err, s) != (s == tt.want) {
				t.Errorf("Get(%s): err = %v; errors.Is(%v) = %v", tt.name, err, s, errors.Is(err, s))
			}
		}
		if err != nil && (!strings.Contains(err.Error(), tt.name) || !strings.Contains(err.Error(), tt.path)) {
			t.Errorf("Get(%s): error %q does not name the secret and its path", tt.name, err)
		}
	}
	h := f.health(src)
	if !h.Degraded || !slices.Equal(h.Missing, []string{"api/keys", "webhook/crm"}) || h.Held != 2 {
		t.Errorf("Health = %+v, want degraded with api/keys and webhook/crm missing", h)
	}
	if f.c.count("vault policy allows reading the secret but not its metadata; polling the data instead") != 1 {
		t.Error("the data-only fallback was not logged once")
	}

	// Both recover without a restart: the secret is written, the
	// partner secret rotates through data polling.
	keys := f.c.plant("admin_")
	f.values["api/keys"] = keys
	f.srv.PutKV(t, "tonewall/api-keys", map[string]any{"admin": keys})
	partner2 := f.c.plant("partner_")
	f.srv.PutKV(t, "tonewall/webhooks/partner", map[string]any{"signing_secret": partner2})
	waitFor(t, 5*time.Second, "api/keys and the partner rotation", func() bool {
		_, err := src.Get(t.Context(), "api/keys")
		p, perr := src.Get(t.Context(), "webhook/partner")
		return f.c.err(err) == nil && f.c.err(perr) == nil && p.Version == 2
	})
	f.wantValue(t, src, "api/keys", keys)
	if p, _ := src.Get(t.Context(), "webhook/partner"); string(p.Data["signing_secret"]) != partner2 {
		t.Error("partner secret not rotated")
	}
	if h := f.health(src); !h.Degraded || !slices.Equal(h.Missing, []string{"webhook/crm"}) {
		t.Errorf("Health = %+v, want only webhook/crm missing", h)
	}
}

func TestVaultRejectsBadCredentials(t *testing.T) {
	f := newFixture(t)
	role := f.appRole(t, vaulttest.AppRole{})
	badToken := f.c.plant("hvs.")
	badSecretID := f.c.plant("secret-")
	badRoleID := f.c.plant("role-")

	tests := []struct {
		name string
		cfg  func(t *testing.T) secrets.VaultConfig
		is   error  // nil: any error
		want string // a fragment of the message
	}{
		{"token vault does not know", func(t *testing.T) secrets.VaultConfig {
			return f.config(secrets.VaultAuth{TokenFile: f.file(t, "bad-token", badToken)})
		}, secrets.ErrAuthFailed, "token lookup"},
		{"token environment variable unset", func(t *testing.T) secrets.VaultConfig {
			t.Setenv("TONEWALL_TEST_UNSET_TOKEN", "")
			return f.config(secrets.VaultAuth{TokenEnv: "TONEWALL_TEST_UNSET_TOKEN"})
		}, nil, "TONEWALL_TEST_UNSET_TOKEN is not set"},
		{"token file missing", func(t *testing.T) secrets.VaultConfig {
			return f.config(secrets.VaultAuth{TokenFile: filepath.Join(f.dir, "absent")})
		}, nil, "absent"},
		{"approle wrong secret id", func(t *testing.T) secrets.VaultConfig {
			return f.config(secrets.VaultAuth{RoleIDFile: f.file(t, "role", role.RoleID), SecretIDFile: f.file(t, "bad-secret", badSecretID)})
		}, secrets.ErrAuthFailed, "approle login"},
		{"approle wrong role id", func(t *testing.T) secrets.VaultConfig {
			return f.config(secrets.VaultAuth{RoleIDFile: f.file(t, "bad-role", badRoleID), SecretIDFile: f.file(t, "secret", role.SecretID)})
		}, secrets.ErrAuthFailed, "approle login"},
		{"approle without a secret id", func(t *testing.T) secrets.VaultConfig {
			return f.config(secrets.VaultAuth{RoleIDFile: f.file(t, "role", role.RoleID)})
		}, nil, "needs a secret id"},
		{"no address", func(t *testing.T) secrets.VaultConfig {
			t.Setenv("VAULT_ADDR", "")
			cfg := f.config(f.rootAuth(t))
			cfg.Address = ""
			return cfg
		}, nil, "address is not set"},
		{"path escaping the mount", func(t *testing.T) secrets.VaultConfig {
			cfg := f.config(f.rootAuth(t))
			cfg.Paths["api/keys"] = "../sys/seal"
			return cfg
		}, nil, "invalid vault path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, err := secrets.NewVault(t.Context(), tt.cfg(t), f.log)
			f.c.err(err)
			if err == nil {
				src.Close()
				t.Fatal("NewVault succeeded")
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("err = %v, want it to match %v", err, tt.is)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestVaultAppRoleTokenRenewal(t *testing.T) {
	f := newFixture(t)
	role := f.appRole(t, vaulttest.AppRole{TokenTTL: 3 * time.Second, TokenMaxTTL: 6 * time.Second})
	cfg := f.config(secrets.VaultAuth{RoleIDFile: f.file(t, "role-id", role.RoleID), SecretIDFile: f.file(t, "secret-id", role.SecretID)})
	cfg.PollInterval = 300 * time.Millisecond
	start := time.Now()
	src := f.open(t, cfg)

	// Run well past the first token's maximum TTL, watching health.
	degraded := ""
	waitFor(t, 30*time.Second, "a fresh login after the first token's max TTL", func() bool {
		if h := f.health(src); h.Degraded && degraded == "" {
			degraded = h.Reason
		}
		return time.Since(start) > 9*time.Second && f.c.count("logged in to vault with approle") >= 2
	})
	if degraded != "" {
		t.Errorf("degraded during renewal: %s", degraded)
	}
	if f.c.count("vault token renewed") == 0 {
		t.Error("the token was never renewed")
	}

	// The current token still reads: a rotation is picked up.
	rotated := f.c.plant("api_key_")
	f.srv.PutKV(t, "tonewall/providers/stripe", map[string]any{"api_key": rotated})
	waitFor(t, 5*time.Second, "the rotation after re-login", func() bool {
		s, err := src.Get(t.Context(), "provider/stripe")
		return f.c.err(err) == nil && s.Version == 2
	})
	f.wantValue(t, src, "provider/stripe", rotated)
}

func TestVaultTokenFileReplaced(t *testing.T) {
	f := newFixture(t)
	short, err := f.srv.Client(t).Auth().Token().CreateWithContext(t.Context(), &api.TokenCreateRequest{
		Policies: []string{readPolicy}, TTL: "2s", ExplicitMaxTTL: "4s",
	})
	if err != nil {
		t.Fatal(err)
	}
	f.c.watch(short.Auth.ClientToken)
	tokenFile := f.file(t, "token", short.Auth.ClientToken)
	src := f.open(t, f.config(secrets.VaultAuth{TokenFile: tokenFile}))

	// Renewal ends at the max TTL, the token expires, and the source
	// degrades while still serving what it holds.
	waitFor(t, 15*time.Second, "degraded after the token expired", func() bool {
		return errors.Is(f.c.err(errorOf(src.Health())), secrets.ErrAuthFailed)
	})
	if f.c.count("vault token can no longer be renewed; replace it before it expires") != 1 {
		t.Error("the end of renewal was not logged once")
	}
	f.wantValue(t, src, "provider/stripe", f.values["provider/stripe"])

	// An operator writes a new token to the file; the source picks it up.
	writeFile(t, tokenFile, f.srv.RootToken)
	waitFor(t, 5*time.Second, "recovery with the new token", func() bool { return !src.Health().Degraded })
	rotated := f.c.plant("api_key_")
	f.srv.PutKV(t, "tonewall/providers/stripe", map[string]any{"api_key": rotated})
	waitFor(t, 5*time.Second, "the rotation", func() bool {
		s, err := src.Get(t.Context(), "provider/stripe")
		return f.c.err(err) == nil && s.Version == 2
	})
}

// errorOf returns an error carrying h's reason when h is degraded by a
// rejected login, so that tests can match it; nil otherwise.
func errorOf(h secrets.Health) error {
	if strings.Contains(h.Reason, secrets.ErrAuthFailed.Error()) {
		return fmt.Errorf("%s: %w", h.Reason, secrets.ErrAuthFailed)
	}
	return nil
}
