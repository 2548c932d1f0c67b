package card

import (
	"errors"
	"fmt"
	"strings"
)

// Brand is a card network.
type Brand string

// The brands Tonewall recognises. Unknown is the zero value.
const (
	Visa       Brand = "visa"
	Mastercard Brand = "mastercard"
	Amex       Brand = "amex"
	Discover   Brand = "discover"
	JCB        Brand = "jcb"
	Diners     Brand = "diners"
	Maestro    Brand = "maestro"
	UnionPay   Brand = "unionpay"
	Unknown    Brand = ""
)

// Brands lists every known brand, in a fixed order.
func Brands() []Brand {
	return []Brand{Visa, Mastercard, Amex, Discover, JCB, Diners, Maestro, UnionPay}
}

// ErrUnknownBrand is returned (wrapped) by ParseBrand for a name that is not a
// known brand.
var ErrUnknownBrand = errors.New("card: unknown brand")

// MaxPANLength is the longest PAN any brand issues (ISO/IEC 7812-1).
const MaxPANLength = 19

// MinPANLength is the shortest PAN any known brand issues (Maestro).
const MinPANLength = 12

// iinRange is a range of issuer identification numbers: the first digits
// digits of a PAN, read as a number, lie in [lo, hi].
type iinRange struct {
	digits int
	lo, hi int
	brand  Brand
}

// iinRanges are the ranges the networks publish. DetectBrand picks the
// matching range with the most digits, so a specific range (Discover's
// 622126–622925) wins over a broader one (UnionPay's 62), and Maestro's
// catch-all "6" loses to every other 6-series range. No two ranges with the
// same number of digits overlap (TestIINRangesDisjoint).
//
// Sources, as published by the networks and collected in ISO/IEC 7812
// registrations and the IIN table of Wikipedia's "Payment card number":
var iinRanges = []iinRange{
	// Visa: major industry identifier 4 belongs to Visa (Visa Core Rules;
	// ISO/IEC 7812-1 MII 4).
	{1, 4, 4, Visa},

	// Mastercard: 51–55, and the 2-series 222100–272099 Mastercard announced
	// in 2014 and opened in 2017 (Mastercard Rules, "2-series BIN expansion").
	{2, 51, 55, Mastercard},
	{4, 2221, 2720, Mastercard},

	// American Express: 34 and 37 (American Express Global Merchant Policy,
	// card identification: "begins with 34 or 37").
	{2, 34, 34, Amex},
	{2, 37, 37, Amex},

	// Discover: 6011, 644–649, 65, and 622126–622925 co-branded with China
	// UnionPay (Discover Global Network IIN Range Table).
	{4, 6011, 6011, Discover},
	{3, 644, 649, Discover},
	{2, 65, 65, Discover},
	{6, 622126, 622925, Discover},

	// JCB: 3528–3589 (JCB International; also listed in Discover's IIN Range
	// Table, which carries JCB in the United States).
	{4, 3528, 3589, JCB},

	// Diners Club International: 300–305, 3095, 36, 38–39 (Discover Global
	// Network IIN Range Table, Diners Club International section).
	{3, 300, 305, Diners},
	{4, 3095, 3095, Diners},
	{2, 36, 36, Diners},
	{2, 38, 39, Diners},

	// Maestro (Mastercard): 50 and 56–58, the named 6-series ranges 6304,
	// 6759 and 6761–6763 (Mastercard Maestro BIN list; Wikipedia's IIN table:
	// 5018, 5020, 5038, 5893, 6304, 6759, 6761–6763), and the rest of the
	// 6 series that no other network claims (Wikipedia's older "50, 56–69").
	{2, 50, 50, Maestro},
	{2, 56, 58, Maestro},
	{4, 6304, 6304, Maestro},
	{4, 6759, 6759, Maestro},
	{4, 6761, 6763, Maestro},
	{1, 6, 6, Maestro},

	// China UnionPay: 62 outside Discover's co-branded 622126–622925, and the
	// 81 series (UnionPay International BIN table).
	{2, 62, 62, UnionPay},
	{2, 81, 81, UnionPay},
}

// DetectBrand returns the brand whose published IIN range matches the
// leading digits of pan, or Unknown. When ranges overlap the most specific
// (longest) prefix wins. A prefix too short to match a range does not match it,
// so DetectBrand("22") is Unknown while DetectBrand("2221") is Mastercard.
// pan must be ASCII digits; any other byte among the digits examined gives
// Unknown.
func DetectBrand(pan []byte) Brand {
	// prefixes[i] is the number formed by the first i+1 digits.
	var prefixes [6]int
	n := 0
	for n < len(prefixes) && n < len(pan) {
		c := pan[n]
		if c < '0' || c > '9' {
			return Unknown
		}
		v := int(c - '0')
		if n > 0 {
			v += prefixes[n-1] * 10
		}
		prefixes[n] = v
		n++
	}
	best, bestDigits := Unknown, 0
	for _, r := range iinRanges {
		if r.digits > n || r.digits <= bestDigits {
			continue
		}
		if p := prefixes[r.digits-1]; p >= r.lo && p <= r.hi {
			best, bestDigits = r.brand, r.digits
		}
	}
	return best
}

// Lengths returns the PAN lengths the brand issues, shortest first. Unknown
// has none.
func (b Brand) Lengths() []int {
	switch b {
	case Visa:
		return []int{13, 16, 19}
	case Mastercard:
		return []int{16}
	case Amex:
		return []int{15}
	case Discover, JCB, UnionPay:
		return []int{16, 17, 18, 19}
	case Diners:
		return []int{14, 15, 16, 17, 18, 19}
	case Maestro:
		return []int{12, 13, 14, 15, 16, 17, 18, 19}
	}
	return nil
}

// MaxLength returns the longest PAN the brand issues, or MaxPANLength for
// Unknown.
func (b Brand) MaxLength() int {
	l := b.Lengths()
	if len(l) == 0 {
		return MaxPANLength
	}
	return l[len(l)-1]
}

// validLength reports whether n is one of the brand's PAN lengths.
func (b Brand) validLength(n int) bool {
	for _, l := range b.Lengths() {
		if l == n {
			return true
		}
	}
	return false
}

// CVVLength returns the length of the card security code: 4 for American
// Express, 3 for every other brand (and for Unknown).
func (b Brand) CVVLength() int {
	if b == Amex {
		return 4
	}
	return 3
}

// Known reports whether b is one of the recognised brands.
func (b Brand) Known() bool {
	for _, k := range Brands() {
		if b == k {
			return true
		}
	}
	return false
}

// String returns the brand's name, or "unknown".
func (b Brand) String() string {
	if b == Unknown {
		return "unknown"
	}
	return string(b)
}

// ParseBrand returns the brand with the given name, ignoring case and
// surrounding space. The error wraps ErrUnknownBrand.
func ParseBrand(s string) (Brand, error) {
	b := Brand(strings.ToLower(strings.TrimSpace(s)))
	if b != Unknown && b.Known() {
		return b, nil
	}
	// A misplaced card number must not end up in an error message.
	if strings.ContainsAny(s, "0123456789") {
		return Unknown, fmt.Errorf("%w (name withheld: it contains digits)", ErrUnknownBrand)
	}
	return Unknown, fmt.Errorf("%w %q", ErrUnknownBrand, s)
}
