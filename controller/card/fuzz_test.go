package card

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
)

// luhnReference is a second, independent Luhn implementation: it doubles
// from the left when the length is even.
func luhnReference(s []byte) bool {
	if len(s) == 0 {
		return false
	}
	sum := 0
	for i, c := range s {
		if c < '0' || c > '9' {
			return false
		}
		d := int(c - '0')
		if (len(s)-i)%2 == 0 {
			d = [10]int{0, 2, 4, 6, 8, 1, 3, 5, 7, 9}[d]
		}
		sum += d
	}
	return sum%10 == 0
}

func FuzzLuhn(f *testing.F) {
	for _, s := range []string{"", "0", "79927398713", "4242424242424242", "4242424242424241", "42a2"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got := Luhn(b)
		if want := luhnReference(b); got != want {
			t.Fatalf("Luhn = %v, reference %v", got, want)
		}
		if !got || len(b) == 0 {
			return
		}
		// Luhn catches every single-digit substitution.
		c := append([]byte(nil), b...)
		c[0] = '0' + (c[0]-'0'+1)%10
		if Luhn(c) {
			t.Fatalf("single-digit change not detected")
		}
	})
}

// detectReference matches the ranges through strconv instead of arithmetic.
func detectReference(pan []byte) Brand {
	best, bestDigits := Unknown, 0
	for _, r := range iinRanges {
		if len(pan) < r.digits || r.digits <= bestDigits {
			continue
		}
		p := string(pan[:r.digits])
		if strings.TrimLeft(p, "0123456789") != "" {
			continue
		}
		if v, err := strconv.Atoi(p); err == nil && v >= r.lo && v <= r.hi {
			best, bestDigits = r.brand, r.digits
		}
	}
	return best
}

func FuzzDetectBrand(f *testing.F) {
	for _, s := range []string{"", "4", "2221", "2720", "622126", "62", "6011", "3528", "6759649826438453", "x"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, pan []byte) {
		got := DetectBrand(pan)
		if got != Unknown && !got.Known() {
			t.Fatalf("DetectBrand returned unknown value %q", got)
		}
		if len(pan) > 6 && got != DetectBrand(pan[:6]) {
			t.Fatalf("brand depends on digits after the sixth")
		}
		n := min(len(pan), 6)
		if strings.Trim(string(pan[:n]), "0123456789") == "" {
			if want := detectReference(pan); got != want {
				t.Fatalf("DetectBrand = %q, reference %q", got, want)
			}
		} else if got != Unknown {
			t.Fatalf("non-digit prefix gave %q", got)
		}
	})
}

func FuzzValidatePAN(f *testing.F) {
	for _, s := range []string{"4242424242424242", "378282246310005", "4242424242424241", "", "6200000000000005", "501800000009", "42424242424242424242"} {
		f.Add([]byte(s), uint8(0))
	}
	f.Fuzz(func(t *testing.T, pan []byte, acceptMask uint8) {
		var accepted []Brand
		for i, b := range Brands() {
			if acceptMask&(1<<i) != 0 {
				accepted = append(accepted, b)
			}
		}
		b, err := ValidatePAN(pan, accepted)
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) || ve.Field != FieldPAN {
				t.Fatalf("error %v is not a PAN ValidationError", err)
			}
			if strings.ContainsAny(err.Error(), "0123456789") {
				t.Fatalf("error message contains a digit: %q", err)
			}
			return
		}
		if !b.Known() || b != DetectBrand(pan) || !Luhn(pan) || !b.validLength(len(pan)) {
			t.Fatalf("accepted an invalid PAN: brand %q, length %d", b, len(pan))
		}
		if len(accepted) > 0 && !contains(accepted, b) {
			t.Fatalf("accepted brand %q not in the accepted list", b)
		}
	})
}

func FuzzValidateExpiry(f *testing.F) {
	for _, s := range []string{"1226", "1126", "0147", "1330", "0000", "12/3", ""} {
		f.Add([]byte(s), int16(2026), uint8(12))
	}
	f.Add([]byte("0301"), int16(2098), uint8(6))
	f.Fuzz(func(t *testing.T, mmyy []byte, y int16, m uint8) {
		today := time.Date(int(y), time.Month(m%12+1), 15, 12, 0, 0, 0, time.UTC)
		month, year, err := ValidateExpiry(mmyy, today)
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) || ve.Field != FieldExpiry || month != 0 || year != 0 {
				t.Fatalf("bad error result: %v, %d/%d", err, month, year)
			}
			return
		}
		if month < 1 || month > 12 || year%100 != int(mmyy[2]-'0')*10+int(mmyy[3]-'0') {
			t.Fatalf("bad month/year %d/%d", month, year)
		}
		got := year*12 + month
		now := today.Year()*12 + int(today.Month())
		if got < now || got > now+MaxYearsAhead*12 {
			t.Fatalf("expiry %d/%d accepted on %s", month, year, today.Format(time.DateOnly))
		}
	})
}
