// Package call runs one FreeSWITCH call on the controller: it sets up the
// outbound Event Socket session (events filtered to both legs, in-band DTMF
// detection, the bridge to the agent), and runs card captures on it by
// driving the capture engine and carrying out its actions — masking,
// prompts, timers, and handing the finished card to a Sink.
package call

import (
	"context"
	"errors"
	"time"

	"github.com/tonewall/tonewall/controller/capture"
	"github.com/tonewall/tonewall/controller/card"
)

// Errors returned by the Manager. Check them with errors.Is.
var (
	ErrCallNotFound    = errors.New("call not found")
	ErrCaptureNotFound = errors.New("capture not found")
	ErrCallNotReady    = errors.New("call is not bridged to an agent yet")
	ErrCaptureActive   = errors.New("a capture is already running on this call")
	ErrCaptureFinished = errors.New("capture has already finished")
	ErrCallEnded       = errors.New("call has ended")
	ErrInvalidRequest  = errors.New("invalid request")
	// ErrProviderUnavailable means the payment provider named in a capture
	// request is unknown or has no usable credentials: the capture is
	// refused before the customer is asked for anything.
	ErrProviderUnavailable = errors.New("payment provider unavailable")
	// ErrMaskingFailed means the switch refused a masking step: the capture
	// was aborted before the customer was prompted, and whatever masking
	// was applied stays on (fail closed).
	ErrMaskingFailed = errors.New("masking could not be armed; capture aborted with masking left on")
)

// Payment is what a Sink receives when a card is complete. Card is owned by
// the Sink for the duration of Submit; the caller wipes it afterwards.
type Payment struct {
	CaptureID      string
	CallID         string
	Provider       string
	Operation      string
	Amount         int64
	Currency       string
	Reference      string
	IdempotencyKey string
	Card           *card.Card
}

// PaymentResult is the outcome of a payment; it never carries card data.
type PaymentResult struct {
	// Outcome is approved, declined, failed-before-sending, unknown or
	// recorded (the recording sink's outcome when no provider is wired).
	Outcome           string `json:"outcome"`
	Reason            string `json:"reason,omitempty"`
	ProviderCode      string `json:"provider_code,omitempty"`
	ProviderMessage   string `json:"provider_message,omitempty"`
	ProviderReference string `json:"provider_reference,omitempty"`
	Token             string `json:"token,omitempty"`
}

// Sink takes a completed card and turns it into a payment.
type Sink interface {
	Submit(ctx context.Context, p Payment) (PaymentResult, error)
}

// Providers says whether a payment provider can take a payment now.
type Providers interface {
	// Usable returns nil if the provider can take a payment, or an error
	// saying why not (unknown provider, no credentials, plugin down).
	Usable(name string) error
}

// Observer receives every progress event. Observe must not block.
type Observer interface {
	Observe(ev Event)
}

// ObserverFunc adapts a function to Observer.
type ObserverFunc func(Event)

// Observe calls f(ev).
func (f ObserverFunc) Observe(ev Event) { f(ev) }

// Event types published to the Observer.
const (
	EventCallStarted        = "call.started"
	EventCallBridged        = "call.bridged"
	EventCallEnded          = "call.ended"
	EventCaptureStarted     = "capture.started"
	EventMaskingArmed       = "masking.armed"
	EventMaskingFailed      = "masking.failed"
	EventMaskingDisarmed    = "masking.disarmed"
	EventDisarmFailed       = "masking.disarm_failed"
	EventFieldPrompted      = "field.prompted"
	EventFieldDigit         = "field.digit"
	EventFieldValid         = "field.valid"
	EventFieldInvalid       = "field.invalid"
	EventFieldTimeout       = "field.timeout"
	EventFieldRestarted     = "field.restarted"
	EventCardComplete       = "capture.card_complete"
	EventCaptureFinished    = "capture.finished"
	EventPaymentResult      = "payment.result"
	EventPaymentSubmitError = "payment.error"
)

// Event is one step of progress. It never holds a card digit: digits are
// counted, and the last four of the PAN appear only once it is complete
// and valid.
type Event struct {
	Type      string         `json:"type"`
	CallID    string         `json:"call_id"`
	CaptureID string         `json:"capture_id,omitempty"`
	Field     string         `json:"field,omitempty"`
	Digits    int            `json:"digits,omitempty"`
	Attempt   int            `json:"attempt,omitempty"`
	Reason    string         `json:"reason,omitempty"`
	Brand     string         `json:"brand,omitempty"`
	Last4     string         `json:"last4,omitempty"`
	Required  []string       `json:"required,omitempty"`
	Outcome   string         `json:"outcome,omitempty"`
	Payment   *PaymentResult `json:"payment,omitempty"`
	At        time.Time      `json:"at"`
}

// CaptureRequest starts a capture on a call.
type CaptureRequest struct {
	Amount         int64           `json:"amount"`
	Currency       string          `json:"currency"`
	Reference      string          `json:"reference"`
	Provider       string          `json:"provider,omitempty"`
	Operation      string          `json:"operation,omitempty"`
	Fields         []capture.Field `json:"fields,omitempty"`
	IdempotencyKey string          `json:"idempotency_key,omitempty"`
}

// FieldView is the digit-free state of one field.
type FieldView struct {
	Field    string `json:"field"`
	Done     bool   `json:"done"`
	Digits   int    `json:"digits"`
	Attempts int    `json:"attempts"`
	Valid    bool   `json:"valid"`
	Reason   string `json:"reason,omitempty"`
}

// CaptureView is the digit-free state of a capture, as the API shows it.
type CaptureView struct {
	ID        string         `json:"id"`
	CallID    string         `json:"call_id"`
	State     string         `json:"state"`
	Field     string         `json:"field,omitempty"`
	Amount    int64          `json:"amount"`
	Currency  string         `json:"currency"`
	Reference string         `json:"reference"`
	Provider  string         `json:"provider,omitempty"`
	Operation string         `json:"operation,omitempty"`
	Fields    []FieldView    `json:"fields"`
	Brand     string         `json:"brand,omitempty"`
	Last4     string         `json:"last4,omitempty"`
	Outcome   string         `json:"outcome,omitempty"`
	Reason    string         `json:"reason,omitempty"`
	Masking   string         `json:"masking"`
	Payment   *PaymentResult `json:"payment,omitempty"`
	CreatedAt time.Time      `json:"created_at"`
	UpdatedAt time.Time      `json:"updated_at"`
}

// CallView is the state of a live call.
type CallView struct {
	ID        string    `json:"id"`
	AgentLeg  string    `json:"agent_leg,omitempty"`
	Bridged   bool      `json:"bridged"`
	Caller    string    `json:"caller,omitempty"`
	AgentID   string    `json:"agent_id,omitempty"`
	Capture   string    `json:"capture_id,omitempty"`
	StartedAt time.Time `json:"started_at"`
}
