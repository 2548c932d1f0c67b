package card

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func reason(err error) Reason {
	var ve *ValidationError
	if errors.As(err, &ve) {
		return ve.Reason
	}
	return ReasonNone
}

func TestValidatePAN(t *testing.T) {
	tests := []struct {
		name     string
		pan      string
		accepted []Brand
		brand    Brand
		reason   Reason
	}{
		{"visa", "4242424242424242", nil, Visa, ReasonNone},
		{"visa 13", "4222222222222", nil, Visa, ReasonNone},
		{"visa 19", "4000000000000000006", nil, Visa, ReasonNone},
		{"amex", "378282246310005", nil, Amex, ReasonNone},
		{"diners 14", "36227206271667", nil, Diners, ReasonNone},
		{"unionpay 19", "6205500000000000004", nil, UnionPay, ReasonNone},
		{"maestro 12", "501800000009", nil, Maestro, ReasonNone},
		{"empty", "", nil, Unknown, ReasonTooShort},
		{"eleven", "42424242424", nil, Unknown, ReasonTooShort},
		{"twenty", "42424242424242424242", nil, Unknown, ReasonTooLong},
		{"not digits", "4242-4242-4242-4242", nil, Unknown, ReasonNotDigits},
		{"unknown brand", "9999999999999995", nil, Unknown, ReasonUnknownBrand},
		{"visa 15", "424242424242424", nil, Visa, ReasonLength},
		{"amex 16", "3782822463100052", nil, Amex, ReasonLength},
		{"mastercard 19", "5555555555554444000", nil, Mastercard, ReasonLength},
		{"luhn", "4242424242424241", nil, Visa, ReasonLuhn},
		{"not accepted", "378282246310005", []Brand{Visa, Mastercard}, Amex, ReasonBrandNotAccepted},
		{"accepted", "5555555555554444", []Brand{Visa, Mastercard}, Mastercard, ReasonNone},
		{"luhn before acceptance", "378282246310006", []Brand{Visa}, Amex, ReasonLuhn},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := ValidatePAN([]byte(tt.pan), tt.accepted)
			if got := reason(err); got != tt.reason || (err == nil) != (tt.reason == ReasonNone) {
				t.Fatalf("reason %q (err %v), want %q", got, err, tt.reason)
			}
			if b != tt.brand {
				t.Errorf("brand %q, want %q", b, tt.brand)
			}
		})
	}
}

func TestValidateExpiry(t *testing.T) {
	today := time.Date(2026, time.December, 4, 15, 0, 0, 0, time.UTC)
	tests := []struct {
		mmyy   string
		today  time.Time
		month  int
		year   int
		reason Reason
	}{
		{"1226", today, 12, 2026, ReasonNone}, // the current month is still valid
		{"1126", today, 0, 0, ReasonExpired},
		{"0127", today, 1, 2027, ReasonNone},
		{"1230", today, 12, 2030, ReasonNone},
		{"1246", today, 12, 2046, ReasonNone}, // exactly twenty years
		{"0147", today, 0, 0, ReasonTooFarAhead},
		{"0199", today, 0, 0, ReasonExpired}, // read as 1999
		{"0076", today, 0, 0, ReasonBadMonth},
		{"1330", today, 0, 0, ReasonBadMonth},
		{"9930", today, 0, 0, ReasonBadMonth},
		{"123", today, 0, 0, ReasonTooShort},
		{"", today, 0, 0, ReasonTooShort},
		{"12300", today, 0, 0, ReasonTooLong},
		{"12/3", today, 0, 0, ReasonNotDigits},
		// Year nearest today across a century boundary.
		{"0301", time.Date(2098, 6, 1, 0, 0, 0, 0, time.UTC), 3, 2101, ReasonNone},
		{"0697", time.Date(2101, 6, 1, 0, 0, 0, 0, time.UTC), 0, 0, ReasonExpired},
		// The date is read in today's own location.
		{"1126", time.Date(2026, 11, 30, 23, 0, 0, 0, time.FixedZone("x", -5*3600)), 11, 2026, ReasonNone},
	}
	for _, tt := range tests {
		m, y, err := ValidateExpiry([]byte(tt.mmyy), tt.today)
		if got := reason(err); got != tt.reason || (err == nil) != (tt.reason == ReasonNone) {
			t.Errorf("ValidateExpiry(%q, %s): reason %q (err %v), want %q", tt.mmyy, tt.today.Format(time.DateOnly), got, err, tt.reason)
			continue
		}
		if m != tt.month || y != tt.year {
			t.Errorf("ValidateExpiry(%q): %d/%d, want %d/%d", tt.mmyy, m, y, tt.month, tt.year)
		}
	}
}

