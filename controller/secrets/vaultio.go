package secrets

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/vault/api"
)

// login authenticates with the configured method and starts renewing
// the token when it is renewable.
func (v *Vault) login(ctx context.Context) error {
	v.stopWatcher()
	v.authed = false
	a := v.cfg.Auth
	switch a.Method {
	case AuthAppRole:
		roleID, err := readCredential("role id", a.RoleIDFile, a.RoleIDEnv)
		if err != nil {
			return err
		}
		secretID, err := readCredential("secret id", a.SecretIDFile, a.SecretIDEnv)
		if err != nil {
			return err
		}
		v.client.ClearToken()
		s, err := v.client.Logical().WriteWithContext(ctx, "auth/"+a.AppRoleMount+"/login", map[string]any{
			"role_id":   roleID,
			"secret_id": secretID,
		})
		if err != nil {
			return authErr("approle login", err)
		}
		if s == nil || s.Auth == nil || s.Auth.ClientToken == "" {
			return &storeError{kind: ErrAuthFailed, op: "approle login", err: errors.New("no token in the response")}
		}
		v.client.SetToken(s.Auth.ClientToken)
		v.authed = true
		if s.Auth.LeaseDuration > 0 {
			// A non-renewable token is watched too: the watcher ends near
			// its expiry and the loop logs in again.
			v.watch(s.Auth)
		}
		v.log.Info("logged in to vault with approle",
			"ttl", ttlOf(s.Auth.LeaseDuration), "renewable", s.Auth.Renewable, "policies", s.Auth.Policies)

	default:
		token, err := readCredential("token", a.TokenFile, a.TokenEnv)
		if err != nil {
			return err
		}
		v.client.SetToken(token)
		s, err := v.client.Auth().Token().LookupSelfWithContext(ctx)
		if err != nil {
			return authErr("token lookup", err)
		}
		if s == nil {
			return &storeError{kind: ErrAuthFailed, op: "token lookup", err: errors.New("empty response")}
		}
		ttl, _ := s.TokenTTL()
		renewable, _ := s.TokenIsRenewable()
		v.authed = true
		switch {
		case token == v.spent:
			// Renewal already ended for this token; it will expire.
		case renewable && ttl > 0:
			v.watch(&api.SecretAuth{ClientToken: token, Renewable: true, LeaseDuration: int(ttl / time.Second)})
		}
		v.log.Info("vault token accepted", "ttl", ttl, "renewable", renewable)
	}
	return nil
}

// tokenValid reports whether Vault still accepts the client's token.
func (v *Vault) tokenValid(ctx context.Context) (bool, error) {
	_, err := v.client.Auth().Token().LookupSelfWithContext(ctx)
	if err == nil {
		return true, nil
	}
	if code := statusCode(err); code == 401 || code == 403 {
		return false, nil
	}
	return false, &storeError{kind: ErrUnavailable, op: "token lookup", err: cleanErr(err)}
}

// fetched is the outcome of checking one secret.
type fetched struct {
	unchanged bool // the held version is current
	sec       Secret
	created   time.Time
}

// fetch checks the current version of the secret called name and reads
// it if it differs from the held one. Errors about this secret alone are
// *lookupError; any other error means Vault cannot be used.
func (v *Vault) fetch(ctx context.Context, name string) (fetched, error) {
	e, p := v.entries[name], v.cfg.Paths[name]
	md, err := v.kv.GetMetadata(ctx, p)
	if err == nil {
		cur := md.CurrentVersion
		if cur == 0 {
			return fetched{}, &lookupError{name: name, path: e.path, kind: ErrNotFound}
		}
		vm := md.Versions[strconv.Itoa(cur)]
		if e.held && cur == e.sec.Version && vm.CreatedTime.Equal(e.created) {
			return fetched{unchanged: true}, nil
		}
		s, err := v.kv.GetVersion(ctx, p, cur)
		if err != nil {
			return fetched{}, v.fetchErr(name, err)
		}
		return v.decode(name, s)
	}
	if statusCode(err) != 403 {
		return fetched{}, v.fetchErr(name, err)
	}
	// The policy may allow reading the data but not the metadata; then
	// the data is polled instead, which costs more but still works.
	s, err := v.kv.Get(ctx, p)
	if err != nil {
		return fetched{}, v.fetchErr(name, err)
	}
	if !v.metaWarns[name] {
		v.metaWarns[name] = true
		v.log.Warn("vault policy allows reading the secret but not its metadata; polling the data instead",
			"secret", name, "path", e.path)
	}
	f, err := v.decode(name, s)
	if err == nil && e.held && f.sec.Version == e.sec.Version && f.created.Equal(e.created) {
		return fetched{unchanged: true}, nil
	}
	return f, err
}

