// Package webhook sends payment outcomes to CRMs as signed webhooks, following
// the Standard Webhooks specification, through the durable outbox.
//
// Publish stores one outbox message per event and endpoint and returns once
// JetStream holds them. A Sender, on any controller sharing the outbox, pulls
// them, signs each attempt (webhook-id, webhook-timestamp, webhook-signature)
// and POSTs it. Retries are JetStream redeliveries with a delay, so they
// survive restarts. Every attempt and final state is kept in a JetStream
// key-value bucket, readable with Deliveries and re-sent with Replay.
package webhook

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tonewall/tonewall/controller/outbox"
)

// Defaults for the zero values of Options.
const (
	DefaultTimeout       = 10 * time.Second
	DefaultMaxRetryAfter = time.Hour
	DefaultWorkers       = 16
	DefaultRetention     = 30 * 24 * time.Hour
	DefaultUserAgent     = "Tonewall-Webhooks/1"

	// DeliveriesBucket is the key-value bucket of delivery records.
	DeliveriesBucket = "TONEWALL_WEBHOOK_DELIVERIES"
	// EndpointsBucket is the key-value bucket of disabled endpoints.
	EndpointsBucket = "TONEWALL_WEBHOOK_ENDPOINTS"
)

// DefaultSchedule returns the default delays before each attempt, counted
// from the failure of the one before: at once, 5 s, 5 min, 30 min, 2 h, 5 h,
// 10 h, 10 h; then the delivery is marked failed.
func DefaultSchedule() []time.Duration {
	return []time.Duration{0, 5 * time.Second, 5 * time.Minute, 30 * time.Minute,
		2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour}
}

// Outbox message headers.
const (
	headerEventID   = "Tonewall-Event-Id"
	headerEventType = "Tonewall-Event-Type"
	headerReplay    = "Tonewall-Replay"
)

// Options configure a Sender. Zero values mean the defaults; they are filled
// in by withDefaults, in one place.
type Options struct {
	// Endpoints receive the webhooks.
	Endpoints []Endpoint
	// Secrets supplies the signing secrets. Required.
	Secrets Secrets
	// AllowLoopbackHTTP accepts http:// URLs to loopback hosts (development and tests).
	AllowLoopbackHTTP bool
	// Timeout bounds one HTTP attempt. It must be shorter than the outbox's AckWait.
	Timeout time.Duration
	// Schedule is the delay before each attempt, counted from the failure of
	// the one before; its length is the number of attempts. The first attempt
	// is made at once, so Schedule[0] must be zero.
	Schedule []time.Duration
	// MaxRetryAfter caps the wait asked for by a Retry-After header.
	MaxRetryAfter time.Duration
	// Workers is the number of attempts made at once by this Sender.
	Workers int
	// Retention is how long delivery records are kept after their last change.
	Retention time.Duration
	// Transport carries the requests; nil means a clone of http.DefaultTransport.
	Transport http.RoundTripper
	// UserAgent is sent with every request.
	UserAgent string
	// Logger receives the Sender's logs. Nil discards them.
	Logger *slog.Logger
}

func (o Options) withDefaults(ackWait time.Duration) (Options, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Schedule == nil {
		o.Schedule = DefaultSchedule()
	}
	if o.MaxRetryAfter == 0 {
		o.MaxRetryAfter = DefaultMaxRetryAfter
	}
	if o.Workers == 0 {
		o.Workers = DefaultWorkers
	}
	if o.Retention == 0 {
		o.Retention = DefaultRetention
	}
	if o.UserAgent == "" {
		o.UserAgent = DefaultUserAgent
	}
	if o.Secrets == nil {
		return o, errors.New("webhook: Options.Secrets is required")
	}
	if o.Timeout < 0 || o.MaxRetryAfter < 0 || o.Workers < 0 || o.Retention < 0 {
		return o, errors.New("webhook: negative option")
	}
	if ackWait > 0 && o.Timeout >= ackWait {
		return o, fmt.Errorf("webhook: timeout %s must be shorter than the outbox AckWait %s", o.Timeout, ackWait)
	}
	if len(o.Schedule) == 0 || o.Schedule[0] != 0 {
		return o, errors.New("webhook: the schedule must start with a zero delay")
	}
	for _, d := range o.Schedule {
		if d < 0 {
			return o, errors.New("webhook: negative delay in the schedule")
		}
	}
	seen := map[string]bool{}
	for _, ep := range o.Endpoints {
		if err := ValidateEndpoint(ep, o.AllowLoopbackHTTP); err != nil {
			return o, err
		}
		if seen[ep.ID] {
			return o, fmt.Errorf("%w: duplicate id %q", ErrInvalidEndpoint, ep.ID)
		}
		seen[ep.ID] = true
	}
	return o, nil
}

