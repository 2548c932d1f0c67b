package example

import (
	"bytes"
	"time"

	"github.com/tonewall/tonewall/pluginsdk"
)

// testCard is a documented PSP test card and what the example does with it.
type testCard struct {
	number []byte
	reason pluginsdk.Reason // ReasonNone approves
	code   string           // the provider code a real PSP would send
}

// testCards are the success and decline cards documented by Stripe, Adyen
// and Worldpay. Any other well-formed card is declined as a live card used in
// test mode, as Stripe does.
var testCards = []testCard{
	{number: []byte("4242424242424242")},
	{number: []byte("4111111111111111")},
	{number: []byte("5555555555554444")},
	{number: []byte("378282246310005")},
	{number: []byte("371449635398431")},
	{number: []byte("4000056655665556")},
	{number: []byte("5200828282828210")},
	{number: []byte("2223003122003222")},
	{number: []byte("6011111111111117")},
	{number: []byte("4000000000002701")},
	{number: []byte("5200000000002235")},
	{number: []byte("4000000000000002"), reason: pluginsdk.ReasonCardDeclined, code: "generic_decline"},
	{number: []byte("4000000000009995"), reason: pluginsdk.ReasonInsufficientFunds, code: "insufficient_funds"},
	{number: []byte("4000000000000069"), reason: pluginsdk.ReasonExpiredCard, code: "expired_card"},
	{number: []byte("4000000000000127"), reason: pluginsdk.ReasonIncorrectCVC, code: "incorrect_cvc"},
	{number: []byte("4000000000000119"), reason: pluginsdk.ReasonProcessingError, code: "processing_error"},
}

// lookupCard finds a test card without turning the number into a string.
func lookupCard(number []byte) (testCard, bool) {
	for _, c := range testCards {
		if bytes.Equal(c.number, number) {
			return c, true
		}
	}
	return testCard{}, false
}

// brand names a card's scheme from its leading digits, with the names the
// controller's card package uses.
func brand(n []byte) string {
	prefix := func(p string) bool { return bytes.HasPrefix(n, []byte(p)) }
	between := func(digits int, lo, hi int) bool {
		if len(n) < digits {
			return false
		}
		v := 0
		for _, c := range n[:digits] {
			v = v*10 + int(c-'0')
		}
		return v >= lo && v <= hi
	}
	switch {
	case prefix("4"):
		return "visa"
	case between(2, 51, 55), between(4, 2221, 2720):
		return "mastercard"
	case prefix("34"), prefix("37"):
		return "amex"
	case prefix("6011"), prefix("65"), between(3, 644, 649):
		return "discover"
	default:
		return "unknown"
	}
}

// checkCard validates a card the way a PSP's API does before it reaches an
// issuer. A non-empty reason means the request fails before sending.
func checkCard(c pluginsdk.Card, now time.Time) pluginsdk.Reason {
	if len(c.Number) < 12 || len(c.Number) > 19 || !allDigits(c.Number) || !luhn(c.Number) {
		return pluginsdk.ReasonInvalidNumber
	}
	if c.ExpiryMonth < 1 || c.ExpiryMonth > 12 || c.ExpiryYear < 2000 || c.ExpiryYear > 2099 {
		return pluginsdk.ReasonInvalidExpiryDate
	}
	if c.ExpiryYear < now.Year() || (c.ExpiryYear == now.Year() && c.ExpiryMonth < int(now.Month())) {
		return pluginsdk.ReasonInvalidExpiryDate
	}
	want := 3
	if brand(c.Number) == "amex" {
		want = 4
	}
	if len(c.CVC) != want || !allDigits(c.CVC) {
		return pluginsdk.ReasonInvalidCVC
	}
	return pluginsdk.ReasonNone
}

func allDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(b) > 0
}

func luhn(n []byte) bool {
	sum, double := 0, false
	for i := len(n) - 1; i >= 0; i-- {
		d := int(n[i] - '0')
		if double {
			if d *= 2; d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}
