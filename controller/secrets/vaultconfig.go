package secrets

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strings"
	"time"
)

// Defaults for [VaultConfig] fields left at their zero value.
const (
	DefaultMount          = "secret"
	DefaultAppRoleMount   = "approle"
	DefaultTokenEnv       = "VAULT_TOKEN"
	DefaultPollInterval   = 10 * time.Second
	DefaultRequestTimeout = 5 * time.Second
	DefaultBackoffMin     = 500 * time.Millisecond
	DefaultBackoffMax     = 30 * time.Second
)

// AuthMethod selects how the controller authenticates to Vault.
type AuthMethod string

// Authentication methods.
const (
	// AuthToken uses a Vault token read from a file or the environment.
	AuthToken AuthMethod = "token"
	// AuthAppRole logs in with a role id and secret id, each read from a
	// file or the environment, and logs in again when the token ends.
	AuthAppRole AuthMethod = "approle"
)

// VaultConfig configures [NewVault]. Zero values mean the defaults above.
// Credentials are given as the name of a file or of an environment
// variable that holds them, never as values, so that they stay out of
// flags, configuration files and process listings.
type VaultConfig struct {
	// Address is Vault's URL, such as "https://vault.internal:8200".
	// Empty means the VAULT_ADDR environment variable.
	Address string
	// Namespace is the Vault Enterprise namespace; empty for none.
	Namespace string
	// CACert is a PEM file of CA certificates to trust for Address.
	// Empty means the system roots (or VAULT_CACERT).
	CACert string
	// Mount is where the KV version 2 engine is mounted.
	Mount string
	// Paths maps each secret's name, as the controller asks for it, to
	// its path under Mount: "provider/stripe" → "tonewall/providers/stripe".
	Paths map[string]string

	// Auth says how to log in.
	Auth VaultAuth

	// PollInterval is how often every secret's current version is
	// checked.
	PollInterval time.Duration
	// RequestTimeout bounds each request to Vault.
	RequestTimeout time.Duration
	// BackoffMin and BackoffMax bound the wait between attempts while
	// Vault is unreachable or rejecting the login. The wait doubles from
	// BackoffMin up to BackoffMax, with jitter.
	BackoffMin time.Duration
	BackoffMax time.Duration
}

// VaultAuth holds where the credentials are, not the credentials.
type VaultAuth struct {
	// Method is AuthToken or AuthAppRole. Empty means AuthAppRole when a
	// role id source is set, else AuthToken.
	Method AuthMethod

	// TokenFile is a file holding the token. If empty, the token is read
	// from the environment variable named by TokenEnv (default
	// VAULT_TOKEN). The file is read again when the token stops working.
	TokenFile string
	TokenEnv  string

	// AppRoleMount is where the AppRole method is mounted.
	AppRoleMount string
	// RoleIDFile or RoleIDEnv, and SecretIDFile or SecretIDEnv, locate
	// the AppRole credentials. Files are read again at every login, so a
	// secret id can be replaced without a restart.
	RoleIDFile   string
	RoleIDEnv    string
	SecretIDFile string
	SecretIDEnv  string
}

// withDefaults returns c with defaults filled in, validated.
func (c VaultConfig) withDefaults() (VaultConfig, error) {
	if c.Address == "" {
		c.Address = os.Getenv("VAULT_ADDR")
	}
	if c.Address == "" {
		return c, errors.New("secrets: vault address is not set")
	}
	c.Mount = strings.Trim(c.Mount, "/")
	if c.Mount == "" {
		c.Mount = DefaultMount
	}
	if len(c.Paths) == 0 {
		return c, errors.New("secrets: no vault paths configured")
	}
	paths := make(map[string]string, len(c.Paths))
	for name, p := range c.Paths {
		p = strings.Trim(p, "/")
		if name == "" || p == "" || path.Clean(p) != p || strings.HasPrefix(p, "..") {
			return c, fmt.Errorf("secrets: invalid vault path %q for secret %q", p, name)
		}
		paths[name] = p
	}
	c.Paths = paths
	if c.PollInterval <= 0 {
		c.PollInterval = DefaultPollInterval
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.BackoffMin <= 0 {
		c.BackoffMin = DefaultBackoffMin
	}
	if c.BackoffMax <= 0 {
		c.BackoffMax = DefaultBackoffMax
	}
	c.BackoffMax = max(c.BackoffMax, c.BackoffMin)

	a := &c.Auth
	if a.Method == "" {
		a.Method = AuthToken
		if a.RoleIDFile != "" || a.RoleIDEnv != "" {
			a.Method = AuthAppRole
		}
	}
	switch a.Method {
	case AuthToken:
		if a.TokenEnv == "" {
			a.TokenEnv = DefaultTokenEnv
		}
	case AuthAppRole:
		a.AppRoleMount = strings.Trim(a.AppRoleMount, "/")
		if a.AppRoleMount == "" {
			a.AppRoleMount = DefaultAppRoleMount
		}
		if a.RoleIDFile == "" && a.RoleIDEnv == "" {
			return c, errors.New("secrets: approle auth needs a role id file or environment variable")
		}
		if a.SecretIDFile == "" && a.SecretIDEnv == "" {
			return c, errors.New("secrets: approle auth needs a secret id file or environment variable")
		}
	default:
		return c, fmt.Errorf("secrets: unknown vault auth method %q", a.Method)
	}
	return c, nil
}

// source says where the credentials are read from, for logs.
func (a VaultAuth) source() string {
	where := func(file, env string) string {
		if file != "" {
			return "file " + file
		}
		return "environment variable " + env
	}
	if a.Method == AuthAppRole {
		return "role id from " + where(a.RoleIDFile, a.RoleIDEnv) + ", secret id from " + where(a.SecretIDFile, a.SecretIDEnv)
	}
	return "token from " + where(a.TokenFile, a.TokenEnv)
}

// readCredential returns the credential in file, or else in the
// environment variable env. what names it in errors; the value never
// appears in them.
func readCredential(what, file, env string) (string, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			// *PathError holds the path and errno, not the contents.
			return "", &credentialError{fmt.Errorf("secrets: reading vault %s: %w", what, err)}
		}
		v := strings.TrimSpace(string(b))
		if v == "" {
			return "", &credentialError{fmt.Errorf("secrets: vault %s file %s is empty", what, file)}
		}
		return v, nil
	}
	v := strings.TrimSpace(os.Getenv(env))
	if v == "" {
		return "", &credentialError{fmt.Errorf("secrets: vault %s: environment variable %s is not set", what, env)}
	}
	return v, nil
}

// credentialError means a credential could not be read locally.
type credentialError struct{ err error }

func (e *credentialError) Error() string { return e.err.Error() }
func (e *credentialError) Unwrap() error { return e.err }
