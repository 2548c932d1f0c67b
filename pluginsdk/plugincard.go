package pluginsdk

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"strings"
)

// Helpers for provider plugins: checking and describing the card they get
// without printing it, wiping buffers, and deriving per-call idempotency keys.

// CardProblem checks the card before anything is sent and returns the
// normalised reason when it cannot be used. It never looks at more than it
// needs and never formats the digits.
func CardProblem(c *Card) Reason {
	if n := len(c.Number); n < 12 || n > 19 || !allDigits(c.Number) {
		return ReasonInvalidNumber
	}
	if c.ExpiryMonth < 1 || c.ExpiryMonth > 12 || c.ExpiryYear < 2000 || c.ExpiryYear > 2099 {
		return ReasonInvalidExpiryDate
	}
	if n := len(c.CVC); n != 0 && (n < 3 || n > 4 || !allDigits(c.CVC)) {
		return ReasonInvalidCVC
	}
	return ReasonNone
}

func allDigits(b []byte) bool {
	for _, d := range b {
		if d < '0' || d > '9' {
			return false
		}
	}
	return true
}

// Last4 returns the last four digits of a valid PAN.
func Last4(pan []byte) string {
	if len(pan) < 4 {
		return ""
	}
	return string(pan[len(pan)-4:])
}

// CardBrand names the card scheme from the IIN, using the controller's names.
func CardBrand(pan []byte) string {
	if len(pan) < 6 {
		return ""
	}
	p2 := int(pan[0]-'0')*10 + int(pan[1]-'0')
	p4 := p2*100 + int(pan[2]-'0')*10 + int(pan[3]-'0')
	p6 := p4*100 + int(pan[4]-'0')*10 + int(pan[5]-'0')
	switch {
	case pan[0] == '4':
		return "visa"
	case p2 >= 51 && p2 <= 55, p6 >= 222100 && p6 <= 272099:
		return "mastercard"
	case p2 == 34 || p2 == 37:
		return "amex"
	case p4 == 6011 || p2 == 65 || (p4 >= 6440 && p4 <= 6499):
		return "discover"
	case p4 >= 3528 && p4 <= 3589:
		return "jcb"
	case p2 == 36 || p2 == 38 || (p4 >= 3000 && p4 <= 3059):
		return "diners"
	case p2 == 62:
		return "unionpay"
	case p2 == 50 || (p2 >= 56 && p2 <= 69):
		return "maestro"
	}
	return ""
}

// AppendTwoDigits appends n as two ASCII digits.
func AppendTwoDigits(dst []byte, n int) []byte {
	return append(dst, byte('0'+n/10%10), byte('0'+n%10))
}

// AppendFourDigits appends n as four ASCII digits.
func AppendFourDigits(dst []byte, n int) []byte {
	return append(dst, byte('0'+n/1000%10), byte('0'+n/100%10), byte('0'+n/10%10), byte('0'+n%10))
}

// Wipe zeroes a buffer that held card data.
func Wipe(b []byte) {
	clear(b[:cap(b)])
}

var longDigits = regexp.MustCompile(`[0-9][0-9 -]{10,}[0-9]`)

// RedactCard removes anything that could be card data from a provider message:
// runs of twelve or more digits (optionally spaced) and the request's own
// CVC. The result is safe to return, log and display.
func RedactCard(msg string, c *Card) string {
	if msg == "" {
		return msg
	}
	msg = longDigits.ReplaceAllStringFunc(msg, func(s string) string {
		digits := 0
		for i := 0; i < len(s); i++ {
			if s[i] >= '0' && s[i] <= '9' {
				digits++
			}
		}
		if digits < 12 {
			return s
		}
		return "[redacted]"
	})
	if c != nil && len(c.CVC) >= 3 {
		msg = replaceDigitRun(msg, string(c.CVC))
	}
	return msg
}

// replaceDigitRun replaces whole runs of digits equal to token.
func replaceDigitRun(s, token string) string {
	var b strings.Builder
	i := 0
	for i < len(s) {
		if s[i] < '0' || s[i] > '9' {
			b.WriteByte(s[i])
			i++
			continue
		}
		j := i
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		if s[i:j] == token {
			b.WriteString("[redacted]")
		} else {
			b.WriteString(s[i:j])
		}
		i = j
	}
	return b.String()
}

// StepKey derives the idempotency key for one provider call from the host's
// key: the key plus a step suffix, hashed to fit when it would be too long.
func StepKey(key, suffix string, limit int) string {
	k := key + suffix
	if len(k) <= limit {
		return k
	}
	sum := sha256.Sum256([]byte(k))
	h := hex.EncodeToString(sum[:])
	if len(h) > limit {
		h = h[:limit]
	}
	return h
}
