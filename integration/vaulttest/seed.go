package vaulttest

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
)

// KVMount is where the dev server mounts its KV version 2 engine.
const KVMount = "secret"

// PutKV writes data as a new version of the KV version 2 secret at path
// (under KVMount) and returns the version written.
func (s *Server) PutKV(t testing.TB, path string, data map[string]any) int {
	t.Helper()
	sec, err := s.Client(t).KVv2(KVMount).Put(t.Context(), path, data)
	if err != nil {
		t.Fatalf("vaulttest: writing %s/%s: %v", KVMount, path, err)
	}
	return sec.VersionMetadata.Version
}

// DeleteKV removes the KV version 2 secret at path with all its versions.
func (s *Server) DeleteKV(t testing.TB, path string) {
	t.Helper()
	if err := s.Client(t).KVv2(KVMount).DeleteMetadata(t.Context(), path); err != nil {
		t.Fatalf("vaulttest: deleting %s/%s: %v", KVMount, path, err)
	}
}

// PutPolicy creates or replaces the ACL policy name with the HCL rules.
func (s *Server) PutPolicy(t testing.TB, name, rules string) {
	t.Helper()
	if err := s.Client(t).Sys().PutPolicyWithContext(t.Context(), name, rules); err != nil {
		t.Fatalf("vaulttest: policy %s: %v", name, err)
	}
}

// ReadPolicy returns HCL that allows reading the KV version 2 secrets at
// paths (data and metadata).
func ReadPolicy(paths ...string) string {
	var b strings.Builder
	for _, p := range paths {
		b.WriteString(`path "` + KVMount + `/data/` + p + `" { capabilities = ["read"] }` + "\n")
		b.WriteString(`path "` + KVMount + `/metadata/` + p + `" { capabilities = ["read"] }` + "\n")
	}
	return b.String()
}

// Token creates a token with the given policies (plus the default
// policy) and returns it. ttl zero means the server's default.
func (s *Server) Token(t testing.TB, ttl time.Duration, policies ...string) string {
	t.Helper()
	req := &api.TokenCreateRequest{Policies: policies}
	if ttl > 0 {
		req.TTL = ttl.String()
	}
	sec, err := s.Client(t).Auth().Token().CreateWithContext(t.Context(), req)
	if err != nil {
		t.Fatalf("vaulttest: creating token: %v", err)
	}
	return sec.Auth.ClientToken
}

// EnableAppRole enables the AppRole auth method at "approle". Calling it
// again on the same server is harmless.
func (s *Server) EnableAppRole(t testing.TB) {
	t.Helper()
	c := s.Client(t)
	auths, err := c.Sys().ListAuthWithContext(t.Context())
	if err != nil {
		t.Fatalf("vaulttest: listing auth methods: %v", err)
	}
	if _, ok := auths["approle/"]; ok {
		return
	}
	if err := c.Sys().EnableAuthWithOptionsWithContext(t.Context(), "approle", &api.EnableAuthOptions{Type: "approle"}); err != nil {
		t.Fatalf("vaulttest: enabling approle: %v", err)
	}
}

// AppRole describes an AppRole role and its credentials.
type AppRole struct {
	// Name is the role's name.
	Name string
	// Policies are attached to the tokens the role's logins receive.
	Policies []string
	// TokenTTL and TokenMaxTTL bound those tokens; zero means the
	// server's defaults.
	TokenTTL    time.Duration
	TokenMaxTTL time.Duration
	// RoleID and SecretID are the credentials. Left empty, Vault
	// generates them; set, they are installed as given, so a restarted
	// server can be seeded with credentials a client already holds.
	RoleID   string
	SecretID string
}

// CreateAppRole enables AppRole if needed, creates the role and a secret
// id for it, and returns r with RoleID and SecretID filled in.
func (s *Server) CreateAppRole(t testing.TB, r AppRole) AppRole {
	t.Helper()
	if r.Name == "" {
		t.Fatal("vaulttest: AppRole needs a name")
	}
	s.EnableAppRole(t)
	c := s.Client(t)
	ctx := t.Context()
	base := "auth/approle/role/" + r.Name
	role := map[string]any{"token_policies": strings.Join(r.Policies, ",")}
	if r.TokenTTL > 0 {
		role["token_ttl"] = r.TokenTTL.String()
	}
	if r.TokenMaxTTL > 0 {
		role["token_max_ttl"] = r.TokenMaxTTL.String()
	}
	if _, err := c.Logical().WriteWithContext(ctx, base, role); err != nil {
		t.Fatalf("vaulttest: creating role %s: %v", r.Name, err)
	}

	if r.RoleID != "" {
		if _, err := c.Logical().WriteWithContext(ctx, base+"/role-id", map[string]any{"role_id": r.RoleID}); err != nil {
			t.Fatalf("vaulttest: setting role id of %s: %v", r.Name, err)
		}
	} else {
		sec, err := c.Logical().ReadWithContext(ctx, base+"/role-id")
		if err != nil {
			t.Fatalf("vaulttest: reading role id of %s: %v", r.Name, err)
		}
		r.RoleID, err = dataString(sec, "role_id")
		if err != nil {
			t.Fatalf("vaulttest: reading role id of %s: %v", r.Name, err)
		}
	}

	if r.SecretID != "" {
		if _, err := c.Logical().WriteWithContext(ctx, base+"/custom-secret-id", map[string]any{"secret_id": r.SecretID}); err != nil {
			t.Fatalf("vaulttest: setting secret id of %s: %v", r.Name, err)
		}
	} else {
		sec, err := c.Logical().WriteWithContext(ctx, base+"/secret-id", nil)
		if err != nil {
			t.Fatalf("vaulttest: minting secret id of %s: %v", r.Name, err)
		}
		r.SecretID, err = dataString(sec, "secret_id")
		if err != nil {
			t.Fatalf("vaulttest: minting secret id of %s: %v", r.Name, err)
		}
	}
	return r
}

func dataString(sec *api.Secret, key string) (string, error) {
	if sec == nil || sec.Data == nil {
		return "", errors.New("empty response")
	}
	v, ok := sec.Data[key].(string)
	if !ok || v == "" {
		return "", errors.New("no " + key + " in the response")
	}
	return v, nil
}
