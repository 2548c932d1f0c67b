// Package stream fans the controller's progress events out to the agent
// panels and CRMs that watch a call or a capture. The Hub is a
// call.Observer: Observe never blocks the call, each subscriber has a
// bounded queue, and a subscriber that falls behind loses events and is
// told so with a "dropped" message. A small ring of recent events per call
// lets a client that reconnects with the id of the last event it saw catch
// up without gaps.
package stream

import (
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tonewall/tonewall/controller/call"
)

// Defaults for Options.
const (
	DefaultBuffer    = 64
	DefaultReplay    = 256
	DefaultRetention = 10 * time.Minute
	DefaultMaxCalls  = 10000
)

// Message types that are not progress events.
const (
	// TypeSnapshot carries a Snapshot.
	TypeSnapshot = "snapshot"
	// TypeDropped tells a subscriber that it missed events; Data is
	// {"missed": n}. The client should take a fresh snapshot.
	TypeDropped = "dropped"
)

// Options configures a Hub. Zero values mean the defaults.
type Options struct {
	// Buffer is how many messages a subscriber may have waiting.
	Buffer int
	// Replay is how many recent events are kept per call for resuming.
	Replay int
	// Retention is how long a call's recent events are kept after it ends.
	Retention time.Duration
	// MaxCalls bounds the number of calls whose events are kept.
	MaxCalls int
	// Logger records withheld events; discards if nil.
	Logger *slog.Logger
	// Now is the clock; time.Now if nil.
	Now func() time.Time
}

// Message is one item of a stream.
type Message struct {
	// ID identifies a progress event, "<epoch>-<seq>": seq increases with
	// every event the hub publishes, and epoch changes when the controller
	// restarts. Markers (snapshot, dropped) have none.
	ID   string
	Type string
	// Data is the JSON payload.
	Data []byte

	seq       uint64
	captureID string
	missed    uint64 // TypeDropped: how many messages were lost
}

// Filter selects the events of one call, or of one capture on it (with the
// call's own events, such as call.ended).
type Filter struct {
	CallID    string
	CaptureID string
}

func (f Filter) match(m *Message) bool {
	return f.CaptureID == "" || m.captureID == "" || m.captureID == f.CaptureID
}

// ring is one call's recent events.
type ring struct {
	msgs     []Message // oldest first, at most opts.Replay
	evicted  uint64    // highest seq not held (pushed out, or before the ring)
	ended    time.Time // when call.ended was seen
	lastSeen time.Time
	subs     map[*Subscription]struct{}
}

// Hub is the progress event hub. It starts no goroutines.
type Hub struct {
	opts  Options
	log   *slog.Logger
	epoch string

	mu        sync.Mutex
	seq       uint64
	calls     map[string]*ring
	lastPrune time.Time

	withheld atomic.Uint64
	dropped  atomic.Uint64
}

