package capture

import (
	"reflect"
	"testing"

	"github.com/tonewall/tonewall/controller/card"
)

// TestCancelAndHangUp cancels and hangs up in every state.
func TestCancelAndHangUp(t *testing.T) {
	states := []struct {
		name     string
		s        *script
		state    State
		disarmed bool // whether Cancel must disarm
	}{
		{"idle", newScript(), StateIdle, false},
		{"arming", newScript().add(Start{Today: day}), StateArming, true},
		{"collecting", newScript().begin().keys("42", SourceInband), StateCollecting, true},
		{"collecting later field", newScript().begin().keys(visaPAN+"#"+"12", SourceInband), StateCollecting, true},
	}
	for _, st := range states {
		for _, end := range []struct {
			in      Input
			outcome Outcome
			state   State
		}{
			{Cancel{}, OutcomeCancelled, StateCancelled},
			{HangUp{}, OutcomeCallerHungUp, StateHungUp},
		} {
			t.Run(st.name+"/"+end.in.String(), func(t *testing.T) {
				r := newRun(t, Config{}).feed(st.s)
				if r.e.State() != st.state {
					t.Fatalf("state %s, want %s", r.e.State(), st.state)
				}
				r.step(end.in)
				r.expectOutcome(end.outcome)
				wantDisarm := st.disarmed && end.outcome == OutcomeCancelled
				if got := r.count(isDisarm) == 1; got != wantDisarm {
					t.Errorf("disarm %v, want %v: %v", got, wantDisarm, r.last)
				}
				if r.e.State() != end.state || len(r.timers) != 0 {
					t.Errorf("state %s, running timers %v", r.e.State(), r.timers)
				}
				if snap := r.e.Snapshot(); snap.Outcome != end.outcome || snap.Field != "" {
					t.Errorf("snapshot %+v", snap)
				}
				for _, in := range []Input{Cancel{}, HangUp{}, Armed{}, Start{Today: day}, Digit{Digit: '4'}, RestartField{Field: FieldPAN}} {
					if got := r.e.Step(in); got != nil {
						t.Errorf("after %s, %v gave %v", end.state, in, got)
					}
				}
			})
		}
	}
	// After the card is handed over, hang-up and cancel change nothing.
	r := newRun(t, Config{}).feed(newScript().begin().keys(visaPAN+"#"+expiry+visaCVV, SourceInband))
	if r.e.Step(HangUp{}) != nil || r.e.Step(Cancel{}) != nil || r.e.State() != StateComplete {
		t.Errorf("terminal state changed")
	}
}

func TestSnapshot(t *testing.T) {
	r := newRun(t, Config{Fields: []Field{FieldPAN, FieldExpiry, FieldCVV, FieldPostcode}})
	r.feed(newScript().begin().keys("4242424242424241#", SourceInband).keys(visaPAN, SourceInband))
	snap := r.e.Snapshot()
	want := Snapshot{
		State: StateCollecting,
		Field: FieldPAN,
		Fields: []FieldStatus{
			{Field: FieldPAN, Digits: 16, Attempts: 1, Reason: card.ReasonLuhn},
			{Field: FieldExpiry}, {Field: FieldCVV}, {Field: FieldPostcode},
		},
		Required: []Field{FieldPAN, FieldExpiry, FieldCVV, FieldPostcode},
	}
	if !reflect.DeepEqual(snap, want) {
		t.Fatalf("partial PAN snapshot\n got %+v\nwant %+v", snap, want)
	}
	r.feed(newScript().keys("#", SourceInband))
	snap = r.e.Snapshot()
	if snap.Brand != card.Visa || snap.Last4 != "4242" || snap.Field != FieldExpiry || !snap.Fields[0].Valid || !snap.Fields[0].Done {
		t.Errorf("after PAN: %+v", snap)
	}
	if got := r.e.String(); got != "capture(collecting expiry)" {
		t.Errorf("String() = %q", got)
	}
}
