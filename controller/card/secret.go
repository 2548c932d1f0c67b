package card

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
)

// Secret is a wipeable buffer of card digits.
//
// A Secret never formats as its contents: String, Format (every fmt verb),
// GoString, LogValue, MarshalJSON and MarshalText all produce a placeholder
// such as "[secret 16 digits]". The formatting methods have value receivers so
// that a dereferenced copy prints masked too, and the bytes sit behind a
// pointer so that even a Secret in an unexported struct field, which fmt
// prints without calling its methods, shows only an address. The methods that
// change the buffer have pointer receivers.
//
// A Secret never reallocates silently: when Append has to grow the buffer it
// zeroes the old backing array. Size it with [NewSecret] so it never grows.
// The zero Secret is empty and ready to use.
type Secret struct {
	d *digits
}

// digits holds a Secret's bytes one more pointer away. When fmt meets a
// pointer it may not call methods on (an unexported field) with a verb that
// does not suit pointers, it prints the pointee; with two levels of pointers
// that output stops at an address.
type digits struct {
	b *[]byte
}

// NewSecret returns an empty Secret whose backing array holds capacity bytes.
func NewSecret(capacity int) *Secret {
	b := make([]byte, 0, max(capacity, 0))
	return &Secret{d: &digits{b: &b}}
}

// bytes returns the contents, nil for a nil or zero Secret.
func (s *Secret) bytes() []byte {
	if s == nil || s.d == nil {
		return nil
	}
	return *s.d.b
}

// Append adds one byte to the end of the buffer. If the buffer is full, the
// contents move to a larger array and the old array is zeroed.
func (s *Secret) Append(d byte) {
	if s.d == nil {
		s.d = &digits{b: new([]byte)}
	}
	b := *s.d.b
	if len(b) == cap(b) {
		grown := make([]byte, len(b), 2*cap(b)+1)
		copy(grown, b)
		clear(b[:cap(b)])
		b = grown
	}
	*s.d.b = append(b, d)
}

// Len reports the number of bytes held. A nil Secret holds none.
func (s *Secret) Len() int { return len(s.bytes()) }

// Bytes returns the live contents, for handing to a payment client. The slice
// aliases the buffer: callers must not keep it, copy it into a string, or use
// it after Wipe. A nil Secret returns nil.
func (s *Secret) Bytes() []byte { return s.bytes() }

// Truncate keeps the first n bytes and zeroes the rest. n outside [0, Len]
// is clamped.
func (s *Secret) Truncate(n int) {
	b := s.bytes()
	if b == nil {
		return
	}
	n = max(0, min(n, len(b)))
	clear(b[n:cap(b)])
	*s.d.b = b[:n]
}

// Wipe zeroes the whole backing array and empties the buffer. It is safe on a
// nil Secret and safe to call more than once.
func (s *Secret) Wipe() { s.Truncate(0) }

// Clone returns an independent copy with the same capacity. The copy must be
// wiped separately. Cloning a nil Secret returns nil.
func (s *Secret) Clone() *Secret {
	if s == nil {
		return nil
	}
	b := s.bytes()
	c := NewSecret(cap(b))
	*c.d.b = append(*c.d.b, b...)
	return c
}

// masked is the placeholder every formatting method returns.
func (s Secret) masked() string {
	n := s.Len()
	if n == 1 {
		return "[secret 1 digit]"
	}
	return "[secret " + strconv.Itoa(n) + " digits]"
}

// String returns a placeholder with the number of digits held, never the digits.
func (s Secret) String() string { return s.masked() }

// GoString returns the placeholder for the %#v verb.
func (s Secret) GoString() string { return "card.Secret" + s.masked() }

// Format writes the placeholder for every verb and flag, so that %v, %s, %q,
// %x, %d and %#v never reveal a digit.
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		_, _ = f.Write([]byte(s.GoString()))
		return
	}
	_, _ = f.Write([]byte(s.masked()))
}

// LogValue implements [slog.LogValuer] with the placeholder.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.masked()) }

// MarshalJSON encodes the placeholder as a JSON string.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.masked()) }

// MarshalText returns the placeholder.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.masked()), nil }
