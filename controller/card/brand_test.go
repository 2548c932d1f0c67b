package card

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// pad extends an IIN prefix with zeros to a full-length number.
func pad(prefix string, n int) []byte {
	return []byte(prefix + strings.Repeat("0", max(0, n-len(prefix))))
}

// TestDetectBrandRanges checks both ends of every published range and the
// numbers just outside them. Sources are the same as in iinRanges.
func TestDetectBrandRanges(t *testing.T) {
	tests := []struct {
		prefix string
		want   Brand
		source string
	}{
		// Visa: MII 4 (Visa Core Rules).
		{"4", Visa, "Visa: 4"},
		{"40", Visa, "Visa: 4"},
		{"49", Visa, "Visa: 4"},
		// Mastercard 51–55 and 2221–2720 (Mastercard Rules, 2-series).
		{"50", Maestro, "Maestro: 50, below Mastercard 51"},
		{"51", Mastercard, "Mastercard: 51"},
		{"55", Mastercard, "Mastercard: 55"},
		{"56", Maestro, "Maestro: 56, above Mastercard 55"},
		{"2220", Unknown, "just below Mastercard 2221"},
		{"2221", Mastercard, "Mastercard: 2221"},
		{"2720", Mastercard, "Mastercard: 2720"},
		{"2721", Unknown, "just above Mastercard 2720"},
		{"22", Unknown, "too short to tell"},
		// Amex 34, 37 (American Express Global Merchant Policy).
		{"33", Unknown, "below Amex 34"},
		{"34", Amex, "Amex: 34"},
		{"35", Unknown, "between Amex 34 and 37, below JCB 3528"},
		{"37", Amex, "Amex: 37"},
		// Discover 6011, 644–649, 65, 622126–622925 (Discover IIN Range Table).
		{"6010", Maestro, "below Discover 6011: Maestro's rest of 6"},
		{"6011", Discover, "Discover: 6011"},
		{"6012", Maestro, "above Discover 6011: Maestro's rest of 6"},
		{"643", Maestro, "below Discover 644"},
		{"644", Discover, "Discover: 644"},
		{"649", Discover, "Discover: 649"},
		{"65", Discover, "Discover: 65"},
		{"622125", UnionPay, "UnionPay 62, just below Discover 622126"},
		{"622126", Discover, "Discover: 622126"},
		{"622925", Discover, "Discover: 622925"},
		{"622926", UnionPay, "UnionPay 62, just above Discover 622925"},
		{"62212", UnionPay, "UnionPay 62: too short for Discover's six-digit range"},
		// JCB 3528–3589 (JCB International).
		{"3527", Unknown, "just below JCB 3528"},
		{"3528", JCB, "JCB: 3528"},
		{"3589", JCB, "JCB: 3589"},
		{"3590", Unknown, "just above JCB 3589"},
		// Diners 300–305, 3095, 36, 38–39 (Discover IIN Range Table, Diners section).
		{"299", Unknown, "below Diners 300"},
		{"300", Diners, "Diners: 300"},
		{"305", Diners, "Diners: 305"},
		{"306", Unknown, "above Diners 305"},
		{"3094", Unknown, "just below Diners 3095"},
		{"3095", Diners, "Diners: 3095"},
		{"3096", Unknown, "just above Diners 3095"},
		{"36", Diners, "Diners: 36"},
		{"38", Diners, "Diners: 38"},
		{"39", Diners, "Diners: 39"},
		// Maestro 50, 56–58, 6304, 6759, 6761–6763, rest of 6 (Mastercard Maestro).
		{"58", Maestro, "Maestro: 58"},
		{"59", Unknown, "above Maestro 58"},
		{"6304", Maestro, "Maestro: 6304"},
		{"6759", Maestro, "Maestro: 6759"},
		{"6761", Maestro, "Maestro: 6761"},
		{"6763", Maestro, "Maestro: 6763"},
		{"6", Maestro, "Maestro: rest of 6"},
		{"69", Maestro, "Maestro: rest of 6"},
		// UnionPay 62, 81 (UnionPay International).
		{"62", UnionPay, "UnionPay: 62"},
		{"80", Unknown, "below UnionPay 81"},
		{"81", UnionPay, "UnionPay: 81"},
		{"82", Unknown, "above UnionPay 81"},
		// Nothing else.
		{"", Unknown, "empty"},
		{"1", Unknown, "MII 1 (airlines)"},
		{"0", Unknown, "MII 0"},
		{"9", Unknown, "MII 9"},
		{"4x", Unknown, "a non-digit among the leading digits"},
		{"x4", Unknown, "not a digit"},
	}
	for _, tt := range tests {
		if got := DetectBrand([]byte(tt.prefix)); got != tt.want {
			t.Errorf("DetectBrand(%q) = %q, want %q (%s)", tt.prefix, got, tt.want, tt.source)
		}
		// A full-length number with the same prefix has the same brand.
		if !strings.Contains(tt.prefix, "x") {
			if got := DetectBrand(pad(tt.prefix, 16)); got != tt.want {
				t.Errorf("DetectBrand(%q padded) = %q, want %q", tt.prefix, got, tt.want)
			}
		}
	}
}

