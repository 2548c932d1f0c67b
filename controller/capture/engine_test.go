package capture

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tonewall/tonewall/controller/card"
)

// Canary cards (Stripe test numbers) used throughout.
const (
	visaPAN = "4242424242424242"
	amexPAN = "378282246310005"
	mcPAN   = "5555555555554444"
	expiry  = "1230"
	visaCVV = "123"
	amexCVV = "1234"
)

func TestNew(t *testing.T) {
	e, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	got := e.Config()
	want := Config{
		Fields:            []Field{FieldPAN, FieldExpiry, FieldCVV},
		InterDigitTimeout: 5 * time.Second,
		FieldTimeout:      30 * time.Second,
		MaxAttempts:       3,
		DuplicateWindow:   150 * time.Millisecond,
		PostcodeMin:       3,
		PostcodeMax:       10,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("defaults\n got %+v\nwant %+v", got, want)
	}
	if e.State() != StateIdle || e.Field() != "" {
		t.Errorf("new engine: %v", e)
	}

	bad := []Config{
		{Fields: []Field{FieldPAN, FieldExpiry}},
		{Fields: []Field{FieldPAN, FieldExpiry, FieldCVV, FieldCVV}},
		{Fields: []Field{FieldPAN, FieldExpiry, FieldCVV, "zip"}},
		{Accepted: []card.Brand{card.Visa, "diners-club"}},
		{Accepted: []card.Brand{card.Unknown}},
		{InterDigitTimeout: -1},
		{FieldTimeout: -time.Second},
		{MaxAttempts: -1},
		{DuplicateWindow: -1},
		{PostcodeMin: 5, PostcodeMax: 4},
		{PostcodeMin: -1},
		{PostcodeMax: 17},
	}
	for _, cfg := range bad {
		if _, err := New(cfg); err == nil || !strings.HasPrefix(err.Error(), ErrConfig.Error()) {
			t.Errorf("New(%+v) = %v, want ErrConfig", cfg, err)
		}
	}
	// Order is free; postcode optional.
	if _, err := New(Config{Fields: []Field{FieldCVV, FieldPostcode, FieldExpiry, FieldPAN}}); err != nil {
		t.Errorf("free order with postcode: %v", err)
	}
}

