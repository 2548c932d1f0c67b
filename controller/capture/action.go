package capture

import (
	"fmt"
	"time"

	"github.com/tonewall/tonewall/controller/card"
)

// Action is something the caller must do. Carry them out in order.
type Action interface {
	isAction()
	String() string
}

// Arm asks the caller to arm masking, confirming each step with the switch,
// then to report Armed or ArmFailed.
type Arm struct{}

// Disarm asks the caller to disarm masking in the exact reverse order.
type Disarm struct{}

// Prompt asks the caller to play an announcement to the customer.
type Prompt struct {
	Field  Field
	Kind   PromptKind
	Reason card.Reason // for PromptRetry
}

// StartTimer asks the caller to (re)start a timer: a new StartTimer for a
// timer replaces the previous one. When it expires, report TimerFired with
// the same Timer and Gen.
type StartTimer struct {
	Timer Timer
	After time.Duration
	Gen   uint64
}

// StopTimer asks the caller to stop a timer.
type StopTimer struct {
	Timer Timer
}

// Progress is masked progress for the agent and the audit trail.
type Progress struct {
	Event Event
}

// CardReady hands over the captured card. Ownership passes to the caller, who
// must call Card.Wipe after the payment call.
type CardReady struct {
	Card *card.Card
}

// Finished ends the capture. It is always the last action of its Step.
type Finished struct {
	Outcome Outcome
	Reason  string
}

func (Arm) isAction()        {}
func (Disarm) isAction()     {}
func (Prompt) isAction()     {}
func (StartTimer) isAction() {}
func (StopTimer) isAction()  {}
func (Progress) isAction()   {}
func (CardReady) isAction()  {}
func (Finished) isAction()   {}

// String describes the action.
func (Arm) String() string { return "arm" }

// String describes the action.
func (Disarm) String() string { return "disarm" }

// String describes the action.
func (a Prompt) String() string {
	if a.Reason != card.ReasonNone {
		return "prompt(" + string(a.Field) + " " + string(a.Kind) + " " + string(a.Reason) + ")"
	}
	return "prompt(" + string(a.Field) + " " + string(a.Kind) + ")"
}

// String describes the action.
func (a StartTimer) String() string {
	return fmt.Sprintf("start-timer(%s %s #%d)", a.Timer, a.After, a.Gen)
}

// String describes the action.
func (a StopTimer) String() string { return "stop-timer(" + string(a.Timer) + ")" }

// String describes the action.
func (a Progress) String() string { return "progress(" + a.Event.String() + ")" }

// String describes the action with the card masked.
func (a CardReady) String() string {
	if a.Card == nil {
		return "card-ready(nil)"
	}
	return "card-ready(" + a.Card.String() + ")"
}

// String describes the action.
func (a Finished) String() string {
	if a.Reason == "" {
		return "finished(" + string(a.Outcome) + ")"
	}
	return "finished(" + string(a.Outcome) + ": " + a.Reason + ")"
}

// String describes the event; like the event itself, it holds no digit value.
func (e Event) String() string {
	s := string(e.Type)
	if e.Field != "" {
		s += " " + string(e.Field)
	}
	switch e.Type {
	case EventDigit, EventFieldValid, EventFieldInvalid, EventTimeout:
		s += fmt.Sprintf(" digits=%d", e.Digits)
	}
	if e.Attempt > 0 {
		s += fmt.Sprintf(" attempt=%d", e.Attempt)
	}
	if e.Reason != card.ReasonNone {
		s += " reason=" + string(e.Reason)
	}
	if e.Timer != "" {
		s += " timer=" + string(e.Timer)
	}
	if e.Brand != card.Unknown {
		s += " brand=" + string(e.Brand)
	}
	if e.Last4 != "" {
		s += " last4=" + e.Last4
	}
	if len(e.Required) > 0 {
		s += fmt.Sprintf(" required=%v", e.Required)
	}
	if e.Outcome != "" {
		s += " outcome=" + string(e.Outcome)
	}
	return s
}