// Sender publishes events to the outbox and delivers them. Publish,
// Deliveries, Replay and EnableEndpoint work without Start; Start begins
// delivering. It is safe for concurrent use.
type Sender struct {
	ob        *outbox.Outbox
	opts      Options
	log       *slog.Logger
	endpoints map[string]Endpoint
	store     store
	epKV      jetstream.KeyValue
	client    *http.Client

	mu       sync.Mutex
	disabled map[string]bool
	started  bool
	closed   bool
	cancel   context.CancelFunc
	wg       sync.WaitGroup
}

// New validates opts and opens the delivery log on ob. It does not start
// delivering; see Start.
func New(ctx context.Context, ob *outbox.Outbox, opts Options) (*Sender, error) {
	opts, err := opts.withDefaults(ob.AckWait())
	if err != nil {
		return nil, err
	}
	kv, err := ob.KeyValue(ctx, DeliveriesBucket, opts.Retention)
	if err != nil {
		return nil, fmt.Errorf("webhook: delivery log: %w", err)
	}
	epKV, err := ob.KeyValue(ctx, EndpointsBucket, 0)
	if err != nil {
		return nil, fmt.Errorf("webhook: endpoint states: %w", err)
	}
	tr := opts.Transport
	if tr == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = opts.Workers
		tr = t
	}
	s := &Sender{
		ob:        ob,
		opts:      opts,
		log:       opts.Logger.With("component", "webhook"),
		endpoints: make(map[string]Endpoint, len(opts.Endpoints)),
		store:     store{kv: kv},
		epKV:      epKV,
		disabled:  map[string]bool{},
		client: &http.Client{
			Transport: tr,
			// A redirect is not followed: the 3xx is the answer, and a failure.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	for _, ep := range opts.Endpoints {
		s.endpoints[ep.ID] = ep
	}
	return s, nil
}

// Start loads the disabled endpoints and starts delivering: one goroutine
// pulls from the outbox and Workers goroutines make the attempts. ctx bounds
// the start only; delivery goes on until Close.
func (s *Sender) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("webhook: sender closed")
	}
	if s.started {
		return errors.New("webhook: sender already started")
	}
	runCtx, cancel := context.WithCancel(context.Background())
	w, err := s.epKV.WatchAll(runCtx)
	if err != nil {
		cancel()
		return fmt.Errorf("webhook: watch endpoints: %w", err)
	}
	if err := s.loadEndpointStates(ctx, w); err != nil {
		w.Stop()
		cancel()
		return err
	}
	recv, err := s.ob.Receive(runCtx, s.opts.Workers)
	if err != nil {
		w.Stop()
		cancel()
		return fmt.Errorf("webhook: %w", err)
	}
	s.started = true
	s.cancel = cancel
	jobs := make(chan *outbox.Msg)
	s.wg.Go(func() { s.watchEndpoints(runCtx, w) })
	s.wg.Go(func() { s.dispatch(runCtx, recv, jobs) })
	for range s.opts.Workers {
		s.wg.Go(func() {
			for m := range jobs {
				s.handle(runCtx, m)
			}
		})
	}
	s.log.Info("webhook sender started", "workers", s.opts.Workers, "endpoints", len(s.endpoints))
	return nil
}

