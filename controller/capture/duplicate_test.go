package capture

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/tonewall/tonewall/controller/card"
)

// panDigits returns how many digits the PAN field holds.
func panDigits(r *run) int { return r.status(FieldPAN).Digits }

func TestDuplicateDetection(t *testing.T) {
	w := DefaultDuplicateWindow
	tests := []struct {
		name string
		s    *script
		want int // digits in the PAN field afterwards
	}{
		{"same key from both sources", newScript().begin().keys("4", SourceInband).at('4', SourceRTP, 20*time.Millisecond), 1},
		{"rtp first, then in-band", newScript().begin().keys("4", SourceRTP).at('4', SourceInband, 40*time.Millisecond), 1},
		{"at exactly the window", newScript().begin().keys("4", SourceInband).at('4', SourceRTP, w), 1},
		{"just past the window", newScript().begin().keys("4", SourceInband).at('4', SourceRTP, w+time.Nanosecond), 2},
		{"reported with an earlier time", newScript().begin().keys("4", SourceInband).at('4', SourceRTP, -w), 1},
		{"earlier, past the window", newScript().begin().keys("4", SourceInband).at('4', SourceRTP, -w-time.Nanosecond), 2},
		{"three sources, one press", newScript().begin().keys("4", SourceInband).at('4', SourceRTP, 10*time.Millisecond).at('4', SourceOther, 20*time.Millisecond), 1},
		{"a source reports twice: a real repeat", newScript().begin().keys("4", SourceInband).at('4', SourceRTP, 10*time.Millisecond).at('4', SourceRTP, 20*time.Millisecond), 2},
		{"different keys inside the window", newScript().begin().keys("4", SourceInband).at('2', SourceRTP, 10*time.Millisecond), 2},
		{"44 from one source, fast", newScript().begin().keys("4", SourceInband).at('4', SourceInband, 50*time.Millisecond), 2},
		{"4444 from one source, very fast", newScript().begin().keys("4", SourceInband).
			at('4', SourceInband, 10*time.Millisecond).at('4', SourceInband, 20*time.Millisecond).at('4', SourceInband, 30*time.Millisecond), 4},
		{"44 pressed fast, both reported twice", newScript().begin().keys("4", SourceInband).
			at('4', SourceInband, 100*time.Millisecond).at('4', SourceRTP, 30*time.Millisecond).at('4', SourceRTP, 130*time.Millisecond), 2},
		{"4444, each reported twice", newScript().begin().keys("4", SourceInband).at('4', SourceRTP, 20*time.Millisecond).
			keys("4", SourceInband).at('4', SourceRTP, 20*time.Millisecond).
			keys("4", SourceInband).at('4', SourceRTP, 20*time.Millisecond).
			keys("4", SourceInband).at('4', SourceRTP, 20*time.Millisecond), 4},
		{"unknown source strings are one more source", newScript().begin().keys("4", SourceInband).at('4', "mystery", 10*time.Millisecond), 1},
		{"star reported twice restarts once", newScript().begin().keys("42*", SourceInband).at('*', SourceRTP, 5*time.Millisecond).keys("4", SourceInband), 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRun(t, Config{}).feed(tt.s)
			if got := panDigits(r); got != tt.want {
				t.Errorf("PAN holds %d digits, want %d", got, tt.want)
			}
		})
	}
	t.Run("hash reported twice ends one field", func(t *testing.T) {
		r := newRun(t, Config{}).feed(newScript().begin().keys(visaPAN+"#", SourceInband).at('#', SourceRTP, 30*time.Millisecond))
		if r.e.Field() != FieldExpiry || r.status(FieldExpiry).Attempts != 0 || r.last != nil {
			t.Errorf("second # was counted: field %s, expiry %+v", r.e.Field(), r.status(FieldExpiry))
		}
	})
	t.Run("duplicate after the field completed by length", func(t *testing.T) {
		r := newRun(t, Config{}).feed(newScript().begin().keys(amexPAN, SourceInband).at('5', SourceRTP, 40*time.Millisecond))
		if r.e.Field() != FieldExpiry || r.status(FieldExpiry).Digits != 0 {
			t.Errorf("duplicate of the last PAN digit reached the expiry")
		}
	})
	t.Run("custom window", func(t *testing.T) {
		r := newRun(t, Config{DuplicateWindow: 10 * time.Millisecond}).
			feed(newScript().begin().keys("4", SourceInband).at('4', SourceRTP, 20*time.Millisecond))
		if panDigits(r) != 2 {
			t.Errorf("20ms apart with a 10ms window should be two presses")
		}
	})
}

// keyedCard is a card as the customer keys it.
type keyedCard struct {
	name                string
	keys                string
	brand               card.Brand
	last4, pan, exp, cv string
}

var keyedCards = []keyedCard{
	{"visa with hash", visaPAN + "#" + expiry + visaCVV, card.Visa, "4242", visaPAN, expiry, visaCVV},
	{"amex by length", amexPAN + expiry + amexCVV, card.Amex, "0005", amexPAN, expiry, amexCVV},
	{"mastercard repeats", mcPAN + "1130" + "444", card.Mastercard, "4444", mcPAN, "1130", "444"},
}

// delivery is one report of a key press as the session sees it.
type delivery struct {
	key   byte
	src   Source
	at    time.Time
	order float64 // delivery position
}

