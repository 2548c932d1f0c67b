package card

import (
	"encoding/json"
	"fmt"
	"log/slog"
)

// Card is a captured card on its way to a payment provider. Whoever holds it
// owns its secrets and must call Wipe when the payment call returns.
//
// A Card prints, logs and marshals as its brand and last four digits only.
// Like Secret, the formatting methods have value receivers so that a copy
// prints masked too. One case is beyond its reach: a *Card held in an
// unexported field and printed with a verb that does not suit pointers (%s,
// %q) makes fmt print the struct without calling its methods; the secrets
// then show as addresses but ExpMonth and ExpYear as numbers. Hold cards in
// exported fields, or not in structs that get printed.
type Card struct {
	PAN      *Secret
	Expiry   *Secret // MMYY as keyed
	CVV      *Secret
	Postcode *Secret // nil when not captured
	Brand    Brand
	Last4    string
	ExpMonth int
	ExpYear  int
}

// Wipe zeroes every secret and the expiry month and year. Brand and Last4,
// which are not secret, stay. Wipe is safe on a nil Card, on nil parts, and
// when called more than once.
func (c *Card) Wipe() {
	if c == nil {
		return
	}
	c.PAN.Wipe()
	c.Expiry.Wipe()
	c.CVV.Wipe()
	c.Postcode.Wipe()
	c.ExpMonth, c.ExpYear = 0, 0
}

func (c Card) masked() string {
	last4 := c.Last4
	if last4 == "" {
		last4 = "none"
	}
	return "[card " + c.Brand.String() + " last4 " + last4 + "]"
}

// String returns the brand and last four digits, e.g. "[card visa last4 4242]".
func (c Card) String() string { return c.masked() }

// GoString returns the masked form for the %#v verb.
func (c Card) GoString() string {
	return "card.Card{Brand:" + c.Brand.String() + ", Last4:" + c.Last4 + "}"
}

// Format writes the masked form for every verb and flag.
func (c Card) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		_, _ = f.Write([]byte(c.GoString()))
		return
	}
	_, _ = f.Write([]byte(c.masked()))
}

// LogValue implements [slog.LogValuer]: a group of brand and last4.
func (c Card) LogValue() slog.Value {
	return slog.GroupValue(slog.String("brand", c.Brand.String()), slog.String("last4", c.Last4))
}

// MarshalJSON encodes the brand and last four digits only.
func (c Card) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Brand Brand  `json:"brand"`
		Last4 string `json:"last4"`
	}{c.Brand, c.Last4})
}

// MarshalText returns the masked form.
func (c Card) MarshalText() ([]byte, error) { return []byte(c.masked()), nil }
