package vaulttest_test

import (
	"errors"
	"net/http"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/tonewall/tonewall/integration/vaulttest"
)

func TestCachedBinaryPath(t *testing.T) {
	p, err := vaulttest.CachedBinary()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Base(filepath.Dir(p))
	if filepath.Base(p) != "vault" || !regexp.MustCompile(`^vault-[0-9a-f]{16}$`).MatchString(dir) ||
		filepath.Base(filepath.Dir(filepath.Dir(p))) != "tonewall" {
		t.Errorf("CachedBinary() = %s, want .../tonewall/vault-<16 hex digits>/vault", p)
	}
}

func TestServerLifecycle(t *testing.T) {
	srv := vaulttest.Start(t)
	if v := srv.PutKV(t, "a/b", map[string]any{"k": "one"}); v != 1 {
		t.Fatalf("first write is version %d", v)
	}
	if v := srv.PutKV(t, "a/b", map[string]any{"k": "two"}); v != 2 {
		t.Fatalf("second write is version %d", v)
	}
	role := srv.CreateAppRole(t, vaulttest.AppRole{
		Name: "r", Policies: []string{"p"}, RoleID: "role-fixed", SecretID: "secret-fixed",
		TokenTTL: time.Minute, TokenMaxTTL: 2 * time.Minute,
	})
	srv.PutPolicy(t, "p", vaulttest.ReadPolicy("a/b"))
	login := func() *api.Secret {
		t.Helper()
		c := srv.ClientWithToken(t, "")
		s, err := c.Logical().WriteWithContext(t.Context(), "auth/approle/login",
			map[string]any{"role_id": role.RoleID, "secret_id": role.SecretID})
		if err != nil {
			t.Fatalf("approle login: %v", err)
		}
		return s
	}
	s := login()
	if s.Auth.LeaseDuration != 60 {
		t.Errorf("token TTL %ds, want 60", s.Auth.LeaseDuration)
	}
	kv, err := srv.ClientWithToken(t, s.Auth.ClientToken).KVv2(vaulttest.KVMount).Get(t.Context(), "a/b")
	if err != nil || kv.Data["k"] != "two" {
		t.Fatalf("reading with the role's token: %v, %v", kv, err)
	}

	srv.Stop(t)
	if resp, err := http.Get(srv.Addr + "/v1/sys/health"); err == nil {
		resp.Body.Close()
		t.Fatal("server still answers after Stop")
	}

	addr := srv.Addr
	srv.Restart(t)
	if srv.Addr != addr {
		t.Fatalf("restarted on %s, was %s", srv.Addr, addr)
	}
	_, err = srv.Client(t).KVv2(vaulttest.KVMount).Get(t.Context(), "a/b")
	if !errors.Is(err, api.ErrSecretNotFound) {
		t.Fatalf("after restart, err = %v, want the data gone", err)
	}
	// Seeding the same credentials again lets a client log in with them.
	srv.CreateAppRole(t, role)
	srv.EnableAppRole(t) // harmless when enabled
	login()
}
