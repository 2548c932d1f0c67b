package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/tonewall/tonewall/controller/call"
	"github.com/tonewall/tonewall/controller/secrets"
	"github.com/tonewall/tonewall/controller/webhook"
)

// webhookSecrets reads each endpoint's signing secret from the secret
// store: the secret "webhook/<name>" holds "secret" and, while a rotation
// overlaps, "previous"; both sign every delivery then.
type webhookSecrets struct{ src secrets.Source }

func (w webhookSecrets) SigningSecrets(ctx context.Context, name string) ([]string, error) {
	s, err := w.src.Get(ctx, "webhook/"+name)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, k := range []string{"secret", "previous"} {
		if v, ok := s.Value(k); ok && v != "" {
			out = append(out, v)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("webhook/%s holds no \"secret\" key", name)
	}
	return out, nil
}

// notifier turns progress events into webhook events for the CRMs. A
// payment's result is published durably before the agent's screen hears of
// it (the notifier comes first among the observers and publishes on the
// payment's own goroutine); other events are queued so the call's loop
// never waits on the outbox.
type notifier struct {
	sender *webhook.Sender
	calls  func() *call.Manager
	log    *slog.Logger
	ctx    context.Context
	wg     sync.WaitGroup

	mu     sync.RWMutex // guards q against sends after close
	q      chan call.Event
	closed bool
}

func newNotifier(ctx context.Context, sender *webhook.Sender, calls func() *call.Manager, log *slog.Logger) *notifier {
	n := &notifier{sender: sender, calls: calls, log: log, q: make(chan call.Event, 4096), ctx: ctx}
	n.wg.Add(1)
	go n.run()
	return n
}

// Observe implements call.Observer.
func (n *notifier) Observe(ev call.Event) {
	if webhookType(ev) == "" {
		return
	}
	if ev.Type == call.EventPaymentResult {
		n.publish(ev)
		return
	}
	n.mu.RLock()
	defer n.mu.RUnlock()
	if n.closed {
		return
	}
	select {
	case n.q <- ev:
	default:
		n.log.Error("webhook queue full: event not sent", "type", ev.Type, "capture", ev.CaptureID)
	}
}

// run publishes queued events until the queue is closed and empty.
func (n *notifier) run() {
	defer n.wg.Done()
	for ev := range n.q {
		n.publish(ev)
	}
}

// publish sends one event to the outbox, retrying briefly while NATS is
// unreachable.
func (n *notifier) publish(ev call.Event) {
	we := webhook.Event{
		ID:        webhook.NewEventID(),
		Type:      webhookType(ev),
		CaptureID: ev.CaptureID,
		CallID:    ev.CallID,
		Outcome:   ev.Outcome,
		Reason:    ev.Reason,
		Brand:     ev.Brand,
		Last4:     ev.Last4,
		At:        ev.At,
	}
	if v, err := n.calls().Capture(ev.CaptureID); err == nil {
		we.Reference, we.Amount, we.Currency, we.Provider = v.Reference, v.Amount, v.Currency, v.Provider
		if we.Brand == "" {
			we.Brand, we.Last4 = v.Brand, v.Last4
		}
	}
	if ev.Payment != nil {
		we.ProviderReference, we.Token = ev.Payment.ProviderReference, ev.Payment.Token
	}
	if we.Outcome == "" {
		we.Outcome = strings.TrimPrefix(we.Type, "capture.")
	}
	for attempt := 1; ; attempt++ {
		ctx, cancel := context.WithTimeout(n.ctx, 5*time.Second)
		err := n.sender.Publish(ctx, we)
		cancel()
		if err == nil {
			return
		}
		if attempt == 5 || n.ctx.Err() != nil {
			n.log.Error("webhook event could not be stored", "type", we.Type, "capture", we.CaptureID, "err", err)
			return
		}
		time.Sleep(time.Duration(attempt) * 200 * time.Millisecond)
	}
}

// close publishes what is queued and stops. Safe to call more than once.
func (n *notifier) close() {
	n.mu.Lock()
	if !n.closed {
		n.closed = true
		close(n.q)
	}
	n.mu.Unlock()
	n.wg.Wait()
}

// webhookType maps a progress event to the webhook event CRMs receive, or
// "" for progress CRMs are not told about.
func webhookType(ev call.Event) string {
	switch ev.Type {
	case call.EventCaptureStarted:
		return webhook.TypeCaptureStarted
	case call.EventPaymentResult:
		switch ev.Outcome {
		case "approved":
			return webhook.TypePaymentApproved
		case "declined":
			return webhook.TypePaymentDeclined
		case "failed-before-sending":
			return webhook.TypePaymentFailed
		case "unknown":
			return webhook.TypePaymentUnknown
		}
	case call.EventCaptureFinished:
		switch ev.Outcome {
		case "cancelled":
			return webhook.TypeCaptureCancelled
		case "caller-hung-up":
			return webhook.TypeCaptureCallerHungUp
		case "arming-failed", "attempts-exhausted":
			return webhook.TypePaymentFailed // nothing reached the provider
		}
	}
	return ""
}

// observers calls each observer in order.
type observers []call.Observer

func (o observers) Observe(ev call.Event) {
	for _, x := range o {
		if x != nil {
			x.Observe(ev)
		}
	}
}
