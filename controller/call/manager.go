package call

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tonewall/tonewall/controller/capture"
	"github.com/tonewall/tonewall/controller/card"
	"github.com/tonewall/tonewall/controller/esl"
	"github.com/tonewall/tonewall/controller/media"
)

// Defaults for Options.
const (
	DefaultLinger          = 5
	DefaultAgentVariable   = "tonewall_agent"
	DefaultRecordVariable  = "tonewall_record_path"
	DefaultLangVariable    = "tonewall_language"
	DefaultAgentIDVariable = "tonewall_agent_id"
	DefaultDisarmAttempts  = 3
	DefaultSubmitTimeout   = 60 * time.Second
	DefaultSetupTimeout    = 10 * time.Second
	DefaultProvider        = "example"
	DefaultOperation       = "sale"
	// DefaultRetention is how long a finished capture stays readable.
	DefaultRetention = time.Hour
)

// Options configures a Manager. Zero values mean the defaults.
type Options struct {
	Logger *slog.Logger
	// Capture is the base capture configuration; a request may change the
	// fields.
	Capture capture.Config
	// Prompts locates prompt files on the FreeSWITCH host.
	Prompts media.Prompts
	// Tone is the feedback the agent hears while the customer keys.
	Tone string
	// MaskRecording also masks FreeSWITCH's recording of the customer leg
	// during capture (needs the record-path channel variable).
	MaskRecording bool
	// Linger is how many seconds FreeSWITCH keeps the socket after hang-up.
	Linger int
	// AgentVariable names the channel variable holding the agent's dial string.
	AgentVariable string
	// RecordVariable names the channel variable holding the recording path.
	RecordVariable string
	// DisarmAttempts is how often each disarm step is tried.
	DisarmAttempts int
	// SubmitTimeout bounds a payment.
	SubmitTimeout time.Duration
	// SetupTimeout bounds the call set-up commands together.
	SetupTimeout time.Duration
	// DefaultProvider and DefaultOperation apply when a request names none.
	DefaultProvider  string
	DefaultOperation string
	// Sink receives completed cards. Required.
	Sink Sink
	// Providers checks a request's provider before a capture starts; nil
	// accepts any provider name.
	Providers Providers
	// Observer receives progress events; may be nil.
	Observer Observer
	// Now is the clock; time.Now if nil.
	Now func() time.Time
	// Retention is how long finished captures stay readable.
	Retention time.Duration
}

func (o *Options) setDefaults() {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Linger <= 0 {
		o.Linger = DefaultLinger
	}
	if o.AgentVariable == "" {
		o.AgentVariable = DefaultAgentVariable
	}
	if o.RecordVariable == "" {
		o.RecordVariable = DefaultRecordVariable
	}
	if o.DisarmAttempts <= 0 {
		o.DisarmAttempts = DefaultDisarmAttempts
	}
	if o.SubmitTimeout <= 0 {
		o.SubmitTimeout = DefaultSubmitTimeout
	}
	if o.SetupTimeout <= 0 {
		o.SetupTimeout = DefaultSetupTimeout
	}
	if o.DefaultProvider == "" {
		o.DefaultProvider = DefaultProvider
	}
	if o.DefaultOperation == "" {
		o.DefaultOperation = DefaultOperation
	}
	if o.Observer == nil {
		o.Observer = ObserverFunc(func(Event) {})
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Retention <= 0 {
		o.Retention = DefaultRetention
	}
}

// Manager holds the live calls and the captures run on them.
type Manager struct {
	opts   Options
	log    *slog.Logger
	ctx    context.Context // payments run under it; cancelled by Close
	cancel context.CancelFunc

	mu       sync.Mutex
	calls    map[string]*Call
	captures map[string]*record
	byKey    map[string]string // idempotency key → capture id
	pruned   time.Time         // when finished captures were last pruned
	submits  sync.WaitGroup
}

// NewManager returns a Manager. It fails if no Sink is given or the base
// capture configuration is invalid.
func NewManager(opts Options) (*Manager, error) {
	opts.setDefaults()
	if opts.Sink == nil {
		return nil, fmt.Errorf("call: a Sink is required")
	}
	if _, err := capture.New(opts.Capture); err != nil {
		return nil, fmt.Errorf("call: capture configuration: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Manager{
		ctx:      ctx,
		cancel:   cancel,
		opts:     opts,
		log:      opts.Logger,
		calls:    make(map[string]*Call),
		captures: make(map[string]*record),
		byKey:    make(map[string]string),
	}, nil
}

// Handle runs one call; it is the esl.Handler for the controller.
func (m *Manager) Handle(ctx context.Context, s *esl.Session) {
	c := newCall(m, s)
	if err := c.setup(ctx); err != nil {
		m.log.Warn("call set-up failed", "call", c.id, "err", err)
		return
	}
	m.mu.Lock()
	m.calls[c.id] = c
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		delete(m.calls, c.id)
		m.mu.Unlock()
	}()
	c.run(ctx)
}

// Close waits for the payments in flight to finish, until ctx is done; then
// it cancels the rest. Safe to call more than once.
func (m *Manager) Close(ctx context.Context) error {
	done := make(chan struct{})
	go func() { m.submits.Wait(); close(done) }()
	defer m.cancel()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		m.cancel()
		<-done
		return fmt.Errorf("call: payments cut at shutdown: %w", ctx.Err())
	}
}

