package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Deliveries returns the delivery records matching f, oldest first. They
// carry no payload and no secret.
func (s *Sender) Deliveries(ctx context.Context, f Filter) ([]Delivery, error) {
	recs, err := s.store.list(ctx, f)
	if err != nil {
		return nil, err
	}
	out := make([]Delivery, len(recs))
	for i, r := range recs {
		out[i] = r.Delivery
	}
	return out, nil
}

// Replay enqueues a delivered or failed delivery again, with the same
// webhook-id and body, and a fresh retry schedule. The endpoint must be
// configured and enabled.
func (s *Sender) Replay(ctx context.Context, eventID, endpointID string) error {
	if !validID(eventID) || !validID(endpointID) {
		return ErrNotFound
	}
	if _, ok := s.endpoints[endpointID]; !ok {
		return ErrUnknownEndpoint
	}
	off, err := s.endpointDisabled(ctx, endpointID)
	if err != nil {
		return err
	}
	if off {
		return ErrEndpointOff
	}
	key := recordKey(eventID, endpointID)
	cur, _, err := s.store.get(ctx, key)
	if err != nil {
		return err
	}
	if cur == nil {
		return ErrNotFound
	}
	if !cur.State.final() {
		return ErrNotReplayable
	}
	replay := cur.Replays + 1
	// Enqueue first: should this process die before the record is updated,
	// the sender adopts the newer replay number from the message itself.
	if err := s.enqueue(ctx, eventID, cur.EventType, endpointID, replay, cur.Body); err != nil {
		return err
	}
	_, err = s.store.update(ctx, key, func(cur *record) (*record, error) {
		if cur == nil || cur.Replays >= replay {
			return nil, nil
		}
		cur.Replays, cur.Round, cur.State = replay, 0, StatePending
		cur.NextAttempt = time.Now().UTC()
		return cur, nil
	})
	if err != nil {
		return err
	}
	s.log.Info("webhook replay enqueued", "event", eventID, "endpoint", endpointID, "replay", replay)
	return nil
}

// EnableEndpoint clears the disabled state an endpoint got from a 410
// answer. Deliveries marked failed meanwhile stay failed; Replay them.
func (s *Sender) EnableEndpoint(ctx context.Context, endpointID string) error {
	if !validID(endpointID) {
		return ErrUnknownEndpoint
	}
	if err := s.epKV.Delete(ctx, endpointID); err != nil {
		return fmt.Errorf("webhook: enable endpoint %s: %w", endpointID, err)
	}
	s.mu.Lock()
	s.disabled[endpointID] = false
	s.mu.Unlock()
	s.log.Info("webhook endpoint enabled", "endpoint", endpointID)
	return nil
}

// DisabledEndpoints returns the ids of the endpoints disabled by a 410 answer.
func (s *Sender) DisabledEndpoints(ctx context.Context) ([]string, error) {
	keys, err := s.epKV.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("webhook: list endpoint states: %w", err)
	}
	defer keys.Stop()
	var out []string
	for k := range keys.Keys() {
		out = append(out, k)
	}
	return out, nil
}

// endpointDisabled reads the endpoint's state from the bucket, not the cache,
// so a Sender that was never started answers correctly.
func (s *Sender) endpointDisabled(ctx context.Context, endpointID string) (bool, error) {
	_, err := s.epKV.Get(ctx, endpointID)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, jetstream.ErrKeyNotFound):
		return false, nil
	default:
		return false, fmt.Errorf("webhook: read endpoint state: %w", err)
	}
}

// disableEndpoint records that endpointID answered 410 and marks its other
// pending deliveries failed; their outbox messages are dropped when they
// come up.
func (s *Sender) disableEndpoint(ctx context.Context, endpointID, byEvent string) {
	s.mu.Lock()
	s.disabled[endpointID] = true
	s.mu.Unlock()
	st, _ := json.Marshal(endpointState{Disabled: true, Reason: "410 Gone answering " + byEvent, At: time.Now().UTC()})
	if _, err := s.epKV.Put(ctx, endpointID, st); err != nil {
		s.log.Error("cannot store disabled endpoint", "endpoint", endpointID, "err", err)
	}
	s.log.Error("webhook endpoint disabled: it answered 410 Gone", "endpoint", endpointID, "event", byEvent)

	pending, err := s.store.list(ctx, Filter{EndpointID: endpointID, State: StatePending})
	if err != nil {
		s.log.Error("cannot list deliveries of disabled endpoint", "endpoint", endpointID, "err", err)
		return
	}
	for _, p := range pending {
		_, err := s.store.update(ctx, recordKey(p.EventID, endpointID), func(cur *record) (*record, error) {
			if cur == nil || cur.State != StatePending {
				return nil, nil
			}
			cur.State, cur.LastError, cur.NextAttempt = StateFailed, ErrEndpointOff.Error(), time.Time{}
			return cur, nil
		})
		if err != nil {
			s.log.Error("cannot mark delivery failed", "event", p.EventID, "endpoint", endpointID, "err", err)
		}
	}
}