// NewHub returns an empty Hub.
func NewHub(opts Options) *Hub {
	if opts.Buffer <= 0 {
		opts.Buffer = DefaultBuffer
	}
	if opts.Replay <= 0 {
		opts.Replay = DefaultReplay
	}
	if opts.Retention <= 0 {
		opts.Retention = DefaultRetention
	}
	if opts.MaxCalls <= 0 {
		opts.MaxCalls = DefaultMaxCalls
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Hub{
		opts:  opts,
		log:   log,
		epoch: strconv.FormatInt(opts.Now().UnixNano(), 36),
		calls: make(map[string]*ring),
	}
}

// Withheld counts events the digit guard refused to send.
func (h *Hub) Withheld() uint64 { return h.withheld.Load() }

// Dropped counts events lost by subscribers that fell behind.
func (h *Hub) Dropped() uint64 { return h.dropped.Load() }

// Observe publishes a progress event to the call's subscribers and keeps
// it for resuming. It never blocks on a subscriber.
func (h *Hub) Observe(ev call.Event) {
	if ev.At.IsZero() {
		ev.At = h.opts.Now()
	}
	data, err := Encode(ProgressOf(ev), ev.CallID, ev.CaptureID)
	if err != nil {
		h.withheld.Add(1)
		h.log.Error("progress event withheld", "type", ev.Type, "call", ev.CallID, "capture", ev.CaptureID, "err", err)
	}
	now := h.opts.Now()
	h.mu.Lock()
	defer h.mu.Unlock()
	r := h.ringLocked(ev.CallID, now)
	if err != nil {
		// Subscribers missed an event: tell them, so they re-read the state.
		for s := range r.subs {
			if s.filter.CaptureID == "" || ev.CaptureID == "" || s.filter.CaptureID == ev.CaptureID {
				s.push(Message{Type: TypeDropped}, h)
			}
		}
		return
	}
	h.seq++
	m := Message{ID: h.epoch + "-" + strconv.FormatUint(h.seq, 10), Type: ev.Type, Data: data, seq: h.seq, captureID: ev.CaptureID}
	if len(r.msgs) == h.opts.Replay {
		r.evicted = r.msgs[0].seq
		r.msgs = append(r.msgs[:0], r.msgs[1:]...)
	}
	r.msgs = append(r.msgs, m)
	for s := range r.subs {
		if s.filter.match(&m) {
			s.push(m, h)
		}
	}
	if ev.Type == call.EventCallEnded {
		r.ended = now
	}
	h.pruneLocked(now)
}

func (h *Hub) ringLocked(callID string, now time.Time) *ring {
	r := h.calls[callID]
	if r == nil {
		// Events published before the ring existed are not held.
		r = &ring{subs: make(map[*Subscription]struct{}), evicted: h.seq}
		h.calls[callID] = r
	}
	r.lastSeen = now
	return r
}

// pruneLocked forgets calls that ended more than Retention ago, and the
// least recently active calls beyond MaxCalls. Calls with subscribers stay.
func (h *Hub) pruneLocked(now time.Time) {
	if len(h.calls) <= h.opts.MaxCalls && now.Sub(h.lastPrune) < time.Minute {
		return
	}
	h.lastPrune = now
	for id, r := range h.calls {
		idle := len(r.msgs) == 0 && now.Sub(r.lastSeen) > h.opts.Retention
		ended := !r.ended.IsZero() && now.Sub(r.ended) > h.opts.Retention
		if len(r.subs) == 0 && (ended || idle) {
			delete(h.calls, id)
		}
	}
	for len(h.calls) > h.opts.MaxCalls {
		oldest, at := "", now
		for id, r := range h.calls {
			if len(r.subs) == 0 && !r.lastSeen.After(at) {
				oldest, at = id, r.lastSeen
			}
		}
		if oldest == "" {
			return
		}
		delete(h.calls, oldest)
	}
}

// Subscribe starts a subscription to the events matching f. lastEventID is
// the Last-Event-ID a reconnecting client sent, or "". resumed reports
// whether the events after it could all be replayed: they are then queued
// first, and the client needs no snapshot. Otherwise the subscription
// starts with the next event, and the caller should send a snapshot first.
func (h *Hub) Subscribe(f Filter, lastEventID string) (sub *Subscription, resumed bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	r := h.ringLocked(f.CallID, h.opts.Now())
	var replay []Message
	if last, ok := h.parseID(lastEventID); ok && last >= r.evicted {
		resumed = true
		for i := range r.msgs {
			if r.msgs[i].seq > last && f.match(&r.msgs[i]) {
				replay = append(replay, r.msgs[i])
			}
		}
	}
	s := &Subscription{
		hub:    h,
		filter: f,
		max:    h.opts.Buffer + len(replay),
		queue:  replay,
		ready:  make(chan struct{}, 1),
	}
	if len(replay) > 0 {
		s.ready <- struct{}{}
	}
	r.subs[s] = struct{}{}
	return s, resumed
}

// parseID reads an id this hub issued.
func (h *Hub) parseID(id string) (uint64, bool) {
	epoch, seq, ok := strings.Cut(id, "-")
	if !ok || epoch != h.epoch {
		return 0, false
	}
	n, err := strconv.ParseUint(seq, 10, 64)
	if err != nil || n > h.seq {
		return 0, false
	}
	return n, true
}

func (h *Hub) unsubscribe(s *Subscription) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if r := h.calls[s.filter.CallID]; r != nil {
		delete(r.subs, s)
	}
}

// Subscription is one client's view of a stream. Wait on Ready, then Take.
type Subscription struct {
	hub    *Hub
	filter Filter
	ready  chan struct{}

	mu     sync.Mutex
	queue  []Message
	max    int
	closed bool
}

// push queues m without blocking. When the queue is full the message is
// lost, and a dropped marker in the last slot counts the losses; nothing is
// queued after it until the reader takes the queue. A TypeDropped m (an
// event withheld by the guard) is a marker of one loss.
func (s *Subscription) push(m Message, h *Hub) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	if m.Type == TypeDropped {
		m = Message{Type: TypeDropped, missed: 1}
	}
	lost := uint64(0)
	n := len(s.queue)
	switch {
	case n > 0 && s.queue[n-1].Type == TypeDropped && (n >= s.max || m.Type == TypeDropped):
		s.queue[n-1].missed++ // still behind, or a run of withheld events
		lost = 1
	case n < s.max-1:
		s.queue = append(s.queue, m)
	case n < s.max:
		s.queue = append(s.queue, Message{Type: TypeDropped, missed: 1})
		lost = 1
	default: // full without a marker: the last message gives way to it
		s.queue[n-1] = Message{Type: TypeDropped, missed: 2}
		lost = 2
	}
	if m.Type == TypeDropped {
		lost = 0 // counted as withheld
	}
	h.dropped.Add(lost)
	select {
	case s.ready <- struct{}{}:
	default:
	}
}

// Ready is signalled when messages are waiting.
func (s *Subscription) Ready() <-chan struct{} { return s.ready }

// Take returns the waiting messages, oldest first, and empties the queue.
func (s *Subscription) Take() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.queue
	s.queue = nil
	for i := range out {
		if out[i].Type == TypeDropped {
			out[i].Data = []byte(`{"missed":` + strconv.FormatUint(out[i].missed, 10) + `}`)
		}
	}
	return out
}

// Close ends the subscription. It is safe to call more than once.
func (s *Subscription) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.queue = nil
	s.mu.Unlock()
	s.hub.unsubscribe(s)
}
