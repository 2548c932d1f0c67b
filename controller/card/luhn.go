package card

// Luhn reports whether digits, a string of ASCII digits, passes the Luhn
// (mod 10) check of ISO/IEC 7812-1. It returns false for an empty input or
// for any byte that is not '0'..'9'.
func Luhn(digits []byte) bool {
	if len(digits) == 0 {
		return false
	}
	sum := 0
	double := false
	for i := len(digits) - 1; i >= 0; i-- {
		c := digits[i]
		if c < '0' || c > '9' {
			return false
		}
		d := int(c - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}
