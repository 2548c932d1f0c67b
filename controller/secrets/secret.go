package secrets

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Errors returned by [Source.Get], matched with [errors.Is]. Their messages
// name the secret and its path, never a value.
var (
	// ErrNotFound means no secret is configured under the name, or the
	// store holds nothing at its path.
	ErrNotFound = errors.New("secret not found")
	// ErrPermissionDenied means the store refused to read the path.
	ErrPermissionDenied = errors.New("permission denied")
	// ErrUnavailable means the secret has never been loaded because the
	// store could not be reached or did not answer usefully.
	ErrUnavailable = errors.New("secret store unavailable")
	// ErrAuthFailed means the store rejected the credentials the
	// controller presented (a bad token, role id or secret id).
	ErrAuthFailed = errors.New("secret store rejected the credentials")
)

// redacted stands in for every secret value in printed output.
const redacted = "REDACTED"

// A Source hands out the controller's secrets by name and tells
// subscribers when a secret is rotated. Implementations are safe for
// concurrent use.
type Source interface {
	// Get returns the value held for name. It does not wait on the
	// backing store: a held value is returned even while the store is
	// unreachable. A secret never loaded yields an error matching
	// ErrNotFound, ErrPermissionDenied or ErrUnavailable.
	Get(ctx context.Context, name string) (Secret, error)

	// Subscribe calls fn with every new version of the secret loaded
	// after the call. Calls are made one at a time from the source's own
	// goroutine; fn must return promptly and must not call Close. The
	// returned function ends the subscription and may be called more
	// than once.
	Subscribe(name string, fn func(Secret)) (unsubscribe func())

	// Health reports whether the source is serving fresh values.
	Health() Health

	// Close stops background work. Values already returned stay valid.
	Close() error
}

// Health describes the state of a [Source]. It never contains secret
// values and is safe to log or serve on a health endpoint.
type Health struct {
	// Degraded is true when the store cannot be reached, rejects the
	// controller's credentials, or a configured secret is not held or
	// could not be refreshed. Held values are still served.
	Degraded bool
	// Reason says why the source is degraded; empty when healthy.
	Reason string
	// Since is when the current degradation began; zero when healthy.
	Since time.Time
	// LastOK is when the store last answered a full refresh of the
	// configured secrets; zero if it never has.
	LastOK time.Time
	// Held counts configured secrets for which a value is held.
	Held int
	// Missing lists, sorted, configured secrets for which no value is
	// held; Get returns an error for them.
	Missing []string
}

// Values maps a secret's keys to their values. It prints, logs and
// marshals with every value replaced by "REDACTED"; index it to read a
// value.
type Values map[string][]byte

// Keys returns the keys, sorted.
func (v Values) Keys() []string {
	return slices.Sorted(maps.Keys(v))
}

// Clone returns a deep copy of v.
func (v Values) Clone() Values {
	if v == nil {
		return nil
	}
	c := make(Values, len(v))
	for k, b := range v {
		c[k] = slices.Clone(b)
	}
	return c
}

// Equal reports whether v and w hold the same keys and values.
func (v Values) Equal(w Values) bool {
	return maps.EqualFunc(v, w, func(a, b []byte) bool { return string(a) == string(b) })
}

// String returns the keys with their values redacted.
func (v Values) String() string {
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range v.Keys() {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(k)
		b.WriteString(":" + redacted)
	}
	b.WriteByte('}')
	return b.String()
}

// GoString is String: values are redacted under %#v too.
func (v Values) GoString() string { return "secrets.Values" + v.String() }

// Format prints v redacted whatever the verb.
func (v Values) Format(f fmt.State, verb rune) { formatRedacted(f, verb, v.String(), v.GoString()) }

// LogValue logs the keys only.
func (v Values) LogValue() slog.Value { return slog.AnyValue(v.Keys()) }

// MarshalJSON encodes each key with the value "REDACTED".
func (v Values) MarshalJSON() ([]byte, error) {
	m := make(map[string]string, len(v))
	for k := range v {
		m[k] = redacted
	}
	return json.Marshal(m)
}

// A Secret is one named secret at one version. Its Data values are the
// secret; every way of printing, logging or marshalling a Secret redacts
// them.
type Secret struct {
	// Name is the name the controller asks for, such as "provider/stripe".
	Name string
	// Version increases each time the secret is rotated.
	Version int
	// Data holds the secret's keys and values.
	Data Values
}

// Value returns the value under key as a string, and whether it exists.
func (s Secret) Value(key string) (string, bool) {
	b, ok := s.Data[key]
	return string(b), ok
}

