package capture

import "testing"

// BenchmarkEngineCard measures one full capture: Start, Armed and the 16 + 4 + 3
// digits of a Mastercard, expiry and CVV (each field completing by length),
// then the caller's Wipe.
func BenchmarkEngineCard(b *testing.B) {
	s := newScript().begin().keys(mcPAN+expiry+visaCVV, SourceInband)
	b.ReportAllocs()
	for b.Loop() {
		e, err := New(Config{})
		if err != nil {
			b.Fatal(err)
		}
		var ready *CardReady
		for _, in := range s.in {
			for _, a := range e.Step(in) {
				if c, ok := a.(CardReady); ok {
					ready = &c
				}
			}
		}
		if ready == nil {
			b.Fatal("no card")
		}
		ready.Card.Wipe()
	}
}
