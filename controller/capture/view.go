package capture

import (
	"fmt"
	"log/slog"

	"github.com/tonewall/tonewall/controller/card"
)

// State returns the current state.
func (e *Engine) State() State { return e.state }

// Field returns the field being collected, or "" outside state collecting.
func (e *Engine) Field() Field {
	if e.state != StateCollecting || e.cur < 0 {
		return ""
	}
	return e.fields[e.cur].field
}

// Config returns the configuration in use, with defaults filled in.
func (e *Engine) Config() Config {
	c := e.cfg
	c.Fields = append([]Field(nil), c.Fields...)
	c.Accepted = append([]card.Brand(nil), c.Accepted...)
	return c
}

// String describes the engine by its state and field only.
func (e *Engine) String() string {
	if f := e.Field(); f != "" {
		return "capture(" + string(e.state) + " " + string(f) + ")"
	}
	return "capture(" + string(e.state) + ")"
}

// Format writes String for every verb, so printing an engine never shows
// the digits it holds.
func (e *Engine) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(e.String())) }

// LogValue implements slog.LogValuer with the state and field only.
func (e *Engine) LogValue() slog.Value {
	return slog.GroupValue(slog.String("state", string(e.state)), slog.String("field", string(e.Field())))
}

// Snapshot returns the digit-free state of the capture.
func (e *Engine) Snapshot() Snapshot {
	s := Snapshot{
		State:    e.state,
		Field:    e.Field(),
		Required: append([]Field(nil), e.cfg.Fields...),
		Brand:    e.brand,
		Last4:    e.last4,
		Outcome:  e.outcome,
	}
	for _, f := range e.fields {
		s.Fields = append(s.Fields, FieldStatus{
			Field: f.field, Done: f.done, Digits: f.count, Attempts: f.attempts,
			Valid: f.valid, Reason: f.reason, TimedOut: f.timedOut,
		})
	}
	return s
}
