package card

import "testing"

func TestContainsPAN(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"4242424242424242", true},
		{`{"ref":"4242 4242 4242 4242"}`, true},
		{"pan=4242-4242-4242-4242;", true},
		{"378282246310005", true},
		{"x6011111111111117y", true},
		{"4242424242424241", false},                          // fails Luhn
		{"424242424241", false},                              // 12 digits, fails Luhn
		{"1796398946142737000", false},                       // 19 digits, fails Luhn
		{"12345678901234567890123", false},                   // longer than any PAN
		{"call 1ba9e5fb-4cd9-46f9-84dd-424242424242", false}, // UUID with an all-digit group
		{"00000000-0000-4000-8000-000000000000", false},
		{"4242 4242  4242 4242", false}, // two separators break the run
		{"", false},
		{"expiry 0731 cvv 982", false},
	}
	for _, tt := range tests {
		if got := ContainsPAN([]byte(tt.in)); got != tt.want {
			t.Errorf("ContainsPAN(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func FuzzContainsPAN(f *testing.F) {
	f.Add([]byte("4242424242424242"))
	f.Add([]byte("1ba9e5fb-4cd9-46f9-84dd-424242424242"))
	f.Fuzz(func(t *testing.T, b []byte) {
		got := ContainsPAN(b)
		// A Luhn-valid PAN anywhere as a stand-alone run is always found.
		if len(b) >= MinPANLength && len(b) <= MaxPANLength && Luhn(b) && !got {
			t.Fatalf("missed %q", b)
		}
	})
}