// Clone returns a copy of s that shares no memory with it.
func (s Secret) Clone() Secret {
	s.Data = s.Data.Clone()
	return s
}

// String returns the name, version and keys, with values redacted.
func (s Secret) String() string {
	return s.Name + " v" + strconv.Itoa(s.Version) + " " + s.Data.String()
}

// GoString is a redacted Go-like form, used by %#v.
func (s Secret) GoString() string {
	return fmt.Sprintf("secrets.Secret{Name:%q, Version:%d, Data:%s}", s.Name, s.Version, s.Data.String())
}

// Format prints s redacted whatever the verb.
func (s Secret) Format(f fmt.State, verb rune) { formatRedacted(f, verb, s.String(), s.GoString()) }

// LogValue logs the name, version and keys.
func (s Secret) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("name", s.Name),
		slog.Int("version", s.Version),
		slog.Any("keys", s.Data.Keys()),
	)
}

// MarshalJSON encodes the name, version and keys, never the values.
func (s Secret) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Name    string   `json:"name"`
		Version int      `json:"version"`
		Keys    []string `json:"keys"`
	}{s.Name, s.Version, s.Data.Keys()})
}

// valueBytes converts a decoded JSON value to a secret value: strings
// and numbers as their text, anything else as its JSON encoding.
func valueBytes(x any) ([]byte, error) {
	switch x := x.(type) {
	case string:
		return []byte(x), nil
	case json.Number:
		return []byte(x.String()), nil
	default:
		return json.Marshal(x)
	}
}

func formatRedacted(f fmt.State, verb rune, s, gostring string) {
	switch {
	case verb == 'v' && f.Flag('#'):
		fmt.Fprint(f, gostring)
	case verb == 'q':
		fmt.Fprint(f, strconv.Quote(s))
	default:
		fmt.Fprint(f, s)
	}
}

// lookupError is the error Get returns for a secret it cannot serve.
type lookupError struct {
	name  string
	path  string // where the secret lives, such as "secret/tonewall/api-keys"
	kind  error  // one of the package's Err values
	cause error  // what happened, free of secret values; may be nil
}

func (e *lookupError) Error() string {
	var b strings.Builder
	b.WriteString("secrets: ")
	b.WriteString(strconv.Quote(e.name))
	if e.path != "" {
		b.WriteString(" at ")
		b.WriteString(e.path)
	}
	b.WriteString(": ")
	b.WriteString(e.kind.Error())
	switch c := e.cause.(type) {
	case nil:
	case *storeError:
		b.WriteString(": ")
		b.WriteString(c.detail())
	default:
		b.WriteString(": ")
		b.WriteString(strings.TrimPrefix(c.Error(), "secrets: "))
	}
	return b.String()
}

func (e *lookupError) Unwrap() []error {
	if e.cause == nil {
		return []error{e.kind}
	}
	return []error{e.kind, e.cause}
}

// subscribers holds the callbacks registered with Subscribe. It is not
// safe for concurrent use; its owner locks around it.
type subscribers struct {
	next uint64
	fns  map[string]map[uint64]func(Secret)
}

func (s *subscribers) add(name string, fn func(Secret)) uint64 {
	if s.fns == nil {
		s.fns = make(map[string]map[uint64]func(Secret))
	}
	if s.fns[name] == nil {
		s.fns[name] = make(map[uint64]func(Secret))
	}
	s.next++
	s.fns[name][s.next] = fn
	return s.next
}

func (s *subscribers) remove(name string, id uint64) {
	delete(s.fns[name], id)
	if len(s.fns[name]) == 0 {
		delete(s.fns, name)
	}
}

// list returns the callbacks for name in subscription order.
func (s *subscribers) list(name string) []func(Secret) {
	ids := slices.Sorted(maps.Keys(s.fns[name]))
	fns := make([]func(Secret), len(ids))
	for i, id := range ids {
		fns[i] = s.fns[name][id]
	}
	return fns
}

// notify calls each fn with its own copy of sec, recovering from a panic
// in a subscriber so that one bad callback cannot stop rotation.
func notify(log *slog.Logger, fns []func(Secret), sec Secret) {
	for _, fn := range fns {
		func() {
			defer func() {
				if r := recover(); r != nil {
					// The panic value could be anything a subscriber
					// built, including the secret; log only that it happened.
					log.Error("secret subscriber panicked", "secret", sec.Name, "version", sec.Version)
				}
			}()
			fn(sec.Clone())
		}()
	}
}
