package card

import "time"

// Reason is a stable, machine-readable code for why a field was rejected.
// Reasons appear in events and API responses; they never contain card data.
type Reason string

// The validation reasons.
const (
	ReasonNone             Reason = ""
	ReasonTooShort         Reason = "too_short"
	ReasonTooLong          Reason = "too_long"
	ReasonLength           Reason = "bad_length"
	ReasonLuhn             Reason = "luhn"
	ReasonUnknownBrand     Reason = "unknown_brand"
	ReasonBrandNotAccepted Reason = "brand_not_accepted"
	ReasonBadMonth         Reason = "bad_month"
	ReasonExpired          Reason = "expired"
	ReasonTooFarAhead      Reason = "too_far_ahead"
	ReasonCVVLength        Reason = "cvv_length"
	ReasonPostcode         Reason = "postcode"
	ReasonNotDigits        Reason = "not_digits"
)

// describe returns an English description of r. None of them contains a digit.
func (r Reason) describe() string {
	switch r {
	case ReasonTooShort:
		return "too short"
	case ReasonTooLong:
		return "too long"
	case ReasonLength:
		return "wrong length for the card brand"
	case ReasonLuhn:
		return "check digit does not match"
	case ReasonUnknownBrand:
		return "card brand not recognised"
	case ReasonBrandNotAccepted:
		return "card brand not accepted"
	case ReasonBadMonth:
		return "month out of range"
	case ReasonExpired:
		return "card has expired"
	case ReasonTooFarAhead:
		return "expiry more than twenty years ahead"
	case ReasonCVVLength:
		return "wrong security code length for the card brand"
	case ReasonPostcode:
		return "postcode length out of range"
	case ReasonNotDigits:
		return "contains a character that is not a digit"
	}
	return "invalid"
}

// The field names used in ValidationError.
const (
	FieldPAN      = "pan"
	FieldExpiry   = "expiry"
	FieldCVV      = "cvv"
	FieldPostcode = "postcode"
)

// ValidationError reports a rejected field. Its message names the field and the
// reason and never contains a digit. Match it with errors.As.
type ValidationError struct {
	Field  string
	Reason Reason
}

// Error implements error.
func (e *ValidationError) Error() string {
	return "card: invalid " + e.Field + ": " + e.Reason.describe()
}

func invalid(field string, r Reason) *ValidationError {
	return &ValidationError{Field: field, Reason: r}
}

// allDigits reports whether every byte of b is an ASCII digit.
func allDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// ValidatePAN checks a card number: digits only, a length the detected brand
// issues, the Luhn check digit, and a brand in accepted (an empty accepted
// list accepts every known brand). It returns the detected brand, also
// alongside an error when the brand is known, so that a "brand not accepted"
// can say which brand it was. Errors are *ValidationError.
func ValidatePAN(pan []byte, accepted []Brand) (Brand, error) {
	if !allDigits(pan) {
		return Unknown, invalid(FieldPAN, ReasonNotDigits)
	}
	if len(pan) < MinPANLength {
		return Unknown, invalid(FieldPAN, ReasonTooShort)
	}
	if len(pan) > MaxPANLength {
		return Unknown, invalid(FieldPAN, ReasonTooLong)
	}
	b := DetectBrand(pan)
	if b == Unknown {
		return Unknown, invalid(FieldPAN, ReasonUnknownBrand)
	}
	if !b.validLength(len(pan)) {
		return b, invalid(FieldPAN, ReasonLength)
	}
	if !Luhn(pan) {
		return b, invalid(FieldPAN, ReasonLuhn)
	}
	if len(accepted) > 0 && !contains(accepted, b) {
		return b, invalid(FieldPAN, ReasonBrandNotAccepted)
	}
	return b, nil
}

func contains(list []Brand, b Brand) bool {
	for _, x := range list {
		if x == b {
			return true
		}
	}
	return false
}

// MaxYearsAhead is how far in the future an expiry date may lie.
const MaxYearsAhead = 20

// ValidateExpiry checks an expiry date keyed as MMYY against today's date in
// today's location. A card is valid through the end of its expiry month, so
// the current month is accepted. The two-digit year is read as the year
// nearest to today's. It returns the month (1–12) and the four-digit year.
// Errors are *ValidationError; month and year are zero on error.
func ValidateExpiry(mmyy []byte, today time.Time) (month, year int, err error) {
	switch {
	case !allDigits(mmyy):
		return 0, 0, invalid(FieldExpiry, ReasonNotDigits)
	case len(mmyy) < 4:
		return 0, 0, invalid(FieldExpiry, ReasonTooShort)
	case len(mmyy) > 4:
		return 0, 0, invalid(FieldExpiry, ReasonTooLong)
	}
	m := int(mmyy[0]-'0')*10 + int(mmyy[1]-'0')
	yy := int(mmyy[2]-'0')*10 + int(mmyy[3]-'0')
	if m < 1 || m > 12 {
		return 0, 0, invalid(FieldExpiry, ReasonBadMonth)
	}
	ty, tm, _ := today.Date()
	y := ty/100*100 + yy
	switch {
	case y-ty > 50:
		y -= 100
	case ty-y > 50:
		y += 100
	}
	months := (y*12 + m) - (ty*12 + int(tm))
	if months < 0 {
		return 0, 0, invalid(FieldExpiry, ReasonExpired)
	}
	if months > MaxYearsAhead*12 {
		return 0, 0, invalid(FieldExpiry, ReasonTooFarAhead)
	}
	return m, y, nil
}

// ValidateCVV checks a card security code: digits only and exactly
// b.CVVLength() of them. Errors are *ValidationError.
func ValidateCVV(cvv []byte, b Brand) error {
	if !allDigits(cvv) {
		return invalid(FieldCVV, ReasonNotDigits)
	}
	if len(cvv) != b.CVVLength() {
		return invalid(FieldCVV, ReasonCVVLength)
	}
	return nil
}

// ValidatePostcode checks a numeric postcode: digits only, between min and
// max digits long. A length out of range gives ReasonPostcode. Errors are
// *ValidationError.
func ValidatePostcode(pc []byte, min, max int) error {
	if !allDigits(pc) {
		return invalid(FieldPostcode, ReasonNotDigits)
	}
	if len(pc) < min || len(pc) > max {
		return invalid(FieldPostcode, ReasonPostcode)
	}
	return nil
}
