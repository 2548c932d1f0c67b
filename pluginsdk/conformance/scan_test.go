package conformance

import "testing"

func TestScanTextCVC(t *testing.T) {
	c := []Canary{{PAN: "4242424242424242", CVC: "737"}}
	tests := []struct {
		line string
		leak bool
	}{
		{`{"cvc":"737"}`, true},
		{"cvc=737 declined", true},
		{"card 4242424242424242", true},
		{"card 4242 4242 4242 4242", true},
		{`{"@timestamp":"2026-12-04T17:49:12.737+00:00"}`, false}, // milliseconds of a time
		{"took 737ms", false},
		{"amount 17370", false},
		{"ending 4242", false},
	}
	for _, tt := range tests {
		if got := len(ScanText("test", tt.line, c, true)) > 0; got != tt.leak {
			t.Errorf("ScanText(%q) leak = %v, want %v", tt.line, got, tt.leak)
		}
	}
}
