package card

// ContainsPAN reports whether b holds something that looks like a card
// number: a run of 12 to 19 digits, possibly grouped by single spaces or
// dashes, that passes the Luhn check. UUIDs (8-4-4-4-12 hex digits) are
// skipped, so call and capture ids never trip it. It is the
// defence-in-depth check run on what leaves the controller: webhooks,
// progress events, forwarded requests.
func ContainsPAN(b []byte) bool {
	var run [MaxPANLength]byte
	defer clear(run[:])
	for i := 0; i < len(b); {
		if n := uuidAt(b, i); n > 0 {
			i += n
			continue
		}
		if !isDigit(b[i]) {
			i++
			continue
		}
		n, j := 0, i
		for j < len(b) {
			if isDigit(b[j]) {
				if n < len(run) {
					run[n] = b[j]
				}
				n++
				j++
				continue
			}
			if (b[j] == ' ' || b[j] == '-') && j+1 < len(b) && isDigit(b[j+1]) {
				j++
				continue
			}
			break
		}
		if n >= MinPANLength && n <= MaxPANLength && Luhn(run[:n]) {
			return true
		}
		i = j
	}
	return false
}

// uuidAt returns the length of a UUID starting at i (36), or 0.
func uuidAt(b []byte, i int) int {
	const n = 36
	if i+n > len(b) || (i > 0 && isHex(b[i-1])) || (i+n < len(b) && isHex(b[i+n])) {
		return 0
	}
	for k := 0; k < n; k++ {
		c := b[i+k]
		switch k {
		case 8, 13, 18, 23:
			if c != '-' {
				return 0
			}
		default:
			if !isHex(c) {
				return 0
			}
		}
	}
	return n
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isHex(c byte) bool {
	return isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}