// TestActionSequences pins the exact actions of the main transitions: the
// contract the session code is written against.
func TestActionSequences(t *testing.T) {
	r := newRun(t, Config{})
	at := day
	key := func(k byte) []Action {
		at = at.Add(keyGap)
		return r.step(Digit{Digit: k, Source: SourceInband, At: at})
	}
	steps := []struct {
		name string
		do   func() []Action
		want []Action
	}{
		{"start", func() []Action { return r.step(Start{Today: day}) }, []Action{
			Arm{},
			Progress{Event{Type: EventStarted, Required: []Field{FieldPAN, FieldExpiry, FieldCVV}}},
		}},
		{"armed", func() []Action { return r.step(Armed{}) }, []Action{
			Progress{Event{Type: EventArmed}},
			Prompt{Field: FieldPAN, Kind: PromptEnter},
			StartTimer{Timer: TimerField, After: 30 * time.Second, Gen: 1},
			Progress{Event{Type: EventFieldPrompted, Field: FieldPAN, Attempt: 1}},
		}},
		{"first digit", func() []Action { return key('4') }, []Action{
			Progress{Event{Type: EventDigit, Field: FieldPAN, Digits: 1, Attempt: 1}},
			StartTimer{Timer: TimerInterDigit, After: 5 * time.Second, Gen: 2},
		}},
		{"15 more digits", func() []Action {
			for i := 1; i < 15; i++ {
				key(visaPAN[i])
			}
			return key(visaPAN[15])
		}, []Action{
			Progress{Event{Type: EventDigit, Field: FieldPAN, Digits: 16, Attempt: 1}},
			StartTimer{Timer: TimerInterDigit, After: 5 * time.Second, Gen: 17},
		}},
		{"hash ends the PAN", func() []Action { return key('#') }, []Action{
			StopTimer{Timer: TimerInterDigit},
			Progress{Event{Type: EventFieldValid, Field: FieldPAN, Digits: 16, Attempt: 1, Valid: true, Brand: card.Visa, Last4: "4242"}},
			Prompt{Field: FieldExpiry, Kind: PromptEnter},
			StartTimer{Timer: TimerField, After: 30 * time.Second, Gen: 18},
			Progress{Event{Type: EventFieldPrompted, Field: FieldExpiry, Attempt: 1}},
		}},
		{"expiry completes by length", func() []Action {
			key('1')
			key('2')
			key('3')
			return key('0')
		}, []Action{
			Progress{Event{Type: EventDigit, Field: FieldExpiry, Digits: 4, Attempt: 1}},
			StopTimer{Timer: TimerInterDigit},
			Progress{Event{Type: EventFieldValid, Field: FieldExpiry, Digits: 4, Attempt: 1, Valid: true}},
			Prompt{Field: FieldCVV, Kind: PromptEnter},
			StartTimer{Timer: TimerField, After: 30 * time.Second, Gen: 22},
			Progress{Event{Type: EventFieldPrompted, Field: FieldCVV, Attempt: 1}},
		}},
		{"bad CVV", func() []Action {
			key('1')
			return key('#')
		}, []Action{
			StopTimer{Timer: TimerInterDigit},
			Progress{Event{Type: EventFieldInvalid, Field: FieldCVV, Digits: 1, Attempt: 1, Reason: card.ReasonCVVLength}},
			Prompt{Field: FieldCVV, Kind: PromptRetry, Reason: card.ReasonCVVLength},
			StartTimer{Timer: TimerField, After: 30 * time.Second, Gen: 24},
		}},
		{"last CVV digit completes the card", func() []Action {
			key('1')
			key('2')
			return key('3')
		}, nil}, // checked below: it holds the card
	}
	for _, s := range steps {
		got := s.do()
		if s.want != nil && !reflect.DeepEqual(got, s.want) {
			t.Fatalf("%s:\n got %v\nwant %v", s.name, got, s.want)
		}
	}
	c := r.card()
	want := []Action{
		Progress{Event{Type: EventDigit, Field: FieldCVV, Digits: 3, Attempt: 2}},
		StopTimer{Timer: TimerInterDigit},
		Progress{Event{Type: EventFieldValid, Field: FieldCVV, Digits: 3, Attempt: 2, Valid: true}},
		StopTimer{Timer: TimerField},
		Prompt{Kind: PromptDone},
		Disarm{},
		CardReady{Card: c},
		Progress{Event{Type: EventCardComplete, Brand: card.Visa, Last4: "4242"}},
		Progress{Event{Type: EventFinished, Outcome: OutcomeCardReady}},
		Finished{Outcome: OutcomeCardReady},
	}
	if !reflect.DeepEqual(r.last, want) {
		t.Fatalf("card complete:\n got %v\nwant %v", r.last, want)
	}
	r.expectCard(card.Visa, "4242", visaPAN, expiry, visaCVV)
	if c.ExpMonth != 12 || c.ExpYear != 2030 {
		t.Errorf("expiry %d/%d", c.ExpMonth, c.ExpYear)
	}
	if r.e.State() != StateComplete {
		t.Errorf("state %s", r.e.State())
	}
	for _, in := range []Input{Cancel{}, HangUp{}, Start{Today: day}, Armed{}, Digit{Digit: '1', Source: SourceRTP}} {
		if got := r.e.Step(in); got != nil {
			t.Errorf("after complete, %v gave %v", in, got)
		}
	}
}

