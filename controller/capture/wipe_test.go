package capture

import (
	"testing"
)

// backing returns the whole backing array of every field buffer, so a test
// can check that wiping zeroed all of it.
func backing(e *Engine) map[Field][]byte {
	m := map[Field][]byte{}
	for _, f := range e.fields {
		b := f.buf.Bytes()
		m[f.field] = b[:cap(b)]
	}
	return m
}

func zero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// assertWiped checks that the engine holds no digit anywhere.
func assertWiped(tb testing.TB, e *Engine, arrays map[Field][]byte) {
	tb.Helper()
	for f, a := range arrays {
		if !zero(a) {
			tb.Errorf("%s buffer not zeroed", f)
		}
	}
	for _, f := range e.fields {
		if f.buf.Len() != 0 {
			tb.Errorf("%s buffer not empty", f.field)
		}
	}
	if *e.sens != (sensitive{}) {
		tb.Errorf("recent key presses or expiry not cleared")
	}
}

func TestWipeOnEveryEnd(t *testing.T) {
	tests := []struct {
		name    string
		s       *script
		outcome Outcome
	}{
		{"cancel mid PAN", newScript().begin().keys("424242424242", SourceInband).add(Cancel{}), OutcomeCancelled},
		{"cancel mid CVV", newScript().begin().keys(visaPAN+"#"+expiry+"12", SourceInband).add(Cancel{}), OutcomeCancelled},
		{"hang-up mid expiry", newScript().begin().keys(visaPAN+"#"+"12", SourceRTP).add(HangUp{}), OutcomeCallerHungUp},
		{"hang-up with postcode", newScript().begin().keys(visaPAN+"#"+expiry+visaCVV+"902", SourceRTP).add(HangUp{}), OutcomeCallerHungUp},
		{"attempts exhausted", newScript().begin().keys(visaPAN+"#"+expiry+"1#1#1#", SourceInband), OutcomeAttemptsExhausted},
		{"arming failed", newScript().add(Start{Today: day}, ArmFailed{Reason: "x"}), OutcomeArmingFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRun(t, Config{Fields: []Field{FieldPAN, FieldExpiry, FieldCVV, FieldPostcode}})
			arrays := backing(r.e)
			r.feed(tt.s)
			r.expectOutcome(tt.outcome)
			assertWiped(t, r.e, arrays)
		})
	}
}

// TestWipeOnRetry checks that a rejected entry, a '*' and an agent restart
// each zero the field at once.
func TestWipeOnRetry(t *testing.T) {
	r := newRun(t, Config{})
	arrays := backing(r.e)
	r.feed(newScript().begin().keys("4242424242424241#", SourceInband))
	if !zero(arrays[FieldPAN]) {
		t.Errorf("rejected PAN not zeroed")
	}
	r.feed(newScript().keys("4242*", SourceInband))
	if !zero(arrays[FieldPAN]) {
		t.Errorf("PAN not zeroed after *")
	}
	r.feed(newScript().keys(visaPAN+"#"+"12", SourceInband).add(RestartField{Field: FieldPAN}))
	if !zero(arrays[FieldPAN]) || !zero(arrays[FieldExpiry]) {
		t.Errorf("restarted PAN or abandoned expiry not zeroed")
	}
	r.feed(newScript().keys("42", SourceInband).timer(TimerInterDigit))
	if !zero(arrays[FieldPAN]) {
		t.Errorf("PAN not zeroed after a timeout")
	}
}

// TestCardOwnership checks that CardReady hands over the engine's own
// buffers, that the engine keeps nothing, and that the caller's Wipe zeroes
// every byte.
func TestCardOwnership(t *testing.T) {
	r := newRun(t, Config{Fields: []Field{FieldPAN, FieldExpiry, FieldCVV, FieldPostcode}})
	arrays := backing(r.e)
	r.feed(newScript().begin().keys(amexPAN+expiry+amexCVV+"90210#", SourceInband))
	r.expectOutcome(OutcomeCardReady)
	c := r.card()
	for _, f := range r.e.fields {
		if f.buf != nil {
			t.Errorf("engine still holds the %s buffer", f.field)
		}
	}
	if *r.e.sens != (sensitive{}) {
		t.Errorf("engine kept recent key presses or the expiry")
	}
	if zero(arrays[FieldPAN]) || &arrays[FieldPAN][0] != &c.PAN.Bytes()[:1][0] {
		t.Fatalf("card does not hold the engine's PAN buffer")
	}
	c.Wipe()
	for f, a := range arrays {
		if !zero(a) {
			t.Errorf("%s not zeroed by Card.Wipe", f)
		}
	}
	snap := r.e.Snapshot()
	if snap.Fields[0].Digits != 15 || snap.Last4 != "0005" {
		t.Errorf("snapshot after hand-over: %+v", snap)
	}
}
