package card

import (
	"fmt"
	"testing"
)

func testCard(tb testing.TB) *Card {
	tb.Helper()
	return &Card{
		PAN:      secretOf(tb, "378282246310005"),
		Expiry:   secretOf(tb, "1230"),
		CVV:      secretOf(tb, "1234"),
		Postcode: secretOf(tb, "90210"),
		Brand:    Amex,
		Last4:    "0005",
		ExpMonth: 12,
		ExpYear:  2030,
	}
}

func TestCardNeverFormats(t *testing.T) {
	c := testCard(t)
	type holder struct {
		C *Card
		V Card
	}
	values := map[string]any{
		"*Card":            c,
		"Card":             *c,
		"holder":           holder{c, *c},
		"slice":            []*Card{c},
		"map":              map[string]Card{"c": *c},
		"card without pan": Card{Brand: Visa},
	}
	for name, v := range values {
		for how, out := range leakOutputs(t, v) {
			// The last four ("0005") and brand are allowed; the rest is not.
			assertNoLeak(t, name+" "+how, out, "37828224631", "1230", "1234", "90210", "2030")
		}
	}
	// The documented gap: a Card reached through an unexported field may show
	// the expiry month and year, but its secrets print as addresses. Addresses
	// may contain any short run of digits, so only the PAN is looked for.
	type hidden struct {
		p *Card
		v Card
	}
	for how, out := range leakOutputs(t, hidden{c, *c}) {
		assertNoLeak(t, "unexported Card "+how, out, "37828224631")
	}

	if got, want := c.String(), "[card amex last4 0005]"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if got, want := fmt.Sprintf("%#v", c), "card.Card{Brand:amex, Last4:0005}"; got != want {
		t.Errorf("%%#v = %q, want %q", got, want)
	}
	if b, _ := c.MarshalJSON(); string(b) != `{"brand":"amex","last4":"0005"}` {
		t.Errorf("MarshalJSON = %s", b)
	}
}

func TestCardWipe(t *testing.T) {
	c := testCard(t)
	arrays := [][]byte{backing(c.PAN), backing(c.Expiry), backing(c.CVV), backing(c.Postcode)}
	c.Wipe()
	for i, a := range arrays {
		if !allZero(a) {
			t.Errorf("secret %d not zeroed", i)
		}
	}
	if c.ExpMonth != 0 || c.ExpYear != 0 || c.PAN.Len() != 0 {
		t.Errorf("expiry or PAN left after Wipe")
	}
	if c.Brand != Amex || c.Last4 != "0005" {
		t.Errorf("Wipe removed brand or last four")
	}
	c.Wipe() // idempotent

	partial := &Card{PAN: secretOf(t, "4242424242424242")}
	partial.Wipe() // nil parts
	if partial.PAN.Len() != 0 {
		t.Errorf("partial card not wiped")
	}
	var none *Card
	none.Wipe()
}