func TestValidateCVV(t *testing.T) {
	tests := []struct {
		cvv    string
		brand  Brand
		reason Reason
	}{
		{"123", Visa, ReasonNone},
		{"1234", Visa, ReasonCVVLength},
		{"1234", Amex, ReasonNone},
		{"123", Amex, ReasonCVVLength},
		{"12", Mastercard, ReasonCVVLength},
		{"", Discover, ReasonCVVLength},
		{"12a", Visa, ReasonNotDigits},
		{"123", Unknown, ReasonNone},
	}
	for _, tt := range tests {
		if got := reason(ValidateCVV([]byte(tt.cvv), tt.brand)); got != tt.reason {
			t.Errorf("ValidateCVV(%q, %s) = %q, want %q", tt.cvv, tt.brand, got, tt.reason)
		}
	}
}

func TestValidatePostcode(t *testing.T) {
	tests := []struct {
		pc       string
		min, max int
		reason   Reason
	}{
		{"12345", 3, 10, ReasonNone},
		{"123", 3, 10, ReasonNone},
		{"12", 3, 10, ReasonPostcode},
		{"12345678901", 3, 10, ReasonPostcode},
		{"1234567890", 3, 10, ReasonNone},
		{"SW1A", 3, 10, ReasonNotDigits},
	}
	for _, tt := range tests {
		if got := reason(ValidatePostcode([]byte(tt.pc), tt.min, tt.max)); got != tt.reason {
			t.Errorf("ValidatePostcode(%q, %d, %d) = %q, want %q", tt.pc, tt.min, tt.max, got, tt.reason)
		}
	}
}

// TestValidationErrorMessages checks that no message contains a digit and
// that every error is a *ValidationError reachable with errors.As, also when
// wrapped.
func TestValidationErrorMessages(t *testing.T) {
	reasons := []Reason{ReasonTooShort, ReasonTooLong, ReasonLength, ReasonLuhn, ReasonUnknownBrand,
		ReasonBrandNotAccepted, ReasonBadMonth, ReasonExpired, ReasonTooFarAhead, ReasonCVVLength,
		ReasonPostcode, ReasonNotDigits, Reason("something_new")}
	for _, r := range reasons {
		for _, f := range []string{FieldPAN, FieldExpiry, FieldCVV, FieldPostcode} {
			err := error(&ValidationError{Field: f, Reason: r})
			if strings.ContainsAny(err.Error(), "0123456789") {
				t.Errorf("message %q contains a digit", err)
			}
			wrapped := errors.Join(errors.New("capture"), err)
			var ve *ValidationError
			if !errors.As(wrapped, &ve) || ve.Reason != r || ve.Field != f {
				t.Errorf("errors.As on %v failed", wrapped)
			}
		}
	}
	// Errors produced from real card numbers carry no digit either.
	_, err := ValidatePAN([]byte("4242424242424241"), nil)
	_, _, err2 := ValidateExpiry([]byte("0147"), time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC))
	for _, e := range []error{err, err2, ValidateCVV([]byte("12345"), Visa)} {
		if e == nil || strings.ContainsAny(e.Error(), "0123456789") {
			t.Errorf("error %v: nil or contains a digit", e)
		}
	}
}
