package pluginsdk

// redactPANs replaces card-number-like digits with "[redacted]": any run of
// 12 to 19 digits, optionally grouped by single spaces or dashes, that passes
// the Luhn check. It is a safety net for text a plugin produces (error
// messages, provider messages, log lines); it cannot recognise a CVC, so a
// plugin must still never log one.
func redactPANs(s string) string {
	if !hasDigits(s, 12) {
		return s
	}
	var out []byte
	last := 0
	for i := 0; i < len(s); {
		if !isDigit(s[i]) {
			i++
			continue
		}
		groups := digitGroups(s, i)
		end := groups[len(groups)-1].end
		for g := 0; g < len(groups); {
			h, ok := panSpan(s, groups[g:])
			if !ok {
				g++
				continue
			}
			out = append(out, s[last:groups[g].start]...)
			out = append(out, "[redacted]"...)
			last = groups[g+h].end
			g += h + 1
		}
		i = end
	}
	if out == nil {
		return s
	}
	return string(append(out, s[last:]...))
}

// span is a run of digits in a string.
type span struct{ start, end int }

// digitGroups reads the groups of digits starting at i that are joined by
// single ' ' or '-' separators.
func digitGroups(s string, i int) []span {
	var groups []span
	for {
		start := i
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		groups = append(groups, span{start, i})
		if i+1 < len(s) && (s[i] == ' ' || s[i] == '-') && isDigit(s[i+1]) {
			i++
			continue
		}
		return groups
	}
}

// panSpan looks for the longest card number made of groups[0..h]. Groups of
// 20 digits or more are never a card number.
func panSpan(s string, groups []span) (h int, ok bool) {
	total := 0
	last := -1
	for j, g := range groups {
		total += g.end - g.start
		if total > 19 {
			break
		}
		if total >= 12 && luhn(s[groups[0].start:g.end]) {
			last = j
		}
	}
	return last, last >= 0
}

// hasDigits reports whether s holds at least n digits, a cheap test that lets
// most strings through untouched.
func hasDigits(s string, n int) bool {
	for i := 0; i < len(s); i++ {
		if isDigit(s[i]) {
			if n--; n == 0 {
				return true
			}
		}
	}
	return false
}

// luhn checks the Luhn sum of the digits in s, skipping separators.
func luhn(s string) bool {
	sum, double := 0, false
	for i := len(s) - 1; i >= 0; i-- {
		c := s[i]
		if !isDigit(c) {
			continue
		}
		d := int(c - '0')
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

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
