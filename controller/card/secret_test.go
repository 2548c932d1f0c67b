package card

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"testing"
)

func secretOf(tb testing.TB, digits string) *Secret {
	tb.Helper()
	s := NewSecret(len(digits))
	for i := range len(digits) {
		s.Append(digits[i])
	}
	return s
}

// backing returns the whole backing array of s, to check that wiping zeroes
// bytes beyond the current length too.
func backing(s *Secret) []byte {
	b := s.Bytes()
	return b[:cap(b)]
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// leakForms returns the ways a digit string could show up in output: as text,
// as hex, as decimal byte values (fmt's %v of a []byte), and as base64
// (encoding/json's []byte).
func leakForms(digits string) []string {
	dec := make([]string, len(digits))
	for i := range len(digits) {
		dec[i] = strconv.Itoa(int(digits[i]))
	}
	return []string{
		digits,
		hex.EncodeToString([]byte(digits)),
		strings.ToUpper(hex.EncodeToString([]byte(digits))),
		strings.Join(dec, " "),
		strings.Join(dec, ","),
		base64.StdEncoding.EncodeToString([]byte(digits))[:8],
	}
}

// assertNoLeak fails if out holds any form of any of the digit strings.
func assertNoLeak(tb testing.TB, what, out string, digits ...string) {
	tb.Helper()
	for _, d := range digits {
		for _, form := range leakForms(d) {
			if strings.Contains(out, form) {
				tb.Errorf("%s reveals digits (as %q): %s", what, form, out)
			}
		}
	}
}

// verbs are the fmt verbs and flags checked for every masked type.
var verbs = []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "% x", "%d", "%o", "%b", "%c", "%U", "%08v", "%-30s", "%.3s", "%10.2q"}

// leakOutputs renders v every way a caller might: every fmt verb, both slog
// handlers, and encoding/json.
func leakOutputs(tb testing.TB, v any) map[string]string {
	tb.Helper()
	out := map[string]string{}
	for _, verb := range verbs {
		out["fmt "+verb] = fmt.Sprintf(verb, v)
	}
	out["Sprint"] = fmt.Sprint(v)
	out["Sprintln"] = fmt.Sprintln(v)
	var text, js bytes.Buffer
	// The record's own timestamp is wall-clock digits: leave it out.
	opts := &slog.HandlerOptions{ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey && len(groups) == 0 {
			return slog.Attr{}
		}
		return a
	}}
	slog.New(slog.NewTextHandler(&text, opts)).Info("msg", "v", v, slog.Group("g", "v", v))
	slog.New(slog.NewJSONHandler(&js, opts)).Info("msg", "v", v, slog.Group("g", "v", v))
	out["slog text"] = text.String()
	out["slog json"] = js.String()
	if b, err := json.Marshal(v); err == nil {
		out["json"] = string(b)
	} else {
		tb.Errorf("json.Marshal(%T): %v", v, err)
	}
	return out
}

func TestSecretNeverFormats(t *testing.T) {
	const pan = "4242424242424242"
	s := secretOf(t, pan)
	type exported struct{ S *Secret }
	type unexported struct {
		s  *Secret
		sv Secret
	}
	// fmt prints unexported fields without calling their methods: the secret
	// shows as an address. Addresses may contain any short run of digits, so
	// only the long canary is looked for there.
	for how, out := range leakOutputs(t, unexported{s, *s}) {
		assertNoLeak(t, "struct unexported "+how, out, pan)
	}
	values := map[string]any{
		"*Secret":            s,
		"Secret":             *s,
		"struct exported":    exported{s},
		"pointer to struct":  &exported{s},
		"slice":              []*Secret{s},
		"array of values":    [1]Secret{*s},
		"map":                map[string]*Secret{"pan": s},
		"map of values":      map[string]Secret{"pan": *s},
		"zero Secret":        Secret{},
		"nil *Secret in any": exported{nil},
	}
	for name, v := range values {
		for how, out := range leakOutputs(t, v) {
			assertNoLeak(t, name+" "+how, out, pan, "4242")
		}
	}
	if got, want := s.String(), "[secret 16 digits]"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if got := fmt.Sprintf("%v|%s|%d|%x", s, s, s, s); got != strings.Repeat("[secret 16 digits]|", 3)+"[secret 16 digits]" {
		t.Errorf("verbs print %q", got)
	}
	if got := fmt.Sprintf("%#v", s); got != "card.Secret[secret 16 digits]" {
		t.Errorf("%%#v prints %q", got)
	}
	if got := secretOf(t, "7").String(); got != "[secret 1 digit]" {
		t.Errorf("one digit: %q", got)
	}
	if b, _ := s.MarshalText(); string(b) != "[secret 16 digits]" {
		t.Errorf("MarshalText = %q", b)
	}
}

func TestSecretBuffer(t *testing.T) {
	s := secretOf(t, "4242424242424242")
	if s.Len() != 16 || string(s.Bytes()) != "4242424242424242" {
		t.Fatalf("Len %d", s.Len())
	}
	arr := backing(s)

	s.Truncate(4)
	if string(s.Bytes()) != "4242" || !allZero(arr[4:]) {
		t.Errorf("Truncate(4) left %d bytes, tail zero %v", s.Len(), allZero(arr[4:]))
	}
	s.Truncate(99)
	s.Truncate(-1)
	if s.Len() != 0 || !allZero(arr) {
		t.Errorf("Truncate(-1): Len %d", s.Len())
	}

	s = secretOf(t, "123")
	arr = backing(s)
	c := s.Clone()
	s.Wipe()
	s.Wipe() // idempotent
	if s.Len() != 0 || !allZero(arr) {
		t.Errorf("Wipe left Len %d, zero %v", s.Len(), allZero(arr))
	}
	if string(c.Bytes()) != "123" {
		t.Errorf("Clone was not independent")
	}
	c.Wipe()
}

// TestSecretGrowthWipesOldArray checks that outgrowing the capacity leaves no
// copy of the digits behind.
func TestSecretGrowthWipesOldArray(t *testing.T) {
	s := NewSecret(2)
	s.Append('4')
	s.Append('2')
	old := backing(s)
	s.Append('9')
	if string(s.Bytes()) != "429" {
		t.Fatalf("after growth: Len %d", s.Len())
	}
	if !allZero(old) {
		t.Errorf("old backing array not wiped after growth")
	}

	var z Secret // the zero value works
	z.Append('1')
	if z.Len() != 1 {
		t.Errorf("zero Secret Append: Len %d", z.Len())
	}
	z.Wipe()
	if z.Len() != 0 {
		t.Errorf("zero Secret Wipe: Len %d", z.Len())
	}
}

func TestNilSecret(t *testing.T) {
	var s *Secret
	s.Wipe()
	s.Truncate(3)
	if s.Len() != 0 || s.Bytes() != nil || s.Clone() != nil {
		t.Errorf("nil Secret not empty")
	}
	if NewSecret(-1).Len() != 0 {
		t.Errorf("negative capacity")
	}
}
