package capture

import "github.com/tonewall/tonewall/controller/card"

// Field is one of the card fields the customer keys.
type Field string

// The fields. Postcode is captured only when listed in Config.Fields.
const (
	FieldPAN      Field = "pan"
	FieldExpiry   Field = "expiry"
	FieldCVV      Field = "cvv"
	FieldPostcode Field = "postcode"
)

// known reports whether f is one of the four fields.
func (f Field) known() bool {
	switch f {
	case FieldPAN, FieldExpiry, FieldCVV, FieldPostcode:
		return true
	}
	return false
}

// String returns the field's name.
func (f Field) String() string { return string(f) }

// Source is where a digit was detected. The caller maps the switch's
// DTMF-Source header: INBAND_AUDIO to SourceInband, RTP to SourceRTP, and
// ENDPOINT (SIP INFO), APP and UNKNOWN to SourceOther.
type Source string

// The digit sources.
const (
	SourceInband Source = "inband"
	SourceRTP    Source = "rtp"
	SourceOther  Source = "other"
)

// String returns the source's name.
func (s Source) String() string { return string(s) }

// State is the engine's state.
type State string

// The states. Complete, Cancelled, Failed and HungUp are terminal.
const (
	StateIdle       State = "idle"
	StateArming     State = "arming"
	StateCollecting State = "collecting"
	StateComplete   State = "complete"
	StateCancelled  State = "cancelled"
	StateFailed     State = "failed"
	StateHungUp     State = "hung-up"
)

// String returns the state's name.
func (s State) String() string { return string(s) }

// Terminal reports whether s is a final state in which the engine ignores
// every input.
func (s State) Terminal() bool {
	switch s {
	case StateComplete, StateCancelled, StateFailed, StateHungUp:
		return true
	}
	return false
}

// Timer names one of the two timers the caller runs for the engine.
type Timer string

// The timers. The inter-digit timer runs from each digit to the next; the field
// timer runs from a field's prompt to its completion.
const (
	TimerInterDigit Timer = "interdigit"
	TimerField      Timer = "field"
)

// String returns the timer's name.
func (t Timer) String() string { return string(t) }

// PromptKind says which announcement to play for a field.
type PromptKind string

// The prompt kinds.
const (
	PromptEnter   PromptKind = "enter"   // first ask for the field
	PromptRetry   PromptKind = "retry"   // the entry was invalid (see Prompt.Reason)
	PromptTimeout PromptKind = "timeout" // the customer took too long
	PromptRestart PromptKind = "restart" // after '*' or an agent restart
	PromptDone    PromptKind = "done"    // thank you, the card is complete
	PromptFailed  PromptKind = "failed"  // attempts used up
)

// String returns the kind's name.
func (k PromptKind) String() string { return string(k) }

// Outcome is how a capture ended.
type Outcome string

// The outcomes.
const (
	OutcomeCardReady         Outcome = "card-ready"
	OutcomeCancelled         Outcome = "cancelled"
	OutcomeCallerHungUp      Outcome = "caller-hung-up"
	OutcomeArmingFailed      Outcome = "arming-failed"
	OutcomeAttemptsExhausted Outcome = "attempts-exhausted"
)

// String returns the outcome's name.
func (o Outcome) String() string { return string(o) }

// EventType names a progress event.
type EventType string

// The progress event types.
const (
	EventStarted        EventType = "started"
	EventArmed          EventType = "armed"
	EventFieldPrompted  EventType = "field-prompted"
	EventDigit          EventType = "digit"
	EventFieldRestarted EventType = "field-restarted"
	EventFieldValid     EventType = "field-valid"
	EventFieldInvalid   EventType = "field-invalid"
	EventTimeout        EventType = "timeout"
	EventCardComplete   EventType = "card-complete"
	EventFinished       EventType = "finished"
)

// String returns the event type's name.
func (t EventType) String() string { return string(t) }

// Event is masked progress for the agent's screen and the audit trail. It
// never carries a digit value.
type Event struct {
	Type  EventType `json:"type"`
	Field Field     `json:"field,omitempty"`
	// Digits is the number of digits in the field so far (EventDigit) or at
	// completion (EventFieldValid, EventFieldInvalid, EventTimeout).
	Digits int `json:"digits,omitempty"`
	// Attempt is the 1-based number of the entry the event is about.
	Attempt int         `json:"attempt,omitempty"`
	Valid   bool        `json:"valid,omitempty"`
	Reason  card.Reason `json:"reason,omitempty"`
	// Brand is set once a PAN is complete (valid, or rejected with a
	// recognised brand), never from a partial PAN.
	Brand card.Brand `json:"brand,omitempty"`
	// Last4 is set only once the PAN is complete and valid.
	Last4 string `json:"last4,omitempty"`
	// Required lists the fields to capture, in order (EventStarted).
	Required []Field `json:"required,omitempty"`
	// Timer is the timer that fired (EventTimeout).
	Timer Timer `json:"timer,omitempty"`
	// Outcome is how the capture ended (EventFinished).
	Outcome Outcome `json:"outcome,omitempty"`
}

// FieldStatus is the digit-free state of one field.
type FieldStatus struct {
	Field    Field       `json:"field"`
	Done     bool        `json:"done"`
	Digits   int         `json:"digits"`
	Attempts int         `json:"attempts"` // failed attempts so far
	Valid    bool        `json:"valid"`
	Reason   card.Reason `json:"reason,omitempty"` // why the last attempt was rejected
	TimedOut bool        `json:"timed_out,omitempty"`
}

// Snapshot is the digit-free state of a capture, for an agent who connects
// mid-capture.
type Snapshot struct {
	State    State         `json:"state"`
	Field    Field         `json:"field,omitempty"` // the field being collected
	Fields   []FieldStatus `json:"fields"`          // in configured order
	Required []Field       `json:"required"`
	Brand    card.Brand    `json:"brand,omitempty"`
	Last4    string        `json:"last4,omitempty"`
	Outcome  Outcome       `json:"outcome,omitempty"`
}
