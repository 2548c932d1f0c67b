package webhook

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// State is where a delivery stands.
type State string

// Delivery states.
const (
	// StatePending: waiting for its first attempt or for a retry.
	StatePending State = "pending"
	// StateDelivered: the endpoint answered 2xx.
	StateDelivered State = "delivered"
	// StateFailed: the schedule ran out, or the endpoint was disabled or
	// removed while it waited. Replay sends it again.
	StateFailed State = "failed"
	// StateDisabled: the endpoint answered 410 Gone to this delivery and has
	// been disabled.
	StateDisabled State = "disabled"
)

// final reports whether no further attempt is planned.
func (s State) final() bool { return s != StatePending }

// Attempt is one HTTP attempt of a delivery.
type Attempt struct {
	At       time.Time     `json:"at"`
	Status   int           `json:"status,omitempty"`
	Error    string        `json:"error,omitempty"`
	Duration time.Duration `json:"duration"`
}

// Delivery is the durable record of one event sent to one endpoint. It never
// holds the payload nor any secret.
type Delivery struct {
	EventID    string `json:"event_id"`
	EventType  string `json:"event_type"`
	EndpointID string `json:"endpoint_id"`
	State      State  `json:"state"`
	// Attempts counts every HTTP attempt, replays included.
	Attempts int `json:"attempts"`
	// LastStatus is the HTTP status of the last attempt; 0 when it got none.
	LastStatus  int       `json:"last_status,omitempty"`
	LastError   string    `json:"last_error,omitempty"`
	LastAttempt time.Time `json:"last_attempt,omitzero"`
	// NextAttempt is when the next attempt is due, for a pending delivery.
	NextAttempt time.Time `json:"next_attempt,omitzero"`
	// Replays counts the times Replay re-enqueued it.
	Replays int       `json:"replays,omitempty"`
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
	// History lists the most recent attempts, oldest first.
	History []Attempt `json:"history,omitempty"`
}

// record is what the delivery log stores: the Delivery, the attempts made
// since it was last enqueued (which pick the retry delay), and the body kept
// for Replay.
type record struct {
	Delivery
	Round int    `json:"round"`
	Body  []byte `json:"body"`
}

// maxHistory bounds Delivery.History.
const maxHistory = 20

func (r *record) addAttempt(a Attempt) {
	r.Attempts++
	r.Round++
	r.LastAttempt = a.At
	r.LastStatus = a.Status
	r.LastError = a.Error
	r.History = append(r.History, a)
	if len(r.History) > maxHistory {
		r.History = slices.Delete(r.History, 0, len(r.History)-maxHistory)
	}
}

// Filter selects deliveries; empty fields match everything.
type Filter struct {
	EventID    string
	EndpointID string
	State      State
}

// Errors of Replay and the delivery log.
var (
	ErrNotFound        = errors.New("webhook: no such delivery")
	ErrNotReplayable   = errors.New("webhook: delivery is still pending")
	ErrUnknownEndpoint = errors.New("webhook: endpoint not configured")
	ErrEndpointOff     = errors.New("webhook: endpoint disabled")
)

// errConflict asks update to re-read and try again.
var errConflict = errors.New("webhook: concurrent update")

// store is the delivery log, a JetStream key-value bucket keyed by
// "<event id>.<endpoint id>".
type store struct {
	kv jetstream.KeyValue
}

func recordKey(eventID, endpointID string) string { return eventID + "." + endpointID }

// get returns the record and its revision, or nil and 0 when there is none.
func (s *store) get(ctx context.Context, key string) (*record, uint64, error) {
	e, err := s.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("webhook: read delivery log: %w", err)
	}
	var r record
	if err := json.Unmarshal(e.Value(), &r); err != nil {
		return nil, 0, fmt.Errorf("webhook: decode delivery %s: %w", key, err)
	}
	return &r, e.Revision(), nil
}

// update applies fn to the current record (nil when there is none) and
// writes the result with a compare-and-set, re-reading on conflict. fn
// returns nil to leave the record as it is. update returns the record as
// stored afterwards (nil if there is none).
func (s *store) update(ctx context.Context, key string, fn func(cur *record) (*record, error)) (*record, error) {
	for attempt := range 20 {
		if attempt > 0 {
			// Another controller wrote first, or this one read from a
			// replica a moment behind: wait a little, then re-read.
			if err := sleep(ctx, time.Duration(attempt)*5*time.Millisecond); err != nil {
				return nil, err
			}
		}
		cur, rev, err := s.get(ctx, key)
		if err != nil {
			return nil, err
		}
		next, err := fn(cur)
		if err != nil || next == nil {
			return cur, err
		}
		next.Updated = time.Now().UTC()
		b, err := json.Marshal(next)
		if err != nil {
			return nil, fmt.Errorf("webhook: encode delivery %s: %w", key, err)
		}
		if cur == nil {
			_, err = s.kv.Create(ctx, key, b)
		} else {
			_, err = s.kv.Update(ctx, key, b, rev)
		}
		switch {
		case err == nil:
			return next, nil
		case errors.Is(err, jetstream.ErrKeyExists), errors.Is(err, jetstream.ErrKeyRevisionMismatch):
			continue
		default:
			return nil, fmt.Errorf("webhook: write delivery log: %w", err)
		}
	}
	return nil, errConflict
}

// list returns the records matching f, oldest first.
func (s *store) list(ctx context.Context, f Filter) ([]*record, error) {
	ev, ep := cmp.Or(f.EventID, "*"), cmp.Or(f.EndpointID, "*")
	if (f.EventID != "" && !validID(f.EventID)) || (f.EndpointID != "" && !validID(f.EndpointID)) {
		return nil, nil
	}
	w, err := s.kv.Watch(ctx, recordKey(ev, ep), jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("webhook: list deliveries: %w", err)
	}
	defer w.Stop()
	var out []*record
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case e, ok := <-w.Updates():
			if !ok {
				return nil, errors.New("webhook: list deliveries: watcher stopped")
			}
			if e == nil {
				slices.SortFunc(out, func(a, b *record) int {
					return cmp.Or(a.Created.Compare(b.Created), cmp.Compare(a.EventID, b.EventID), cmp.Compare(a.EndpointID, b.EndpointID))
				})
				return out, nil
			}
			var r record
			if err := json.Unmarshal(e.Value(), &r); err != nil {
				return nil, fmt.Errorf("webhook: decode delivery %s: %w", e.Key(), err)
			}
			if f.State == "" || r.State == f.State {
				out = append(out, &r)
			}
		}
	}
}

// endpointState is what the endpoints bucket holds for a disabled endpoint.
type endpointState struct {
	Disabled bool      `json:"disabled"`
	Reason   string    `json:"reason,omitempty"`
	At       time.Time `json:"at"`
}