// Calls lists the live calls.
func (m *Manager) Calls() []CallView {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]CallView, 0, len(m.calls))
	for _, c := range m.calls {
		out = append(out, c.view())
	}
	slices.SortFunc(out, func(a, b CallView) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// Call returns one live call.
func (m *Manager) Call(id string) (CallView, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.calls[id]
	if !ok {
		return CallView{}, fmt.Errorf("call %s: %w", id, ErrCallNotFound)
	}
	return c.view(), nil
}

// StartCapture starts a card capture on a live, bridged call. A repeated
// request with the same idempotency key returns the existing capture.
func (m *Manager) StartCapture(ctx context.Context, callID string, req CaptureRequest) (CaptureView, error) {
	if err := m.validate(&req); err != nil {
		return CaptureView{}, err
	}
	m.mu.Lock()
	if req.IdempotencyKey != "" {
		if id, ok := m.byKey[callID+"\x00"+req.IdempotencyKey]; ok {
			r := m.captures[id]
			m.mu.Unlock()
			return r.view(), nil
		}
	}
	c, ok := m.calls[callID]
	m.mu.Unlock()
	if !ok {
		return CaptureView{}, fmt.Errorf("call %s: %w", callID, ErrCallNotFound)
	}
	return c.do(ctx, func(c *Call) (CaptureView, error) { return c.startCapture(req) })
}

// ResolvePayment records the final outcome of a payment whose result was
// unknown when it was submitted (the provider's plugin died mid-call and
// the outcome was resolved later by a status query).
func (m *Manager) ResolvePayment(captureID string, res PaymentResult) {
	m.mu.Lock()
	r, ok := m.captures[captureID]
	m.mu.Unlock()
	if !ok {
		m.log.Warn("resolved payment for an unknown capture", "capture", captureID, "outcome", res.Outcome)
		return
	}
	r.set(m.opts.Now(), func(r *record) {
		r.payment = &res
		r.outcome = res.Outcome
		r.reason = res.Reason
	})
	v := r.view()
	m.log.Info("payment resolved", "capture", captureID, "outcome", res.Outcome)
	m.publish(Event{Type: EventPaymentResult, CallID: v.CallID, CaptureID: captureID, Outcome: res.Outcome,
		Reason: res.Reason, Brand: v.Brand, Last4: v.Last4, Payment: &res})
}

// Capture returns a capture's digit-free state.
func (m *Manager) Capture(id string) (CaptureView, error) {
	m.mu.Lock()
	r, ok := m.captures[id]
	m.mu.Unlock()
	if !ok {
		return CaptureView{}, fmt.Errorf("capture %s: %w", id, ErrCaptureNotFound)
	}
	return r.view(), nil
}

// Captures lists a call's captures, oldest first.
func (m *Manager) Captures(callID string) []CaptureView {
	m.mu.Lock()
	var rs []*record
	for _, r := range m.captures {
		if r.callID == callID {
			rs = append(rs, r)
		}
	}
	m.mu.Unlock()
	out := make([]CaptureView, 0, len(rs))
	for _, r := range rs {
		out = append(out, r.view())
	}
	slices.SortFunc(out, func(a, b CaptureView) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return out
}

// CancelCapture cancels a running capture; masking is disarmed.
func (m *Manager) CancelCapture(ctx context.Context, id string) (CaptureView, error) {
	return m.onCapture(ctx, id, func(c *Call) (CaptureView, error) { return c.command(id, capture.Cancel{}) })
}

// RestartField asks the customer to key one field again (or for the first
// time, in any order).
func (m *Manager) RestartField(ctx context.Context, id string, f capture.Field) (CaptureView, error) {
	switch f {
	case capture.FieldPAN, capture.FieldExpiry, capture.FieldCVV, capture.FieldPostcode:
	default:
		return CaptureView{}, fmt.Errorf("%w: unknown field %q", ErrInvalidRequest, f)
	}
	return m.onCapture(ctx, id, func(c *Call) (CaptureView, error) { return c.command(id, capture.RestartField{Field: f}) })
}

func (m *Manager) onCapture(ctx context.Context, id string, fn func(*Call) (CaptureView, error)) (CaptureView, error) {
	m.mu.Lock()
	r, ok := m.captures[id]
	var c *Call
	if ok {
		c = m.calls[r.callID]
	}
	m.mu.Unlock()
	if !ok {
		return CaptureView{}, fmt.Errorf("capture %s: %w", id, ErrCaptureNotFound)
	}
	if c == nil {
		if v := r.view(); isTerminal(v.State) {
			return v, fmt.Errorf("capture %s: %w", id, ErrCaptureFinished)
		}
		return CaptureView{}, fmt.Errorf("capture %s: %w", id, ErrCallEnded)
	}
	return c.do(ctx, fn)
}

func (m *Manager) validate(req *CaptureRequest) error {
	if req.Amount <= 0 {
		return fmt.Errorf("%w: amount must be a positive number of minor units", ErrInvalidRequest)
	}
	if len(req.Currency) != 3 || strings.ToUpper(req.Currency) != req.Currency || strings.Trim(req.Currency, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != "" {
		return fmt.Errorf("%w: currency must be an ISO 4217 code such as GBP", ErrInvalidRequest)
	}
	if req.Reference == "" || len(req.Reference) > 64 {
		return fmt.Errorf("%w: reference must be 1 to 64 characters", ErrInvalidRequest)
	}
	if card.ContainsPAN([]byte(req.Reference)) {
		return fmt.Errorf("%w: reference must not hold a card number", ErrInvalidRequest)
	}
	if req.Provider == "" {
		req.Provider = m.opts.DefaultProvider
	}
	if req.Operation == "" {
		req.Operation = m.opts.DefaultOperation
	}
	if m.opts.Providers != nil {
		if err := m.opts.Providers.Usable(req.Provider); err != nil {
			return fmt.Errorf("%w: %s: %v", ErrProviderUnavailable, req.Provider, err)
		}
	}
	switch req.Operation {
	case "sale", "authorize", "tokenize":
	default:
		return fmt.Errorf("%w: operation must be sale, authorize or tokenize", ErrInvalidRequest)
	}
	if len(req.IdempotencyKey) > 128 {
		return fmt.Errorf("%w: idempotency key longer than 128 characters", ErrInvalidRequest)
	}
	cfg := m.opts.Capture
	if len(req.Fields) > 0 {
		cfg.Fields = req.Fields
	}
	if _, err := capture.New(cfg); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidRequest, err)
	}
	return nil
}

func (m *Manager) newRecord(callID string, req CaptureRequest, fields []capture.Field) *record {
	now := m.opts.Now()
	r := &record{
		id:      newCaptureID(),
		callID:  callID,
		req:     req,
		state:   string(capture.StateIdle),
		masking: "off",
		created: now,
		updated: now,
	}
	for _, f := range fields {
		r.fields = append(r.fields, FieldView{Field: string(f)})
	}
	m.mu.Lock()
	m.captures[r.id] = r
	if req.IdempotencyKey != "" {
		m.byKey[callID+"\x00"+req.IdempotencyKey] = r.id
	}
	if now.Sub(m.pruned) > time.Minute {
		m.pruneLocked(now)
		m.pruned = now
	}
	m.mu.Unlock()
	return r
}

// idLetters spell capture ids: sixteen consonants, so an id holds no digit
// at all and no card-number guard can mistake one for a card (nor can it
// spell a word).
const idLetters = "bcdfghjklmnpqrst"

// newCaptureID returns "cap_" and 32 random letters (128 bits).
func newCaptureID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	id := make([]byte, 0, 4+2*len(b))
	id = append(id, "cap_"...)
	for _, x := range b {
		id = append(id, idLetters[x>>4], idLetters[x&0x0f])
	}
	return string(id)
}

// pruneLocked forgets finished captures older than the retention.
func (m *Manager) pruneLocked(now time.Time) {
	for id, r := range m.captures {
		v := r.view()
		if isTerminal(v.State) && now.Sub(v.UpdatedAt) > m.opts.Retention {
			delete(m.captures, id)
			if r.req.IdempotencyKey != "" {
				delete(m.byKey, r.callID+"\x00"+r.req.IdempotencyKey)
			}
		}
	}
}

func (m *Manager) publish(ev Event) {
	if ev.At.IsZero() {
		ev.At = m.opts.Now()
	}
	m.opts.Observer.Observe(ev)
}

func isTerminal(state string) bool {
	switch capture.State(state) {
	case capture.StateComplete, capture.StateCancelled, capture.StateFailed, capture.StateHungUp:
		return true
	}
	return false
}
