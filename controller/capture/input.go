package capture

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"time"
)

// Input is something that happened: a digit, a timer, an agent command, a
// confirmation from the switch, a hang-up. String never shows a digit value.
type Input interface {
	isInput()
	String() string
}

// Start begins a capture. Today is the date used to check the expiry (the
// engine has no clock); a zero Today makes every expiry "too far ahead".
type Start struct {
	Today time.Time
}

// Armed reports that the switch confirmed every masking step.
type Armed struct{}

// ArmFailed reports that a masking step failed. The capture fails closed.
type ArmFailed struct {
	Reason string
}

// Digit is a key press: '0'–'9', '#' (ends the field) or '*' (restarts the
// field); other bytes are ignored, and so is every key outside state
// collecting (keys pressed while masking is being armed). At is when the
// switch detected the key, used to recognise one key press reported by two
// sources; set it from the event's timestamp.
//
// Digit prints, logs and marshals without its value, e.g. "digit(inband)".
type Digit struct {
	Digit  byte
	Source Source
	At     time.Time
}

// TimerFired reports that a timer started with StartTimer expired. Gen must be
// the generation from that StartTimer; older generations are ignored.
type TimerFired struct {
	Timer Timer
	Gen   uint64
}

// RestartField is the agent asking to (re)capture one field, whether or not
// it is complete: the field is cleared and prompted, then the remaining
// incomplete fields follow in configured order. Attempts already counted stay
// counted. It is ignored outside state collecting and for a field not in
// Config.Fields.
type RestartField struct {
	Field Field
}

// Cancel is the agent cancelling the capture.
type Cancel struct{}

// HangUp reports that the caller hung up.
type HangUp struct{}

func (Start) isInput()        {}
func (Armed) isInput()        {}
func (ArmFailed) isInput()    {}
func (Digit) isInput()        {}
func (TimerFired) isInput()   {}
func (RestartField) isInput() {}
func (Cancel) isInput()       {}
func (HangUp) isInput()       {}

// String describes the input.
func (Start) String() string { return "start" }

// String describes the input.
func (Armed) String() string { return "armed" }

// String describes the input.
func (in ArmFailed) String() string { return "arm-failed(" + in.Reason + ")" }

// String describes the input without the digit's value.
func (in Digit) String() string { return "digit(" + string(in.Source) + ")" }

// GoString describes the input without the digit's value.
func (in Digit) GoString() string { return "capture.Digit{Source:" + string(in.Source) + "}" }

// Format writes the description for every verb, so no verb prints the value.
func (in Digit) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		_, _ = f.Write([]byte(in.GoString()))
		return
	}
	_, _ = f.Write([]byte(in.String()))
}

// LogValue implements slog.LogValuer without the digit's value.
func (in Digit) LogValue() slog.Value {
	return slog.GroupValue(slog.String("source", string(in.Source)), slog.Time("at", in.At))
}

// MarshalJSON encodes the source and time only.
func (in Digit) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Source Source    `json:"source"`
		At     time.Time `json:"at"`
	}{in.Source, in.At})
}

// String describes the input.
func (in TimerFired) String() string {
	return fmt.Sprintf("timer-fired(%s #%d)", in.Timer, in.Gen)
}

// String describes the input.
func (in RestartField) String() string { return "restart(" + string(in.Field) + ")" }

// String describes the input.
func (Cancel) String() string { return "cancel" }

// String describes the input.
func (HangUp) String() string { return "hang-up" }