// TestFieldOrders runs the happy path in every order of the three required
// fields, with and without the optional postcode.
func TestFieldOrders(t *testing.T) {
	entry := map[Field]string{FieldPAN: visaPAN + "#", FieldExpiry: expiry, FieldCVV: visaCVV, FieldPostcode: "90210#"}
	var orders [][]Field
	var permute func(prefix, rest []Field)
	permute = func(prefix, rest []Field) {
		if len(rest) == 0 {
			orders = append(orders, prefix)
			return
		}
		for i := range rest {
			others := append(append([]Field(nil), rest[:i]...), rest[i+1:]...)
			permute(append(append([]Field(nil), prefix...), rest[i]), others)
		}
	}
	permute(nil, []Field{FieldPAN, FieldExpiry, FieldCVV})
	permute(nil, []Field{FieldPAN, FieldExpiry, FieldCVV, FieldPostcode})
	if len(orders) != 6+24 {
		t.Fatalf("%d orders", len(orders))
	}
	for _, order := range orders {
		name := strings.Trim(strings.Join(strings.Fields(strings.Trim(strings.ReplaceAll(
			strings.Join(toStrings(order), ","), ",", " "), " ")), "-"), "-")
		t.Run(name, func(t *testing.T) {
			s := newScript().begin()
			var prompts []string
			panSeen := false
			for _, f := range order {
				k := entry[f]
				if f == FieldCVV && !panSeen {
					k += "#" // before the PAN the brand, and so the CVV length, is unknown
				}
				panSeen = panSeen || f == FieldPAN
				s.keys(k, SourceRTP)
				prompts = append(prompts, string(f)+" enter")
			}
			r := newRun(t, Config{Fields: order}).feed(s)
			r.expectOutcome(OutcomeCardReady)
			r.expectCard(card.Visa, "4242", visaPAN, expiry, visaCVV)
			r.expectPrompts(append(prompts, " done")...)
			pc := r.card().Postcode
			if slices.Contains(order, FieldPostcode) != (pc != nil) || (pc != nil && string(pc.Bytes()) != "90210") {
				t.Errorf("postcode %v", pc)
			}
		})
	}
}

func toStrings(fs []Field) []string {
	s := make([]string, len(fs))
	for i, f := range fs {
		s[i] = string(f)
	}
	return s
}

