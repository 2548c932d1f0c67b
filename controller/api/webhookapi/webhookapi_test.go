package webhookapi

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/tonewall/tonewall/controller/api"
	"github.com/tonewall/tonewall/controller/webhook"
)

type fakeSender struct {
	filter    webhook.Filter
	list      []webhook.Delivery
	replayErr error
}

func (f *fakeSender) Deliveries(ctx context.Context, fl webhook.Filter) ([]webhook.Delivery, error) {
	f.filter = fl
	return f.list, nil
}

func (f *fakeSender) Replay(ctx context.Context, ev, ep string) error { return f.replayErr }

func TestList(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	fs := &fakeSender{list: []webhook.Delivery{{
		EventID: "evt_1", EventType: "capture.completed", EndpointID: "crm", State: webhook.StateFailed,
		Attempts: 3, LastStatus: 500, Created: at, Updated: at.Add(time.Minute),
		History: []webhook.Attempt{{At: at, Status: 500, Duration: 1500 * time.Millisecond}},
	}}}
	d := New(fs)
	got, err := d.List(context.Background(), api.DeliveryFilter{State: "failed", EventID: "evt_1"})
	if err != nil {
		t.Fatal(err)
	}
	if fs.filter.State != webhook.StateFailed || fs.filter.EventID != "evt_1" || fs.filter.EndpointID != "" {
		t.Errorf("filter passed on as %+v", fs.filter)
	}
	if len(got) != 1 || got[0].State != "failed" || got[0].Attempts != 3 || !got[0].UpdatedAt.Equal(at.Add(time.Minute)) ||
		len(got[0].History) != 1 || got[0].History[0].DurationMS != 1500 {
		t.Errorf("views %+v", got)
	}
}

func TestReplayErrors(t *testing.T) {
	boom := errors.New("nats down")
	tests := []struct {
		err  error
		want error
	}{
		{nil, nil},
		{webhook.ErrNotFound, api.ErrDeliveryNotFound},
		{fmt.Errorf("wrapped: %w", webhook.ErrNotReplayable), api.ErrDeliveryPending},
		{webhook.ErrUnknownEndpoint, api.ErrEndpointNotFound},
		{webhook.ErrEndpointOff, api.ErrEndpointDisabled},
		{boom, boom},
	}
	for _, tt := range tests {
		err := New(&fakeSender{replayErr: tt.err}).Replay(context.Background(), "evt_1", "crm")
		if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
			t.Errorf("Replay with %v = %v, want %v", tt.err, err, tt.want)
		}
	}
}