// TestKnownTestCards uses the providers' published test card numbers.
func TestKnownTestCards(t *testing.T) {
	tests := []struct {
		pan    string
		want   Brand
		source string
	}{
		{"4242424242424242", Visa, "Stripe"},
		{"4000000000000002", Visa, "Stripe (decline)"},
		{"5555555555554444", Mastercard, "Stripe"},
		{"2223003122003222", Mastercard, "Stripe (2-series)"},
		{"378282246310005", Amex, "Stripe"},
		{"6011111111111117", Discover, "Stripe"},
		{"3566002020360505", JCB, "Stripe"},
		{"36227206271667", Diners, "Stripe (14 digits)"},
		{"6200000000000005", UnionPay, "Stripe"},
		{"4111111111111111", Visa, "Adyen"},
		{"5200000000002235", Mastercard, "Worldpay"},
		{"4000000000002701", Visa, "Worldpay"},
		{"6759649826438453", Maestro, "Maestro UK test card"},
	}
	for _, tt := range tests {
		pan := []byte(tt.pan)
		if got := DetectBrand(pan); got != tt.want {
			t.Errorf("%s card %s...: brand %q, want %q", tt.source, tt.pan[:6], got, tt.want)
		}
		if !Luhn(pan) {
			t.Errorf("%s card %s...: Luhn false", tt.source, tt.pan[:6])
		}
		b, err := ValidatePAN(pan, nil)
		if err != nil || b != tt.want {
			t.Errorf("%s card %s...: ValidatePAN = %q, %v; want %q, nil", tt.source, tt.pan[:6], b, err, tt.want)
		}
	}
}

// TestIINRangesDisjoint checks that ranges of the same specificity never
// overlap, so "most specific wins" always has a single answer.
func TestIINRangesDisjoint(t *testing.T) {
	for i, a := range iinRanges {
		if a.lo > a.hi {
			t.Errorf("range %d: lo %d > hi %d", i, a.lo, a.hi)
		}
		for j, b := range iinRanges[i+1:] {
			if a.digits == b.digits && a.lo <= b.hi && b.lo <= a.hi {
				t.Errorf("ranges %d and %d overlap: %v %v", i, i+1+j, a, b)
			}
		}
	}
}

func TestBrandLengthsAndCVV(t *testing.T) {
	tests := []struct {
		b       Brand
		lengths []int
		cvv     int
	}{
		{Visa, []int{13, 16, 19}, 3},
		{Mastercard, []int{16}, 3},
		{Amex, []int{15}, 4},
		{Discover, []int{16, 17, 18, 19}, 3},
		{JCB, []int{16, 17, 18, 19}, 3},
		{Diners, []int{14, 15, 16, 17, 18, 19}, 3},
		{Maestro, []int{12, 13, 14, 15, 16, 17, 18, 19}, 3},
		{UnionPay, []int{16, 17, 18, 19}, 3},
		{Unknown, nil, 3},
	}
	for _, tt := range tests {
		if got := tt.b.Lengths(); !slices.Equal(got, tt.lengths) {
			t.Errorf("%s.Lengths() = %v, want %v", tt.b, got, tt.lengths)
		}
		if got := tt.b.CVVLength(); got != tt.cvv {
			t.Errorf("%s.CVVLength() = %d, want %d", tt.b, got, tt.cvv)
		}
	}
	if got := Unknown.MaxLength(); got != MaxPANLength {
		t.Errorf("Unknown.MaxLength() = %d", got)
	}
	if got := Amex.MaxLength(); got != 15 {
		t.Errorf("Amex.MaxLength() = %d", got)
	}
}

func TestParseBrand(t *testing.T) {
	for _, b := range Brands() {
		got, err := ParseBrand(" " + strings.ToUpper(string(b)) + " ")
		if err != nil || got != b {
			t.Errorf("ParseBrand(%q) = %q, %v", b, got, err)
		}
	}
	for _, s := range []string{"", "unknown", "visa-electron", "4242424242424242"} {
		b, err := ParseBrand(s)
		if !errors.Is(err, ErrUnknownBrand) || b != Unknown {
			t.Errorf("ParseBrand(%q) = %q, %v; want ErrUnknownBrand", s, b, err)
		}
		if err != nil && strings.ContainsAny(err.Error(), "0123456789") {
			t.Errorf("ParseBrand(%q) error %q contains a digit", s, err)
		}
	}
}

func TestLuhn(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"", false},
		{"0", true},
		{"00", true},
		{"18", true},
		{"59", true},
		{"79927398713", true},
		{"79927398710", false},
		{"4242424242424242", true},
		{"4242424242424241", false},
		{"378282246310005", true},
		{"4242 4242 4242 4242", false},
		{"42424242424242a2", false},
		{"\x00", false},
	}
	for _, tt := range tests {
		if got := Luhn([]byte(tt.in)); got != tt.want {
			t.Errorf("Luhn(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}