// TestScripted covers every path with scripted inputs.
func TestScripted(t *testing.T) {
	type check func(t *testing.T, r *run)
	tests := []struct {
		name  string
		cfg   Config
		s     *script
		check check
	}{
		{"amex completes by length, four-digit CVV", Config{},
			newScript().begin().keys(amexPAN, SourceInband).keys(expiry, SourceInband).keys(amexCVV, SourceInband),
			func(t *testing.T, r *run) {
				r.expectOutcome(OutcomeCardReady)
				r.expectCard(card.Amex, "0005", amexPAN, expiry, amexCVV)
				r.expectPrompts("pan enter", "expiry enter", "cvv enter", " done")
			}},
		{"mastercard completes at sixteen", Config{},
			newScript().begin().keys(mcPAN, SourceInband).keys(expiry+visaCVV, SourceInband),
			func(t *testing.T, r *run) {
				r.expectOutcome(OutcomeCardReady)
				r.expectCard(card.Mastercard, "4444", mcPAN, expiry, visaCVV)
			}},
		{"unknown brand completes at nineteen and is rejected", Config{},
			newScript().begin().keys("9999999999999999999", SourceInband),
			func(t *testing.T, r *run) {
				r.expectPrompts("pan enter", "pan retry unknown_brand")
				if st := r.status(FieldPAN); st.Attempts != 1 || st.Digits != 0 || st.Reason != card.ReasonUnknownBrand {
					t.Errorf("status %+v", st)
				}
			}},
		{"star restarts the field without counting an attempt", Config{},
			newScript().begin().keys("4242*", SourceInband).keys(visaPAN+"#"+expiry, SourceInband).keys("1*123", SourceRTP),
			func(t *testing.T, r *run) {
				r.expectOutcome(OutcomeCardReady)
				r.expectCard(card.Visa, "4242", visaPAN, expiry, visaCVV)
				r.expectPrompts("pan enter", "pan restart", "expiry enter", "cvv enter", "cvv restart", " done")
				if ev := r.events(EventFieldValid); ev[0].Attempt != 1 || ev[2].Attempt != 1 {
					t.Errorf("attempts counted: %v", ev)
				}
				if n := len(r.events(EventFieldRestarted)); n != 2 {
					t.Errorf("%d restarted events", n)
				}
			}},
		{"hash early", Config{},
			newScript().begin().keys("424242#", SourceInband),
			func(t *testing.T, r *run) {
				r.expectPrompts("pan enter", "pan retry too_short")
				if st := r.status(FieldPAN); st.Attempts != 1 || st.Done {
					t.Errorf("status %+v", st)
				}
			}},
		{"hash on an empty field", Config{},
			newScript().begin().keys("#", SourceInband),
			func(t *testing.T, r *run) { r.expectPrompts("pan enter", "pan retry too_short") }},
		{"bad luhn then good", Config{},
			newScript().begin().keys("4242424242424241#", SourceInband).keys(visaPAN+"#"+expiry+visaCVV, SourceInband),
			func(t *testing.T, r *run) {
				r.expectOutcome(OutcomeCardReady)
				r.expectCard(card.Visa, "4242", visaPAN, expiry, visaCVV)
				r.expectPrompts("pan enter", "pan retry luhn", "expiry enter", "cvv enter", " done")
				inv := r.events(EventFieldInvalid)
				if len(inv) != 1 || inv[0].Last4 != "" || inv[0].Brand != card.Visa || inv[0].Attempt != 1 {
					t.Errorf("invalid event %+v", inv)
				}
			}},
		{"expired card", Config{},
			newScript().begin().keys(visaPAN+"#"+"1126", SourceInband),
			func(t *testing.T, r *run) { r.expectPrompts("pan enter", "expiry enter", "expiry retry expired") }},
		{"current month is valid", Config{},
			newScript().begin().keys(visaPAN+"#"+"1226"+visaCVV, SourceInband),
			func(t *testing.T, r *run) { r.expectOutcome(OutcomeCardReady) }},
		{"bad month", Config{},
			newScript().begin().keys(visaPAN+"#"+"1330", SourceInband),
			func(t *testing.T, r *run) { r.expectPrompts("pan enter", "expiry enter", "expiry retry bad_month") }},
		{"too far ahead", Config{},
			newScript().begin().keys(visaPAN+"#"+"0147", SourceInband),
			func(t *testing.T, r *run) { r.expectPrompts("pan enter", "expiry enter", "expiry retry too_far_ahead") }},
		{"amex needs four CVV digits", Config{},
			newScript().begin().keys(amexPAN+expiry+"123#"+amexCVV, SourceInband),
			func(t *testing.T, r *run) {
				r.expectPrompts("pan enter", "expiry enter", "cvv enter", "cvv retry cvv_length", " done")
				r.expectCard(card.Amex, "0005", amexPAN, expiry, amexCVV)
			}},
		{"visa CVV completes at three", Config{},
			newScript().begin().keys(visaPAN+"#"+expiry+"12#"+visaCVV, SourceInband),
			func(t *testing.T, r *run) {
				r.expectPrompts("pan enter", "expiry enter", "cvv enter", "cvv retry cvv_length", " done")
				r.expectCard(card.Visa, "4242", visaPAN, expiry, visaCVV)
			}},
		{"brand not accepted", Config{Accepted: []card.Brand{card.Visa, card.Mastercard}},
			newScript().begin().keys(amexPAN, SourceInband).keys(visaPAN+"#", SourceInband),
			func(t *testing.T, r *run) {
				r.expectPrompts("pan enter", "pan retry brand_not_accepted", "expiry enter")
				if inv := r.events(EventFieldInvalid); len(inv) != 1 || inv[0].Brand != card.Amex {
					t.Errorf("invalid events %+v", inv)
				}
			}},
		{"inter-digit timeout", Config{},
			newScript().begin().keys("4242", SourceInband).timer(TimerInterDigit),
			func(t *testing.T, r *run) {
				r.expectPrompts("pan enter", "pan timeout")
				to := r.events(EventTimeout)
				if len(to) != 1 || to[0].Timer != TimerInterDigit || to[0].Digits != 4 || to[0].Attempt != 1 {
					t.Errorf("timeout events %+v", to)
				}
				if st := r.status(FieldPAN); st.Attempts != 1 || !st.TimedOut || st.Digits != 0 {
					t.Errorf("status %+v", st)
				}
				if _, running := r.timers[TimerInterDigit]; running {
					t.Errorf("inter-digit timer still running")
				}
			}},
		{"field timeout", Config{},
			newScript().begin().timer(TimerField),
			func(t *testing.T, r *run) {
				r.expectPrompts("pan enter", "pan timeout")
				if to := r.events(EventTimeout); len(to) != 1 || to[0].Timer != TimerField {
					t.Errorf("timeout events %+v", to)
				}
				if _, running := r.timers[TimerField]; !running {
					t.Errorf("field timer not restarted")
				}
			}},
		{"field timeout mid-entry stops the inter-digit timer", Config{},
			newScript().begin().keys("42", SourceInband).timer(TimerField),
			func(t *testing.T, r *run) {
				if _, running := r.timers[TimerInterDigit]; running {
					t.Errorf("inter-digit timer still running")
				}
				r.expectPrompts("pan enter", "pan timeout")
			}},
		{"stale timers are ignored", Config{},
			newScript().begin().keys("42", SourceInband).stale(TimerInterDigit).stale(TimerField).
				add(TimerFired{Timer: TimerField, Gen: 0}, TimerFired{Timer: "bogus", Gen: 1}),
			func(t *testing.T, r *run) {
				for _, acts := range r.perStep[len(r.perStep)-4:] {
					if acts != nil {
						t.Errorf("stale timer gave %v", acts)
					}
				}
				r.expectPrompts("pan enter")
			}},
		{"inter-digit timer of a finished field is stale", Config{},
			newScript().begin().keys(visaPAN+"#", SourceInband).add(TimerFired{Timer: TimerInterDigit, Gen: 17}),
			func(t *testing.T, r *run) {
				if g := r.gens[TimerInterDigit]; g[len(g)-1] != 17 {
					t.Fatalf("last inter-digit generation %d", g[len(g)-1])
				}
				if r.last != nil {
					t.Errorf("old timer gave %v", r.last)
				}
				r.expectPrompts("pan enter", "expiry enter")
			}},
		{"attempts exhausted by invalid entries", Config{},
			newScript().begin().keys("4242424242424241#4242424242424241#4242424242424241#", SourceInband),
			func(t *testing.T, r *run) {
				r.expectOutcome(OutcomeAttemptsExhausted)
				r.expectPrompts("pan enter", "pan retry luhn", "pan retry luhn", "pan failed")
				f, _ := r.finished()
				if f.Reason != "pan: luhn" {
					t.Errorf("reason %q", f.Reason)
				}
				tail := r.all[len(r.all)-3:]
				if !isDisarm(tail[0]) || r.count(isDisarm) != 1 {
					t.Errorf("want Disarm before Finished: %v", tail)
				}
				if r.e.State() != StateFailed || len(r.timers) != 0 {
					t.Errorf("state %s, timers %v", r.e.State(), r.timers)
				}
			}},
		{"attempts exhausted by timeouts", Config{MaxAttempts: 2},
			newScript().begin().keys(visaPAN+"#", SourceInband).timer(TimerField).keys("1", SourceInband).timer(TimerInterDigit),
			func(t *testing.T, r *run) {
				r.expectOutcome(OutcomeAttemptsExhausted)
				r.expectPrompts("pan enter", "expiry enter", "expiry timeout", "expiry failed")
				if f, _ := r.finished(); f.Reason != "expiry: timeout" {
					t.Errorf("reason %q", f.Reason)
				}
			}},
		{"agent restarts a completed field", Config{},
			newScript().begin().keys(visaPAN+"#"+expiry, SourceInband).add(RestartField{Field: FieldPAN}).
				keys(mcPAN, SourceInband).keys(visaCVV, SourceInband),
			func(t *testing.T, r *run) {
				r.expectOutcome(OutcomeCardReady)
				r.expectCard(card.Mastercard, "4444", mcPAN, expiry, visaCVV)
				r.expectPrompts("pan enter", "expiry enter", "cvv enter", "pan restart", "cvv enter", " done")
			}},
		{"agent restarts the expiry while the CVV is half entered", Config{},
			newScript().begin().keys(visaPAN+"#"+expiry+"1", SourceInband).add(RestartField{Field: FieldExpiry}).
				keys("0131"+visaCVV, SourceInband),
			func(t *testing.T, r *run) {
				r.expectOutcome(OutcomeCardReady)
				r.expectCard(card.Visa, "4242", visaPAN, "0131", visaCVV)
				r.expectPrompts("pan enter", "expiry enter", "cvv enter", "expiry restart", "cvv enter", " done")
			}},
		{"agent restart of an unlisted field is ignored", Config{},
			newScript().begin().add(RestartField{Field: FieldPostcode}, RestartField{Field: "zip"}),
			func(t *testing.T, r *run) {
				if r.last != nil || r.perStep[len(r.perStep)-2] != nil {
					t.Errorf("restart of unlisted field gave actions")
				}
			}},
		{"restart before arming is ignored", Config{},
			newScript().add(Start{Today: day}, RestartField{Field: FieldPAN}),
			func(t *testing.T, r *run) {
				if r.last != nil || r.e.State() != StateArming {
					t.Errorf("got %v in %s", r.last, r.e.State())
				}
			}},
		{"PAN restarted to amex invalidates a three-digit CVV", Config{Fields: []Field{FieldCVV, FieldPAN, FieldExpiry}},
			newScript().begin().keys(visaCVV+"#", SourceInband).keys(amexPAN, SourceInband).keys(amexCVV+expiry, SourceInband),
			func(t *testing.T, r *run) {
				r.expectOutcome(OutcomeCardReady)
				r.expectCard(card.Amex, "0005", amexPAN, expiry, amexCVV)
				r.expectPrompts("cvv enter", "pan enter", "cvv retry cvv_length", "expiry enter", " done")
				if st := r.status(FieldCVV); st.Attempts != 1 {
					t.Errorf("cvv status %+v", st)
				}
			}},
		{"CVV first keeps a matching length", Config{Fields: []Field{FieldCVV, FieldPAN, FieldExpiry}},
			newScript().begin().keys(amexCVV, SourceInband).keys(amexPAN+expiry, SourceInband),
			func(t *testing.T, r *run) {
				r.expectCard(card.Amex, "0005", amexPAN, expiry, amexCVV)
				r.expectPrompts("cvv enter", "pan enter", "expiry enter", " done")
			}},
		{"digits during arming are ignored", Config{},
			newScript().add(Start{Today: day}).keys("4242", SourceInband).add(Armed{}).keys(visaPAN+"#"+expiry+visaCVV, SourceInband),
			func(t *testing.T, r *run) {
				for i := 1; i <= 4; i++ {
					if r.perStep[i] != nil {
						t.Errorf("digit while arming gave %v", r.perStep[i])
					}
				}
				r.expectCard(card.Visa, "4242", visaPAN, expiry, visaCVV)
			}},
		{"digits before start and other bytes are ignored", Config{},
			newScript().keys("42", SourceInband).begin().keys("A4x2 ", SourceInband),
			func(t *testing.T, r *run) {
				if st := r.status(FieldPAN); st.Digits != 2 {
					t.Errorf("status %+v", st)
				}
				if r.perStep[0] != nil || r.perStep[1] != nil {
					t.Errorf("digits in idle gave actions")
				}
			}},
		{"armed and arm-failed out of turn are ignored", Config{},
			newScript().add(Armed{}, ArmFailed{Reason: "x"}, Start{Today: day}, Start{Today: day}).add(Armed{}, Armed{}, ArmFailed{Reason: "late"}),
			func(t *testing.T, r *run) {
				for _, i := range []int{0, 1, 3, 5, 6} {
					if r.perStep[i] != nil {
						t.Errorf("step %d gave %v", i, r.perStep[i])
					}
				}
				if r.e.State() != StateCollecting {
					t.Errorf("state %s", r.e.State())
				}
			}},
		{"arming failure fails closed", Config{},
			newScript().add(Start{Today: day}, ArmFailed{Reason: "uuid_audio: -ERR No such channel!"}).keys("4242", SourceInband),
			func(t *testing.T, r *run) {
				if r.count(isDisarm) != 0 {
					t.Errorf("Disarm emitted on arming failure")
				}
				if f, _ := r.finished(); f.Outcome != OutcomeArmingFailed || f.Reason != "uuid_audio: -ERR No such channel!" {
					t.Errorf("finished %+v", f)
				}
				if r.e.State() != StateFailed || r.last != nil {
					t.Errorf("state %s, last %v", r.e.State(), r.last)
				}
			}},
		{"postcode too short then good", Config{Fields: []Field{FieldPAN, FieldExpiry, FieldCVV, FieldPostcode}, PostcodeMin: 4, PostcodeMax: 5},
			newScript().begin().keys(visaPAN+"#"+expiry+visaCVV+"123#"+"90210", SourceInband),
			func(t *testing.T, r *run) {
				r.expectPrompts("pan enter", "expiry enter", "cvv enter", "postcode enter", "postcode retry postcode", " done")
				if c := r.card(); c == nil || string(c.Postcode.Bytes()) != "90210" {
					t.Errorf("postcode not captured")
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRun(t, tt.cfg).feed(tt.s)
			tt.check(t, r)
		})
	}
}
