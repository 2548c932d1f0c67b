// Package psptest helps the local stand-ins for payment providers that
// plugin tests run against: it checks request bodies against a provider's
// documented schema.
package psptest

import (
	"fmt"
	"math"
	"sort"
)

// Checker collects schema violations found in a decoded JSON body.
// Messages name fields only, never values: the values may be card data.
type Checker struct {
	// Problems lists the violations found so far.
	Problems []string
}

// Fail records a violation.
func (c *Checker) Fail(format string, args ...any) {
	c.Problems = append(c.Problems, fmt.Sprintf(format, args...))
}

// Object returns v as a JSON object, or records a violation.
func (c *Checker) Object(v any, path string) map[string]any {
	m, ok := v.(map[string]any)
	if !ok {
		c.Fail("%s: want object", path)
		return nil
	}
	return m
}

// Only records a violation for every field of m not in allowed.
func (c *Checker) Only(m map[string]any, path string, allowed ...string) {
	ok := make(map[string]bool, len(allowed))
	for _, a := range allowed {
		ok[a] = true
	}
	var extra []string
	for k := range m {
		if !ok[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(extra)
	for _, k := range extra {
		c.Fail("%s.%s: field not in schema", path, k)
	}
}

// Str reads a string field, checking presence and length (maxLen 0: no limit).
func (c *Checker) Str(m map[string]any, key, path string, required bool, minLen, maxLen int) (string, bool) {
	v, present := m[key]
	if !present {
		if required {
			c.Fail("%s.%s: required", path, key)
		}
		return "", false
	}
	s, ok := v.(string)
	if !ok {
		c.Fail("%s.%s: want string", path, key)
		return "", false
	}
	if len(s) < minLen || (maxLen > 0 && len(s) > maxLen) {
		c.Fail("%s.%s: length out of range", path, key)
	}
	return s, true
}

// Digits reads a string field that must hold only ASCII digits.
func (c *Checker) Digits(m map[string]any, key, path string, required bool, minLen, maxLen int) (string, bool) {
	s, ok := c.Str(m, key, path, required, minLen, maxLen)
	if !ok {
		return "", false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			c.Fail("%s.%s: want digits", path, key)
			return "", false
		}
	}
	return s, true
}

// Integer reads a whole-number field.
func (c *Checker) Integer(m map[string]any, key, path string, required bool) (int64, bool) {
	v, present := m[key]
	if !present {
		if required {
			c.Fail("%s.%s: required", path, key)
		}
		return 0, false
	}
	f, ok := v.(float64)
	if !ok || f != math.Trunc(f) {
		c.Fail("%s.%s: want integer", path, key)
		return 0, false
	}
	return int64(f), true
}

// Boolean reads an optional boolean field.
func (c *Checker) Boolean(m map[string]any, key, path string) (bool, bool) {
	v, present := m[key]
	if !present {
		return false, false
	}
	b, ok := v.(bool)
	if !ok {
		c.Fail("%s.%s: want boolean", path, key)
	}
	return b, ok
}
