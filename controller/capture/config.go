package capture

import (
	"errors"
	"fmt"
	"time"

	"github.com/tonewall/tonewall/controller/card"
)

// Defaults for the zero values of Config.
const (
	DefaultInterDigitTimeout = 5 * time.Second
	DefaultFieldTimeout      = 30 * time.Second
	DefaultMaxAttempts       = 3
	DefaultDuplicateWindow   = 150 * time.Millisecond
	DefaultPostcodeMin       = 3
	DefaultPostcodeMax       = 10

	// maxPostcode bounds PostcodeMax; no numeric postcode comes close.
	maxPostcode = 16
)

// DefaultFields is the field order used when Config.Fields is empty.
func DefaultFields() []Field { return []Field{FieldPAN, FieldExpiry, FieldCVV} }

// ErrConfig is wrapped by every error New returns for a bad Config.
var ErrConfig = errors.New("capture: invalid config")

// Config configures a capture. Zero values mean the defaults above.
type Config struct {
	// Fields lists the fields in the order they are asked for. PAN, expiry and
	// CVV are required, in any order; postcode is captured only if listed.
	Fields []Field
	// Accepted lists the accepted brands; empty accepts every known brand.
	Accepted []card.Brand
	// InterDigitTimeout is the longest wait between two digits of a field.
	InterDigitTimeout time.Duration
	// FieldTimeout is the longest time from a field's prompt to its completion.
	FieldTimeout time.Duration
	// MaxAttempts is the number of invalid or timed-out entries allowed per
	// field before the capture fails.
	MaxAttempts int
	// DuplicateWindow is how close in time two reports of the same digit from
	// different sources must be to count as one key press. Two presses of one
	// key inside the window, each heard by a different detector only, are
	// indistinguishable from one press heard twice and count once; the
	// customer then hears a retry prompt.
	DuplicateWindow time.Duration
	// PostcodeMin and PostcodeMax bound the postcode's length in digits.
	PostcodeMin, PostcodeMax int
}

// withDefaults returns c with every zero value replaced by its default. It is
// the one place defaults are filled in.
func (c Config) withDefaults() Config {
	if len(c.Fields) == 0 {
		c.Fields = DefaultFields()
	} else {
		c.Fields = append([]Field(nil), c.Fields...)
	}
	c.Accepted = append([]card.Brand(nil), c.Accepted...)
	if c.InterDigitTimeout == 0 {
		c.InterDigitTimeout = DefaultInterDigitTimeout
	}
	if c.FieldTimeout == 0 {
		c.FieldTimeout = DefaultFieldTimeout
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	if c.DuplicateWindow == 0 {
		c.DuplicateWindow = DefaultDuplicateWindow
	}
	if c.PostcodeMin == 0 {
		c.PostcodeMin = DefaultPostcodeMin
	}
	if c.PostcodeMax == 0 {
		c.PostcodeMax = DefaultPostcodeMax
	}
	return c
}

// validate checks a Config whose defaults are filled in.
func (c Config) validate() error {
	seen := make(map[Field]bool, len(c.Fields))
	for _, f := range c.Fields {
		if !f.known() {
			return fmt.Errorf("%w: unknown field %q", ErrConfig, f)
		}
		if seen[f] {
			return fmt.Errorf("%w: field %q listed twice", ErrConfig, f)
		}
		seen[f] = true
	}
	for _, f := range []Field{FieldPAN, FieldExpiry, FieldCVV} {
		if !seen[f] {
			return fmt.Errorf("%w: required field %q missing", ErrConfig, f)
		}
	}
	for _, b := range c.Accepted {
		if !b.Known() {
			return fmt.Errorf("%w: unknown brand %q in Accepted", ErrConfig, b)
		}
	}
	switch {
	case c.InterDigitTimeout < 0:
		return fmt.Errorf("%w: negative InterDigitTimeout", ErrConfig)
	case c.FieldTimeout < 0:
		return fmt.Errorf("%w: negative FieldTimeout", ErrConfig)
	case c.MaxAttempts < 0:
		return fmt.Errorf("%w: negative MaxAttempts", ErrConfig)
	case c.DuplicateWindow < 0:
		return fmt.Errorf("%w: negative DuplicateWindow", ErrConfig)
	case c.PostcodeMin < 1 || c.PostcodeMax < c.PostcodeMin || c.PostcodeMax > maxPostcode:
		return fmt.Errorf("%w: postcode length must satisfy 1 <= PostcodeMin (%d) <= PostcodeMax (%d) <= %d",
			ErrConfig, c.PostcodeMin, c.PostcodeMax, maxPostcode)
	}
	return nil
}
