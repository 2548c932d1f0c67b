package api

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"time"
)

// Deliveries is the webhook delivery log: what the API needs from the
// webhook sender (see package webhookapi for the adapter). Replay's errors
// should match ErrDeliveryNotFound, ErrDeliveryPending, ErrEndpointNotFound
// or ErrEndpointDisabled where they apply.
type Deliveries interface {
	List(ctx context.Context, f DeliveryFilter) ([]DeliveryView, error)
	Replay(ctx context.Context, eventID, endpointID string) error
}

// DeliveryFilter selects deliveries; empty fields match everything.
type DeliveryFilter struct {
	// State is pending, delivered, failed or disabled.
	State      string
	EventID    string
	EndpointID string
}

// DeliveryView is one webhook event's delivery to one endpoint. It holds
// neither the payload nor any secret.
type DeliveryView struct {
	EventID     string    `json:"event_id"`
	EventType   string    `json:"event_type"`
	EndpointID  string    `json:"endpoint_id"`
	State       string    `json:"state"`
	Attempts    int       `json:"attempts"`
	LastStatus  int       `json:"last_status,omitempty"`
	LastError   string    `json:"last_error,omitempty"`
	LastAttempt time.Time `json:"last_attempt,omitzero"`
	NextAttempt time.Time `json:"next_attempt,omitzero"`
	Replays     int       `json:"replays,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
	// History lists the most recent attempts, oldest first.
	History []DeliveryAttempt `json:"history,omitempty"`
}

// DeliveryAttempt is one HTTP attempt of a delivery.
type DeliveryAttempt struct {
	At         time.Time `json:"at"`
	Status     int       `json:"status,omitempty"`
	Error      string    `json:"error,omitempty"`
	DurationMS int64     `json:"duration_ms"`
}

// Delivery states accepted by the filter.
var deliveryStates = map[string]bool{"": true, "pending": true, "delivered": true, "failed": true, "disabled": true}

var deliveryIDRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,100}$`)

func (s *Server) listDeliveries(w http.ResponseWriter, r *http.Request) {
	if err := s.requireKey(r); err != nil {
		s.fail(w, r, err)
		return
	}
	if s.Deliveries == nil {
		s.fail(w, r, fmt.Errorf("%w: no webhook sender", errNotConfigured))
		return
	}
	q := r.URL.Query()
	for k := range q {
		switch k {
		case "state", "event_id", "endpoint_id":
			if len(q[k]) > 1 {
				s.fail(w, r, fmt.Errorf("%w: %s given more than once", errBadRequest, k))
				return
			}
		default:
			s.fail(w, r, fmt.Errorf("%w: unknown query parameter %q", errBadRequest, k))
			return
		}
	}
	f := DeliveryFilter{State: q.Get("state"), EventID: q.Get("event_id"), EndpointID: q.Get("endpoint_id")}
	if !deliveryStates[f.State] {
		s.fail(w, r, fmt.Errorf("%w: state must be pending, delivered, failed or disabled", errBadRequest))
		return
	}
	for name, v := range map[string]string{"event_id": f.EventID, "endpoint_id": f.EndpointID} {
		if v != "" && !deliveryIDRE.MatchString(v) {
			s.fail(w, r, fmt.Errorf("%w: %s must be 1-100 letters, digits, '-' or '_'", errBadRequest, name))
			return
		}
	}
	list, err := s.Deliveries.List(r.Context(), f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if list == nil {
		list = []DeliveryView{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"deliveries": list})
}

// ReplayResponse acknowledges a replay.
type ReplayResponse struct {
	EventID    string `json:"event_id"`
	EndpointID string `json:"endpoint_id"`
	State      string `json:"state"`
}

func (s *Server) replayDelivery(w http.ResponseWriter, r *http.Request) {
	if err := s.requireKey(r); err != nil {
		s.fail(w, r, err)
		return
	}
	if s.Deliveries == nil {
		s.fail(w, r, fmt.Errorf("%w: no webhook sender", errNotConfigured))
		return
	}
	ev, ep := r.PathValue("event_id"), r.PathValue("endpoint_id")
	if !deliveryIDRE.MatchString(ev) || !deliveryIDRE.MatchString(ep) {
		s.fail(w, r, ErrDeliveryNotFound)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), defaultReqTimeout)
	defer cancel()
	if err := s.Deliveries.Replay(ctx, ev, ep); err != nil {
		s.fail(w, r, err)
		return
	}
	s.logger().InfoContext(r.Context(), "webhook delivery replayed", "event", ev, "endpoint", ep)
	writeJSON(w, http.StatusAccepted, ReplayResponse{EventID: ev, EndpointID: ep, State: "pending"})
}