// decode turns a KV version 2 response into a Secret.
func (v *Vault) decode(name string, s *api.KVSecret) (fetched, error) {
	e := v.entries[name]
	if s == nil || s.VersionMetadata == nil {
		return fetched{}, &lookupError{name: name, path: e.path, kind: ErrUnavailable, cause: errors.New("not a KV version 2 secret")}
	}
	if s.Data == nil {
		return fetched{}, &lookupError{name: name, path: e.path, kind: ErrNotFound,
			cause: fmt.Errorf("current version %d is deleted", s.VersionMetadata.Version)}
	}
	data := make(Values, len(s.Data))
	for k, x := range s.Data {
		b, err := valueBytes(x)
		if err != nil {
			// Only the key is named, never the value.
			return fetched{}, &lookupError{name: name, path: e.path, kind: ErrUnavailable,
				cause: fmt.Errorf("key %q: unsupported value", k)}
		}
		data[k] = b
	}
	return fetched{
		sec:     Secret{Name: name, Version: s.VersionMetadata.Version, Data: data},
		created: s.VersionMetadata.CreatedTime,
	}, nil
}

// fetchErr classifies an error reading the secret called name.
func (v *Vault) fetchErr(name string, err error) error {
	path := v.entries[name].path
	code := statusCode(err)
	switch {
	case code == 404 || (code == 0 && errors.Is(err, api.ErrSecretNotFound)):
		return &lookupError{name: name, path: path, kind: ErrNotFound}
	case code == 401 || code == 403:
		return &lookupError{name: name, path: path, kind: ErrPermissionDenied, cause: cleanErr(err)}
	case code >= 400 && code < 500 && code != 429:
		return &lookupError{name: name, path: path, kind: ErrUnavailable, cause: cleanErr(err)}
	default:
		return &storeError{kind: ErrUnavailable, op: "read", err: cleanErr(err)}
	}
}

// apply records the outcome of fetching the secret called name, logs
// what changed and notifies subscribers of a new version.
func (v *Vault) apply(name string, f fetched, err error) {
	v.mu.Lock()
	e := v.entries[name]
	prev, wasHeld, old := e.err, e.held, e.sec.Version
	e.err = err
	changed := err == nil && !f.unchanged
	var fns []func(Secret)
	if changed {
		e.sec, e.created, e.held = f.sec, f.created, true
		fns = v.subs.list(name)
	}
	sec := e.sec
	v.mu.Unlock()

	switch {
	case err != nil && (prev == nil || prev.Error() != err.Error()):
		v.log.Warn("secret cannot be loaded from vault", "secret", name, "error", err.Error(), "held", wasHeld)
	case err == nil && prev != nil:
		v.log.Info("secret readable again", "secret", name, "path", e.path)
	}
	if !changed {
		return
	}
	if wasHeld {
		v.log.Info("secret rotated", "secret", name, "from", old, "to", sec.Version)
	} else {
		v.log.Info("secret loaded", "secret", sec)
	}
	notify(v.log, fns, sec)
}

// storeError means Vault as a whole cannot be used: it is unreachable,
// failing, or rejects the login.
type storeError struct {
	kind error  // ErrUnavailable or ErrAuthFailed
	op   string // what was being done, such as "read" or "approle login"
	err  error  // free of secret values
}

func (e *storeError) Error() string {
	return "secrets: vault " + e.op + ": " + e.kind.Error() + ": " + e.err.Error()
}

func (e *storeError) Unwrap() []error { return []error{e.kind, e.err} }

// detail is the message without the package prefix, for use as the
// cause of a lookupError whose kind already says unavailable.
func (e *storeError) detail() string {
	if e.kind == ErrUnavailable {
		return "vault " + e.op + ": " + e.err.Error()
	}
	return "vault " + e.op + ": " + e.kind.Error() + ": " + e.err.Error()
}

// authErr classifies an error from a login or token lookup: a 4xx answer
// means the credentials were rejected.
func authErr(op string, err error) error {
	kind := ErrUnavailable
	if code := statusCode(err); code >= 400 && code < 500 && code != 429 {
		kind = ErrAuthFailed
	}
	return &storeError{kind: kind, op: op, err: cleanErr(err)}
}

// statusCode returns the HTTP status of Vault's answer in err, or 0 if
// Vault did not answer.
func statusCode(err error) int {
	var re *api.ResponseError
	if errors.As(err, &re) {
		return re.StatusCode
	}
	return 0
}

// statusError is Vault's answer to a failed request, reduced to the
// status code and Vault's own messages.
type statusError struct {
	code int
	msg  string
}

func (e *statusError) Error() string {
	if e.msg == "" {
		return "HTTP " + strconv.Itoa(e.code)
	}
	return "HTTP " + strconv.Itoa(e.code) + ": " + e.msg
}

// maxErrorText bounds the Vault message kept in an error.
const maxErrorText = 200

// cleanErr replaces Vault's multi-line response error, which can carry
// an unparsed response body, with a short statusError. Network errors
// pass through: they hold the URL and the failure, not request bodies.
func cleanErr(err error) error {
	var re *api.ResponseError
	if !errors.As(err, &re) {
		return err
	}
	msg := "unreadable response"
	if !re.RawError {
		msg = strings.Join(strings.Fields(strings.Join(re.Errors, "; ")), " ")
		msg = strings.TrimPrefix(msg, "1 error occurred: * ")
	}
	if len(msg) > maxErrorText {
		msg = msg[:maxErrorText] + "..."
	}
	return &statusError{code: re.StatusCode, msg: msg}
}

func ttlOf(seconds int) time.Duration { return time.Duration(seconds) * time.Second }
