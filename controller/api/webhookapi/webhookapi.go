// Package webhookapi connects the API's webhook delivery endpoints to the
// webhook sender: New(sender) is an api.Deliveries.
package webhookapi

import (
	"context"
	"errors"
	"fmt"

	"github.com/tonewall/tonewall/controller/api"
	"github.com/tonewall/tonewall/controller/webhook"
)

// Sender is what the adapter needs of *webhook.Sender.
type Sender interface {
	Deliveries(ctx context.Context, f webhook.Filter) ([]webhook.Delivery, error)
	Replay(ctx context.Context, eventID, endpointID string) error
}

// Deliveries adapts a webhook sender to api.Deliveries.
type Deliveries struct {
	Sender Sender
}

// New returns the adapter for s.
func New(s Sender) *Deliveries { return &Deliveries{Sender: s} }

var (
	_ api.Deliveries = (*Deliveries)(nil)
	_ Sender         = (*webhook.Sender)(nil)
)

// List returns the deliveries matching f.
func (d *Deliveries) List(ctx context.Context, f api.DeliveryFilter) ([]api.DeliveryView, error) {
	list, err := d.Sender.Deliveries(ctx, webhook.Filter{EventID: f.EventID, EndpointID: f.EndpointID, State: webhook.State(f.State)})
	if err != nil {
		return nil, fmt.Errorf("webhook delivery log: %w", err)
	}
	out := make([]api.DeliveryView, len(list))
	for i, x := range list {
		out[i] = View(x)
	}
	return out, nil
}

// Replay sends a delivery again, translating the sender's errors to the
// API's.
func (d *Deliveries) Replay(ctx context.Context, eventID, endpointID string) error {
	err := d.Sender.Replay(ctx, eventID, endpointID)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, webhook.ErrNotFound):
		return fmt.Errorf("%w: %w", api.ErrDeliveryNotFound, err)
	case errors.Is(err, webhook.ErrNotReplayable):
		return fmt.Errorf("%w: %w", api.ErrDeliveryPending, err)
	case errors.Is(err, webhook.ErrUnknownEndpoint):
		return fmt.Errorf("%w: %w", api.ErrEndpointNotFound, err)
	case errors.Is(err, webhook.ErrEndpointOff):
		return fmt.Errorf("%w: %w", api.ErrEndpointDisabled, err)
	}
	return fmt.Errorf("webhook replay: %w", err)
}

// View converts a webhook delivery record to the API's form.
func View(x webhook.Delivery) api.DeliveryView {
	v := api.DeliveryView{
		EventID:     x.EventID,
		EventType:   x.EventType,
		EndpointID:  x.EndpointID,
		State:       string(x.State),
		Attempts:    x.Attempts,
		LastStatus:  x.LastStatus,
		LastError:   x.LastError,
		LastAttempt: x.LastAttempt,
		NextAttempt: x.NextAttempt,
		Replays:     x.Replays,
		CreatedAt:   x.Created,
		UpdatedAt:   x.Updated,
	}
	for _, a := range x.History {
		v.History = append(v.History, api.DeliveryAttempt{At: a.At, Status: a.Status, Error: a.Error, DurationMS: a.Duration.Milliseconds()})
	}
	return v
}
