package esl

import (
	"container/heap"
	"time"
)

// reorderer puts events back into Event-Sequence order. The client library
// hands every event to its own goroutine, so two events can reach us swapped;
// Event-Sequence is switch-wide (with gaps, because of filters), so the next
// number cannot be predicted. Each event is therefore held for a short window
// and released in sequence order once the window of the lowest pending event
// has passed. An event older than one already released is delivered at once
// and counted as late.
//
// reorderer is not safe for concurrent use; the session's reorder goroutine
// owns it.
type reorderer struct {
	window  time.Duration
	pending eventHeap
	last    uint64 // highest sequence released
	late    uint64 // events that arrived after a later one was released
}

type heldEvent struct {
	ev  Event
	due time.Time
}

type eventHeap []heldEvent

func (h eventHeap) Len() int           { return len(h) }
func (h eventHeap) Less(i, j int) bool { return h[i].ev.Sequence < h[j].ev.Sequence }
func (h eventHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *eventHeap) Push(x any)        { *h = append(*h, x.(heldEvent)) }
func (h *eventHeap) Pop() any {
	old := *h
	n := len(old)
	x := old[n-1]
	old[n-1] = heldEvent{}
	*h = old[:n-1]
	return x
}

// push adds an event received at now. A late event is returned for immediate
// delivery.
func (r *reorderer) push(ev Event, now time.Time) (late bool) {
	if ev.Sequence != 0 && ev.Sequence <= r.last {
		r.late++
		return true
	}
	heap.Push(&r.pending, heldEvent{ev: ev, due: now.Add(r.window)})
	return false
}

// pop releases, in sequence order, every event whose window has passed at
// now, appending them to out. Events behind a lower-sequence event still in
// its window wait for it.
func (r *reorderer) pop(now time.Time, out []Event) []Event {
	for len(r.pending) > 0 && !r.pending[0].due.After(now) {
		h := heap.Pop(&r.pending).(heldEvent)
		if h.ev.Sequence > r.last {
			r.last = h.ev.Sequence
		}
		out = append(out, h.ev)
	}
	if len(r.pending) == 0 {
		r.pending = nil // an idle call keeps no buffer
	}
	return out
}

// flush releases everything pending in sequence order.
func (r *reorderer) flush(out []Event) []Event {
	for len(r.pending) > 0 {
		h := heap.Pop(&r.pending).(heldEvent)
		if h.ev.Sequence > r.last {
			r.last = h.ev.Sequence
		}
		out = append(out, h.ev)
	}
	return out
}

// next reports when the next event becomes due, and whether any is pending.
func (r *reorderer) next() (time.Time, bool) {
	if len(r.pending) == 0 {
		return time.Time{}, false
	}
	return r.pending[0].due, true
}
