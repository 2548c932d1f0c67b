package stream

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/tonewall/tonewall/controller/call"
)

// ErrCardLike is returned for data that holds a run of MinDigitRun or more
// digits: it might be a card number, so it is never sent.
var ErrCardLike = errors.New("stream: data withheld: it holds a run of 12 or more digits")

// MinDigitRun is the shortest run of digits the guard refuses: the
// shortest card number.
const MinDigitRun = 12

// Progress is a progress event as the stream sends it. Like call.Event it
// holds no card digit: digits are counted, and the last four of the PAN
// appear only once the PAN is complete and valid.
type Progress struct {
	Type      string `json:"type"`
	CallID    string `json:"call_id"`
	CaptureID string `json:"capture_id,omitempty"`
	Field     string `json:"field,omitempty"`
	// Digits is how many digits the field holds so far.
	Digits  int `json:"digits,omitempty"`
	Attempt int `json:"attempt,omitempty"`
	// Result is the partial result of a field: valid, invalid or timeout.
	Result string `json:"result,omitempty"`
	// Reason is the machine-readable reason of an invalid entry or a
	// failure, e.g. luhn or expired.
	Reason string `json:"reason,omitempty"`
	// Error is the kind of error the event reports: invalid_entry,
	// timeout, masking_failed, disarm_failed, attempts_exhausted,
	// payment_error.
	Error    string    `json:"error,omitempty"`
	Brand    string    `json:"brand,omitempty"`
	Last4    string    `json:"last4,omitempty"`
	Required []string  `json:"required,omitempty"`
	Outcome  string    `json:"outcome,omitempty"`
	Payment  *Payment  `json:"payment,omitempty"`
	At       time.Time `json:"at"`
}

// Payment is the part of a payment result an agent's screen shows: the
// PSP's token and reference go to the CRM by webhook, not here.
type Payment struct {
	Outcome         string `json:"outcome"`
	Reason          string `json:"reason,omitempty"`
	ProviderCode    string `json:"provider_code,omitempty"`
	ProviderMessage string `json:"provider_message,omitempty"`
}

// ProgressOf converts a call event to its stream form.
func ProgressOf(ev call.Event) Progress {
	p := Progress{
		Type:      ev.Type,
		CallID:    ev.CallID,
		CaptureID: ev.CaptureID,
		Field:     ev.Field,
		Digits:    ev.Digits,
		Attempt:   ev.Attempt,
		Reason:    ev.Reason,
		Brand:     ev.Brand,
		Required:  ev.Required,
		Outcome:   ev.Outcome,
		At:        ev.At.UTC(),
	}
	if isLast4(ev.Last4) {
		p.Last4 = ev.Last4
	}
	if ev.Payment != nil {
		p.Payment = paymentOf(ev.Payment)
	}
	switch ev.Type {
	case call.EventFieldValid:
		p.Result = "valid"
	case call.EventFieldInvalid:
		p.Result, p.Error = "invalid", "invalid_entry"
	case call.EventFieldTimeout:
		p.Result, p.Error = "timeout", "timeout"
	case call.EventMaskingFailed:
		p.Error = "masking_failed"
	case call.EventDisarmFailed:
		p.Error = "disarm_failed"
	case call.EventPaymentSubmitError:
		p.Error = "payment_error"
	case call.EventCaptureFinished:
		switch ev.Outcome {
		case "attempts-exhausted":
			p.Error = "attempts_exhausted"
		case "arming-failed":
			p.Error = "masking_failed"
		}
	}
	return p
}

func paymentOf(r *call.PaymentResult) *Payment {
	return &Payment{Outcome: r.Outcome, Reason: r.Reason, ProviderCode: r.ProviderCode, ProviderMessage: r.ProviderMessage}
}

func isLast4(s string) bool {
	if len(s) != 4 {
		return false
	}
	for i := 0; i < 4; i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// CallStatus is the state of a call as the snapshot shows it.
type CallStatus struct {
	ID string `json:"id"`
	// Live is false once the call has ended.
	Live      bool   `json:"live"`
	Bridged   bool   `json:"bridged"`
	CaptureID string `json:"capture_id,omitempty"`
}

// Snapshot is the current state sent first on a stream (and again after
// events were dropped), so that a panel opened mid-capture is right.
type Snapshot struct {
	CallID   string             `json:"call_id"`
	Call     CallStatus         `json:"call"`
	Captures []call.CaptureView `json:"captures"`
}

// EncodeSnapshot returns the snapshot message. The PSP's token and
// reference are left out of the captures' payment, as from events, and
// the guard applies.
func EncodeSnapshot(s Snapshot) (Message, error) {
	ids := []string{s.CallID, s.Call.ID, s.Call.CaptureID}
	caps := make([]call.CaptureView, len(s.Captures))
	for i, v := range s.Captures {
		if v.Payment != nil {
			p := *v.Payment
			p.Token, p.ProviderReference = "", ""
			v.Payment = &p
		}
		if !isLast4(v.Last4) {
			v.Last4 = ""
		}
		caps[i] = v
		ids = append(ids, v.ID, v.CallID)
	}
	s.Captures = caps
	data, err := Encode(s, ids...)
	if err != nil {
		return Message{}, err
	}
	return Message{Type: TypeSnapshot, Data: data}, nil
}

// Encode marshals v to JSON and refuses the result, with ErrCardLike, if
// it holds a run of MinDigitRun or more digits anywhere but in the given
// ids (call and capture ids are made by the switch and the controller, and
// a UUID can hold twelve digits in a row by chance).
func Encode(v any, ids ...string) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("stream: encode: %w", err)
	}
	if err := Guard(b, ids...); err != nil {
		return nil, err
	}
	return b, nil
}

// Guard returns ErrCardLike if b holds a run of MinDigitRun or more ASCII
// digits outside the exempt ids. It is the last line of defence: no field
// is meant to carry card data in the first place.
func Guard(b []byte, ids ...string) error {
	scan := b
	for _, id := range ids {
		if id == "" {
			continue
		}
		q, _ := json.Marshal(id)
		scan = bytes.ReplaceAll(scan, q, []byte(`""`))
	}
	run := 0
	for _, c := range scan {
		if c >= '0' && c <= '9' {
			run++
			if run >= MinDigitRun {
				return ErrCardLike
			}
			continue
		}
		run = 0
	}
	return nil
}