// Close stops delivering and waits for every goroutine. Attempts in flight
// are abandoned and their messages handed back at once, unrecorded, so
// another controller (or this one, after a restart) makes them again. Close
// does not close the outbox. It is safe to call more than once.
func (s *Sender) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	cancel := s.cancel
	s.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	s.wg.Wait()
	s.client.CloseIdleConnections()
	s.log.Info("webhook sender stopped")
	return nil
}

// dispatch pulls messages and hands them to the workers until ctx is done.
func (s *Sender) dispatch(ctx context.Context, recv *outbox.Receiver, jobs chan<- *outbox.Msg) {
	defer close(jobs)
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		recv.Close(cctx)
	}()
	for {
		m, err := recv.Next(ctx)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, outbox.ErrClosed) {
				return
			}
			s.log.Warn("outbox receive failed", "err", err)
			if sleep(ctx, 200*time.Millisecond) != nil {
				return
			}
			continue
		}
		select {
		case jobs <- m:
		case <-ctx.Done():
			s.release(m)
			return
		}
	}
}

// loadEndpointStates reads the disabled endpoints up to the watcher's
// initial-values marker.
func (s *Sender) loadEndpointStates(ctx context.Context, w jetstream.KeyWatcher) error {
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("webhook: load endpoint states: %w", ctx.Err())
		case e, ok := <-w.Updates():
			if !ok {
				return errors.New("webhook: load endpoint states: watcher stopped")
			}
			if e == nil {
				return nil
			}
			s.applyEndpointState(e)
		}
	}
}

// watchEndpoints follows changes to the endpoint states made by any controller.
func (s *Sender) watchEndpoints(ctx context.Context, w jetstream.KeyWatcher) {
	defer w.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case e, ok := <-w.Updates():
			if !ok {
				return
			}
			if e != nil {
				s.applyEndpointState(e)
			}
		}
	}
}

func (s *Sender) applyEndpointState(e jetstream.KeyValueEntry) {
	disabled := false
	if e.Operation() == jetstream.KeyValuePut {
		disabled = true
	}
	s.mu.Lock()
	s.disabled[e.Key()] = disabled
	s.mu.Unlock()
}

func (s *Sender) isDisabled(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.disabled[id]
}

// Publish stores one outbox message per endpoint that wants ev.Type, and
// returns once all are durable. Publishing the same event again is safe: the
// outbox drops the duplicates, and so does the delivery log. A zero ev.At is
// set to now.
func (s *Sender) Publish(ctx context.Context, ev Event) error {
	if ev.At.IsZero() {
		ev.At = time.Now()
	}
	body, err := ev.body()
	if err != nil {
		return err
	}
	for _, ep := range s.opts.Endpoints {
		if !ep.wants(ev.Type) {
			continue
		}
		if err := s.enqueue(ctx, ev.ID, ev.Type, ep.ID, 0, body); err != nil {
			return err
		}
		_, err := s.store.update(ctx, recordKey(ev.ID, ep.ID), func(cur *record) (*record, error) {
			if cur != nil {
				return nil, nil
			}
			return newRecord(ev.ID, ev.Type, ep.ID, body), nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// enqueue publishes one delivery to the outbox. The message id is the event
// and endpoint ids, plus the replay number for a replay.
func (s *Sender) enqueue(ctx context.Context, eventID, eventType, endpointID string, replay int, body []byte) error {
	id := eventID + "." + endpointID
	if replay > 0 {
		id += ".r" + strconv.Itoa(replay)
	}
	_, err := s.ob.Publish(ctx, outbox.Message{
		ID:  id,
		Key: endpointID,
		Header: map[string]string{
			headerEventID:   eventID,
			headerEventType: eventType,
			headerReplay:    strconv.Itoa(replay),
		},
		Data: body,
	})
	if err != nil {
		return fmt.Errorf("webhook: enqueue %s for %s: %w", eventID, endpointID, err)
	}
	return nil
}

func newRecord(eventID, eventType, endpointID string, body []byte) *record {
	now := time.Now().UTC()
	return &record{
		Delivery: Delivery{
			EventID:     eventID,
			EventType:   eventType,
			EndpointID:  endpointID,
			State:       StatePending,
			NextAttempt: now,
			Created:     now,
		},
		Body: body,
	}
}

// sleep waits for d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
