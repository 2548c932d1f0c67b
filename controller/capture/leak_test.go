package capture

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// canary is a planted card and the digit sequences that must never show.
type canary struct {
	name          string
	pan, exp, cvv string
	keys          func(*script) *script
}

// forbidden returns every sequence that must not appear: each five-digit
// window of the PAN (anything beyond the last four), the expiry and the CVV.
func (c canary) forbidden() []string {
	var f []string
	for i := 0; i+5 <= len(c.pan); i++ {
		f = append(f, c.pan[i:i+5])
	}
	return append(f, c.exp, c.cvv, hex.EncodeToString([]byte(c.pan)), hex.EncodeToString([]byte(c.pan[:len(c.pan)-4])))
}

// renderings returns v as every output path could show it.
func renderings(tb testing.TB, v any) map[string]string {
	tb.Helper()
	out := map[string]string{}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%d", "%x", "%q"} {
		out[verb] = fmt.Sprintf(verb, v)
	}
	var text, js bytes.Buffer
	// The record's own timestamp is wall-clock digits: leave it out.
	opts := &slog.HandlerOptions{ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey && len(groups) == 0 {
			return slog.Attr{}
		}
		return a
	}}
	slog.New(slog.NewTextHandler(&text, opts)).Info("capture", "v", v)
	slog.New(slog.NewJSONHandler(&js, opts)).Info("capture", "v", v)
	out["slog text"], out["slog json"] = text.String(), js.String()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatalf("json.Marshal(%T): %v", v, err)
	}
	out["json"] = string(b)
	return out
}

func assertClean(tb testing.TB, what string, v any, forbidden []string) {
	tb.Helper()
	for how, s := range renderings(tb, v) {
		for _, f := range forbidden {
			if strings.Contains(s, f) {
				tb.Errorf("%s (%s) contains %q: %s", what, how, f, s)
			}
		}
	}
}

// TestNoCardDataInOutput plants canary cards, drives them down every kind of
// path and checks that no action, event, snapshot or engine rendering holds
// any of their digits beyond the last four.
func TestNoCardDataInOutput(t *testing.T) {
	visa := func(s *script) *script { return s.keys(visaPAN+"#"+expiry+visaCVV, SourceInband) }
	amex := func(s *script) *script { return s.keys(amexPAN+expiry+amexCVV, SourceRTP) }
	paths := map[string]func(*script, func(*script) *script) *script{
		"complete": func(s *script, k func(*script) *script) *script { return k(s.begin()) },
		"with duplicates": func(s *script, k func(*script) *script) *script {
			k(s.begin())
			var out []Input
			for _, in := range s.in {
				out = append(out, in)
				if d, ok := in.(Digit); ok {
					out = append(out, Digit{Digit: d.Digit, Source: other(d.Source), At: d.At.Add(20 * time.Millisecond)})
				}
			}
			s.in = out
			return s
		},
		"invalid then cancel": func(s *script, k func(*script) *script) *script {
			k(s.begin())
			// Drop the last key so the CVV is incomplete, then a bad # and cancel.
			s.in = s.in[:len(s.in)-1]
			return s.keys("#", SourceInband).add(Cancel{})
		},
		"timeouts then hang-up": func(s *script, k func(*script) *script) *script {
			k(s.begin())
			s.in = s.in[:len(s.in)-2]
			return s.timer(TimerInterDigit).timer(TimerField).add(HangUp{})
		},
		"restart every field": func(s *script, k func(*script) *script) *script {
			k(s.begin())
			last := s.in[len(s.in)-1]
			s.in = s.in[:len(s.in)-1]
			s.add(RestartField{Field: FieldPAN})
			return k(s).add(RestartField{Field: FieldExpiry}, last)
		},
	}
	cards := []canary{
		{name: "visa", pan: visaPAN, exp: expiry, cvv: visaCVV, keys: visa},
		{name: "amex", pan: amexPAN, exp: expiry, cvv: amexCVV, keys: amex},
	}
	for _, c := range cards {
		for name, path := range paths {
			t.Run(c.name+"/"+name, func(t *testing.T) {
				r := newRun(t, Config{})
				forbidden := c.forbidden()
				for i, in := range path(newScript(), c.keys).in {
					for _, a := range r.step(in) {
						assertClean(t, fmt.Sprintf("step %d action %T", i, a), a, forbidden)
						if p, ok := a.(Progress); ok {
							assertClean(t, "event", p.Event, forbidden)
						}
					}
					assertClean(t, "snapshot", r.e.Snapshot(), forbidden)
					assertClean(t, "engine", r.e, forbidden)
					assertClean(t, "input", in, []string{"(" + string(rune(inKey(in))) + ")"})
				}
				if len(r.all) == 0 {
					t.Fatal("no actions")
				}
			})
		}
	}
}

func inKey(in Input) byte {
	if d, ok := in.(Digit); ok {
		return d.Digit
	}
	return 0
}

// TestDigitInputMasked checks every rendering of a Digit input.
func TestDigitInputMasked(t *testing.T) {
	d := Digit{Digit: '7', Source: SourceRTP}
	for how, s := range renderings(t, d) {
		if strings.ContainsAny(s, "7") || strings.Contains(s, "55") {
			t.Errorf("%s shows the key: %s", how, s)
		}
	}
	if d.String() != "digit(rtp)" {
		t.Errorf("String() = %q", d.String())
	}
	for _, in := range []Input{Start{}, Armed{}, ArmFailed{Reason: "r"}, TimerFired{Timer: TimerField, Gen: 3}, RestartField{Field: FieldCVV}, Cancel{}, HangUp{}} {
		if in.String() == "" {
			t.Errorf("%T has no String", in)
		}
	}
}

// TestEngineInUnexportedField checks the case fmt handles without calling
// methods: an *Engine reached through an unexported field. The recent key
// presses sit behind a further pointer, so even the bad-verb path, which
// prints the struct, shows no press; the source names would give one away.
func TestEngineInUnexportedField(t *testing.T) {
	r := newRun(t, Config{}).feed(newScript().begin().keys("42424", SourceInband).at('4', SourceRTP, 10*time.Millisecond))
	type session struct{ e *Engine }
	for _, verb := range []string{"%v", "%+v", "%s", "%d", "%x"} {
		out := fmt.Sprintf(verb, session{r.e})
		if strings.Contains(out, "inband") || strings.Contains(out, "rtp") {
			t.Errorf("%s shows recent key presses: %s", verb, out)
		}
	}
}
