package capture

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/tonewall/tonewall/controller/card"
)

// day is the date every test capture starts on.
var day = time.Date(2026, time.December, 4, 10, 0, 0, 0, time.UTC)

// keyGap is the time between two scripted key presses: longer than any
// duplicate window, shorter than any inter-digit timeout.
const keyGap = 300 * time.Millisecond

// fire is a test-only input: the runner turns it into a TimerFired for the
// timer's current generation, or for an earlier one when stale is set.
type fire struct {
	timer Timer
	stale bool
}

func (fire) isInput() {}

func (f fire) String() string { return fmt.Sprintf("fire(%s stale=%v)", f.timer, f.stale) }

// script builds a list of inputs with a running clock.
type script struct {
	in  []Input
	now time.Time
}

func newScript() *script { return &script{now: day} }

func (s *script) add(in ...Input) *script {
	s.in = append(s.in, in...)
	return s
}

// begin adds Start and Armed.
func (s *script) begin() *script { return s.add(Start{Today: day}, Armed{}) }

// keys adds one key press per byte, keyGap apart, from source src.
func (s *script) keys(k string, src Source) *script {
	for i := range len(k) {
		s.now = s.now.Add(keyGap)
		s.in = append(s.in, Digit{Digit: k[i], Source: src, At: s.now})
	}
	return s
}

// at adds one key press at offset d from the last key press, without moving
// the clock.
func (s *script) at(k byte, src Source, d time.Duration) *script {
	return s.add(Digit{Digit: k, Source: src, At: s.now.Add(d)})
}

func (s *script) timer(t Timer) *script { return s.add(fire{timer: t}) }
func (s *script) stale(t Timer) *script { return s.add(fire{timer: t, stale: true}) }

// run is a capture driven the way the session code drives it: it keeps the
// timers the actions ask for and records every action.
type run struct {
	tb      testing.TB
	e       *Engine
	timers  map[Timer]uint64   // running generation per timer
	gens    map[Timer][]uint64 // every generation handed out
	all     []Action
	last    []Action
	perStep [][]Action
}

func newRun(tb testing.TB, cfg Config) *run {
	tb.Helper()
	e, err := New(cfg)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	r := &run{tb: tb, e: e, timers: map[Timer]uint64{}, gens: map[Timer][]uint64{}}
	tb.Cleanup(func() {
		if c := r.card(); c != nil {
			c.Wipe()
		}
	})
	return r
}

// step feeds one input, translating fire inputs, and records the actions.
func (r *run) step(in Input) []Action {
	r.tb.Helper()
	if f, ok := in.(fire); ok {
		gen := r.timers[f.timer]
		if f.stale {
			gen = 0
			if g := r.gens[f.timer]; len(g) > 1 {
				gen = g[len(g)-2]
			}
		}
		in = TimerFired{Timer: f.timer, Gen: gen}
		if !f.stale {
			delete(r.timers, f.timer) // it fired, so it is no longer running
		}
	}
	acts := r.e.Step(in)
	for _, a := range acts {
		switch a := a.(type) {
		case StartTimer:
			r.timers[a.Timer] = a.Gen
			r.gens[a.Timer] = append(r.gens[a.Timer], a.Gen)
		case StopTimer:
			delete(r.timers, a.Timer)
		}
	}
	r.all = append(r.all, acts...)
	r.last = acts
	r.perStep = append(r.perStep, acts)
	return acts
}

func (r *run) feed(s *script) *run {
	r.tb.Helper()
	for _, in := range s.in {
		r.step(in)
	}
	return r
}

// finished returns the Finished action, if any.
func (r *run) finished() (Finished, bool) {
	for _, a := range r.all {
		if f, ok := a.(Finished); ok {
			return f, true
		}
	}
	return Finished{}, false
}

// card returns the card from CardReady, or nil.
func (r *run) card() *card.Card {
	for _, a := range r.all {
		if c, ok := a.(CardReady); ok {
			return c.Card
		}
	}
	return nil
}

// prompts returns every prompt as "field kind[ reason]".
func (r *run) prompts() []string {
	var p []string
	for _, a := range r.all {
		if pr, ok := a.(Prompt); ok {
			s := string(pr.Field) + " " + string(pr.Kind)
			if pr.Reason != "" {
				s += " " + string(pr.Reason)
			}
			p = append(p, s)
		}
	}
	return p
}

// events returns the progress events of the given type.
func (r *run) events(t EventType) []Event {
	var ev []Event
	for _, a := range r.all {
		if p, ok := a.(Progress); ok && p.Event.Type == t {
			ev = append(ev, p.Event)
		}
	}
	return ev
}

// count returns how many actions satisfy match.
func (r *run) count(match func(Action) bool) int {
	n := 0
	for _, a := range r.all {
		if match(a) {
			n++
		}
	}
	return n
}

func isDisarm(a Action) bool { _, ok := a.(Disarm); return ok }

// status returns the snapshot status of field f.
func (r *run) status(f Field) FieldStatus {
	for _, s := range r.e.Snapshot().Fields {
		if s.Field == f {
			return s
		}
	}
	r.tb.Fatalf("no field %q in snapshot", f)
	return FieldStatus{}
}

// expectCard checks the card handed over.
func (r *run) expectCard(brand card.Brand, last4, pan, expiry, cvv string) {
	r.tb.Helper()
	c := r.card()
	if c == nil {
		r.tb.Fatalf("no CardReady; prompts %v, finished %v", r.prompts(), r.all[len(r.all)-1])
	}
	if c.Brand != brand || c.Last4 != last4 {
		r.tb.Errorf("card %v, want %s %s", c, brand, last4)
	}
	if string(c.PAN.Bytes()) != pan || string(c.Expiry.Bytes()) != expiry || string(c.CVV.Bytes()) != cvv {
		r.tb.Errorf("card contents differ from what was keyed (lengths %d %d %d)", c.PAN.Len(), c.Expiry.Len(), c.CVV.Len())
	}
}

// expectOutcome checks the terminal outcome and that Finished came last.
func (r *run) expectOutcome(o Outcome) {
	r.tb.Helper()
	f, ok := r.finished()
	if !ok {
		r.tb.Fatalf("not finished; state %s, prompts %v", r.e.State(), r.prompts())
	}
	if f.Outcome != o {
		r.tb.Fatalf("outcome %s (%s), want %s; prompts %v", f.Outcome, f.Reason, o, r.prompts())
	}
	if _, last := r.all[len(r.all)-1].(Finished); !last {
		r.tb.Errorf("Finished is not the last action")
	}
	if n := r.count(func(a Action) bool { _, ok := a.(Finished); return ok }); n != 1 {
		r.tb.Errorf("%d Finished actions", n)
	}
}

func (r *run) expectPrompts(want ...string) {
	r.tb.Helper()
	if got := r.prompts(); !slices.Equal(got, want) {
		r.tb.Errorf("prompts\n got %q\nwant %q", got, want)
	}
}
