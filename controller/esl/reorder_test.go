package esl

import (
	"math/rand/v2"
	"testing"
	"time"
)

func seqs(evs []Event) []uint64 {
	out := make([]uint64, len(evs))
	for i, e := range evs {
		out[i] = e.Sequence
	}
	return out
}

func TestReorderPermutations(t *testing.T) {
	// Event-Sequence is switch-wide, so a call sees gaps.
	in := []uint64{7663, 7664, 7670, 7671, 7702, 7703, 7800}
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := 0; trial < 200; trial++ {
		perm := append([]uint64(nil), in...)
		rng.Shuffle(len(perm), func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
		r := reorderer{window: 2 * time.Millisecond}
		t0 := time.Unix(0, 0)
		var out []Event
		// All arrive within the window, in any order.
		for i, s := range perm {
			if r.push(Event{Sequence: s}, t0.Add(time.Duration(i)*100*time.Microsecond)) {
				t.Fatalf("trial %d: %d reported late", trial, s)
			}
			out = r.pop(t0.Add(time.Duration(i)*100*time.Microsecond), out)
		}
		if len(out) != 0 {
			t.Fatalf("trial %d: released %v before the window passed", trial, seqs(out))
		}
		out = r.pop(t0.Add(time.Second), out)
		got := seqs(out)
		for i := range in {
			if got[i] != in[i] {
				t.Fatalf("trial %d: order %v from %v, want %v", trial, got, perm, in)
			}
		}
	}
}

func TestReorderWaitsBehindLowerSequence(t *testing.T) {
	r := reorderer{window: 2 * time.Millisecond}
	t0 := time.Unix(0, 0)
	r.push(Event{Sequence: 5}, t0)
	r.push(Event{Sequence: 4}, t0.Add(time.Millisecond)) // lower, later
	if out := r.pop(t0.Add(2*time.Millisecond), nil); len(out) != 0 {
		t.Fatalf("released %v while seq 4 was still inside its window", seqs(out))
	}
	out := r.pop(t0.Add(3*time.Millisecond), nil)
	if got := seqs(out); len(got) != 2 || got[0] != 4 || got[1] != 5 {
		t.Fatalf("got %v, want [4 5]", got)
	}
}

func TestReorderLate(t *testing.T) {
	r := reorderer{window: time.Millisecond}
	t0 := time.Unix(0, 0)
	r.push(Event{Sequence: 10}, t0)
	r.pop(t0.Add(time.Second), nil)
	if !r.push(Event{Sequence: 9}, t0.Add(time.Second)) {
		t.Fatal("event older than a released one not reported late")
	}
	if r.late != 1 {
		t.Fatalf("late = %d, want 1", r.late)
	}
	if due, ok := r.next(); ok {
		t.Fatalf("late event held until %v", due)
	}
}

func TestReorderFlush(t *testing.T) {
	r := reorderer{window: time.Hour}
	t0 := time.Unix(0, 0)
	for _, s := range []uint64{3, 1, 2} {
		r.push(Event{Sequence: s}, t0)
	}
	got := seqs(r.flush(nil))
	if len(got) != 3 || got[0] != 1 || got[2] != 3 {
		t.Fatalf("flush = %v", got)
	}
}
