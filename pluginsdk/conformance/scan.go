package conformance

import (
	"bytes"
	"reflect"
	"strings"
	"sync"
)

// syncBuffer is a bytes.Buffer safe for the concurrent writers go-plugin and
// slog use.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Leak is one place card data was found.
type Leak struct {
	Where string // "result", "error", "plugin stderr", "host log"
	What  string // "PAN ending 4242" or "CVC of card ending 4242"
	Line  int    // 1-based line for logs, 0 otherwise
}

// Canary is card data that must never appear in output.
type Canary struct {
	PAN string
	CVC string
}

func last4(pan string) string {
	if len(pan) < 4 {
		return pan
	}
	return pan[len(pan)-4:]
}

// ScanText reports every canary PAN found in text, also when written with
// spaces or dashes between digit groups, and, when checkCVC is set, every CVC
// that stands alone as a digit token (not part of a longer number).
func ScanText(where, text string, canaries []Canary, checkCVC bool) []Leak {
	var leaks []Leak
	for i, line := range strings.Split(text, "\n") {
		squeezed := squeezeDigitGroups(line)
		for _, c := range canaries {
			if c.PAN != "" && (strings.Contains(line, c.PAN) || strings.Contains(squeezed, c.PAN)) {
				leaks = append(leaks, Leak{Where: where, What: "PAN ending " + last4(c.PAN), Line: i + 1})
			}
			if checkCVC && c.CVC != "" && hasDigitToken(line, c.CVC) {
				leaks = append(leaks, Leak{Where: where, What: "CVC of card ending " + last4(c.PAN), Line: i + 1})
			}
		}
	}
	return leaks
}

// ScanValue reports canaries found in any string reachable from v (struct
// fields, slices, maps, pointers), so a field added to Result later is
// covered too. CVCs are matched as exact field values or standalone tokens.
func ScanValue(where string, v any, canaries []Canary) []Leak {
	var leaks []Leak
	walkStrings(reflect.ValueOf(v), func(s string) {
		for _, l := range ScanText(where, s, canaries, true) {
			l.Line = 0
			leaks = append(leaks, l)
		}
	})
	return leaks
}

func walkStrings(v reflect.Value, f func(string)) {
	switch v.Kind() {
	case reflect.String:
		f(v.String())
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			walkStrings(v.Elem(), f)
		}
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			walkStrings(v.Field(i), f)
		}
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			f(string(v.Bytes()))
			return
		}
		for i := 0; i < v.Len(); i++ {
			walkStrings(v.Index(i), f)
		}
	case reflect.Map:
		it := v.MapRange()
		for it.Next() {
			walkStrings(it.Key(), f)
			walkStrings(it.Value(), f)
		}
	}
}

// squeezeDigitGroups removes single spaces and dashes that sit between two
// digits, so "4242 4242-4242 4242" reads as one number.
func squeezeDigitGroups(s string) string {
	if !strings.ContainsAny(s, " -") {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c == ' ' || c == '-') && i > 0 && i+1 < len(s) && isDigit(s[i-1]) && isDigit(s[i+1]) {
			continue
		}
		b = append(b, c)
	}
	return string(b)
}

// hasDigitToken reports whether tok occurs in s with no digit either side.
func hasDigitToken(s, tok string) bool {
	for off := 0; ; {
		i := strings.Index(s[off:], tok)
		if i < 0 {
			return false
		}
		start := off + i
		end := start + len(tok)
		// A token inside a decimal or a time ("12.737", "17:49") or
		// followed by a unit ("737ms") is not a CVC standing alone.
		if (start == 0 || !partOfNumber(s[start-1])) && (end == len(s) || !(partOfNumber(s[end]) || isLetter(s[end]))) {
			return true
		}
		off = start + 1
	}
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func partOfNumber(c byte) bool { return isDigit(c) || c == '.' || c == ':' }

func isLetter(c byte) bool { return (c|0x20) >= 'a' && (c|0x20) <= 'z' }