// keyCard runs one delivery plan and checks the card that comes out.
func keyCard(t *testing.T, kc keyedCard, ds []delivery, label string) {
	t.Helper()
	sortDeliveries(ds)
	r := newRun(t, Config{})
	r.step(Start{Today: day})
	r.step(Armed{})
	for _, d := range ds {
		r.step(Digit{Digit: d.key, Source: d.src, At: d.at})
	}
	c := r.card()
	if c == nil || c.Brand != kc.brand || c.Last4 != kc.last4 ||
		string(c.PAN.Bytes()) != kc.pan || string(c.Expiry.Bytes()) != kc.exp || string(c.CVV.Bytes()) != kc.cv {
		t.Fatalf("%s: card %v, prompts %v", label, c, r.prompts())
	}
}

func sortDeliveries(ds []delivery) {
	for i := 1; i < len(ds); i++ { // insertion sort keeps equal positions stable
		for j := i; j > 0 && ds[j].order < ds[j-1].order; j-- {
			ds[j], ds[j-1] = ds[j-1], ds[j]
		}
	}
}

// presses lays the card's keys out in time, gaps[i] before key i.
func presses(kc keyedCard, src Source, gap func(i int) time.Duration) []delivery {
	ds := make([]delivery, len(kc.keys))
	at := day
	for i := range len(kc.keys) {
		at = at.Add(gap(i))
		ds[i] = delivery{key: kc.keys[i], src: src, at: at, order: float64(i)}
	}
	return ds
}

func other(src Source) Source {
	if src == SourceInband {
		return SourceRTP
	}
	return SourceInband
}

// TestSplitDuplicates keys the same cards with every single duplicated
// report at every delay and on either side of the next press: the card that
// comes out never changes.
func TestSplitDuplicates(t *testing.T) {
	w := DefaultDuplicateWindow
	delays := []time.Duration{0, time.Millisecond, w / 2, w, -w}
	for _, kc := range keyedCards {
		t.Run(kc.name, func(t *testing.T) {
			base := presses(kc, SourceInband, func(int) time.Duration { return keyGap })
			keyCard(t, kc, append([]delivery(nil), base...), "no duplicates")
			for i := range base {
				for _, d := range delays {
					for _, late := range []float64{-0.5, 0.5, 1.5, 2.5} {
						ds := append([]delivery(nil), base...)
						ds = append(ds, delivery{key: base[i].key, src: SourceRTP, at: base[i].at.Add(d), order: float64(i) + late})
						keyCard(t, kc, ds, fmt.Sprintf("press %d duplicated after %v at position %+v", i, d, late))
					}
				}
			}
			// Every press duplicated, each duplicate delivered after the next press.
			ds := append([]delivery(nil), base...)
			for i, p := range base {
				ds = append(ds, delivery{key: p.key, src: SourceRTP, at: p.at.Add(w / 3), order: float64(i) + 1.5})
			}
			keyCard(t, kc, ds, "all duplicated, late")
		})
	}
}

// TestSplitRandom keys the same cards with random timing, modelled on the
// switch: presses at least 80 ms apart (the shortest DTMF cycle, ITU-T Q.24),
// the same key included, so repeats fall inside the duplicate window; each
// press heard by the first detector and perhaps by a second (see
// TestDuplicateAmbiguity for why not the other way round), the second running a fixed
// offset ahead of or behind the first (on the real switch about 40 ms:
// in-band ~240 ms, RFC 2833 ~280 ms after the key), here up to 60 ms with
// 10 ms of jitter; and reports delivered in detection order, which is the
// order Event-Sequence restores. However the two streams interleave, the card
// is the same.
//
// The offset must stay below the shortest cycle: a detector running further
// ahead than the gap between two presses would report the later press first,
// and no de-duplication can restore an order the switch never saw.
func TestSplitRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 2026)) // fixed seed: reproducible
	sources := []Source{SourceInband, SourceRTP, SourceOther}
	w := DefaultDuplicateWindow
	const minCycle = 80 * time.Millisecond
	for _, kc := range keyedCards {
		t.Run(kc.name, func(t *testing.T) {
			for n := range 2000 {
				primary := sources[rng.IntN(len(sources))]
				second := sources[(slicesIndex(sources, primary)+1+rng.IntN(2))%len(sources)]
				const maxOffset = 60 * time.Millisecond
				offset := time.Duration(rng.Int64N(int64(2*maxOffset+1))) - maxOffset
				ps := presses(kc, primary, func(int) time.Duration {
					if rng.IntN(3) == 0 {
						return minCycle + time.Duration(rng.Int64N(int64(200*time.Millisecond))) // fast typing
					}
					return minCycle + time.Duration(rng.Int64N(int64(2*time.Second)))
				})
				var ds []delivery
				for _, p := range ps {
					ds = append(ds, p)
					if rng.IntN(2) == 0 {
						jitter := time.Duration(rng.Int64N(int64(20*time.Millisecond+1))) - 10*time.Millisecond
						d := max(-w, min(w, offset+jitter))
						ds = append(ds, delivery{key: p.key, src: second, at: p.at.Add(d)})
					}
				}
				for i := range ds {
					ds[i].order = float64(ds[i].at.Sub(day)) // detection order
				}
				keyCard(t, kc, ds, fmt.Sprintf("random plan %d (primary %s, second %s, offset %v)", n, primary, second, offset))
			}
		})
	}
}

// TestDuplicateAmbiguity pins the one case de-duplication cannot resolve:
// two presses of the same key inside the window, each heard by a different
// detector only, look exactly like one press heard twice, and count once.
func TestDuplicateAmbiguity(t *testing.T) {
	r := newRun(t, Config{}).feed(newScript().begin().keys("4", SourceInband).at('4', SourceRTP, 100*time.Millisecond))
	if got := panDigits(r); got != 1 {
		t.Errorf("PAN holds %d digits, want 1", got)
	}
}

func slicesIndex(s []Source, v Source) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}
