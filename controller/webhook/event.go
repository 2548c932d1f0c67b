package webhook

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/tonewall/tonewall/controller/card"
)

// Event types sent to CRMs.
const (
	TypeCaptureStarted      = "capture.started"
	TypePaymentApproved     = "payment.approved"
	TypePaymentDeclined     = "payment.declined"
	TypePaymentFailed       = "payment.failed"
	TypePaymentUnknown      = "payment.unknown"
	TypeCaptureCancelled    = "capture.cancelled"
	TypeCaptureCallerHungUp = "capture.caller_hung_up"
)

// Types returns every event type, in the order a capture goes through them.
func Types() []string {
	return []string{
		TypeCaptureStarted,
		TypePaymentApproved,
		TypePaymentDeclined,
		TypePaymentFailed,
		TypePaymentUnknown,
		TypeCaptureCancelled,
		TypeCaptureCallerHungUp,
	}
}

// KnownType reports whether t is one of Types.
func KnownType(t string) bool {
	switch t {
	case TypeCaptureStarted, TypePaymentApproved, TypePaymentDeclined, TypePaymentFailed,
		TypePaymentUnknown, TypeCaptureCancelled, TypeCaptureCallerHungUp:
		return true
	}
	return false
}

// Event is the outcome of a capture, as told to CRMs. It never holds card
// data: only the brand and the last four digits of the card.
type Event struct {
	// ID identifies the event; it is the webhook-id on every attempt and
	// replay. Use NewEventID, or any 1-100 letters, digits, '-' or '_'
	// without a run of 12 or more digits.
	ID   string
	Type string

	CaptureID, CallID, Reference string
	// Amount is in minor units of Currency.
	Amount int64

	Currency, Provider, Outcome, Reason, ProviderReference, Token, Brand, Last4 string

	// At is when it happened; zero means the time of Publish.
	At time.Time
}

// payload is the JSON body, in the shape Standard Webhooks recommends.
type payload struct {
	Type      string    `json:"type"`
	Timestamp time.Time `json:"timestamp"`
	Data      data      `json:"data"`
}

type data struct {
	CaptureID         string `json:"capture_id,omitempty"`
	CallID            string `json:"call_id,omitempty"`
	Reference         string `json:"reference,omitempty"`
	Amount            int64  `json:"amount"`
	Currency          string `json:"currency,omitempty"`
	Provider          string `json:"provider,omitempty"`
	Outcome           string `json:"outcome,omitempty"`
	Reason            string `json:"reason,omitempty"`
	ProviderReference string `json:"provider_reference,omitempty"`
	Token             string `json:"token,omitempty"`
	Brand             string `json:"brand,omitempty"`
	Last4             string `json:"last4,omitempty"`
}

// ErrCardData is returned when a payload would carry something that looks
// like a card number. The error never includes the offending text.
var ErrCardData = errors.New("webhook: payload refused: it contains what looks like a card number")

// ErrInvalidEvent is wrapped by the errors of Publish for an event it cannot send.
var ErrInvalidEvent = errors.New("webhook: invalid event")

var (
	idRE    = regexp.MustCompile(`^[A-Za-z0-9_-]{1,100}$`)
	last4RE = regexp.MustCompile(`^[0-9]{4}$`)
)

// validID reports whether s can be an event or endpoint id: it becomes a
// token of a NATS subject and of a key-value key.
func validID(s string) bool { return idRE.MatchString(s) }

// body validates ev and returns its JSON payload.
func (ev Event) body() ([]byte, error) {
	if !validID(ev.ID) {
		return nil, fmt.Errorf("%w: id must be 1-100 letters, digits, '-' or '_'", ErrInvalidEvent)
	}
	if !KnownType(ev.Type) {
		return nil, fmt.Errorf("%w: unknown type %q", ErrInvalidEvent, ev.Type)
	}
	if ev.Last4 != "" && !last4RE.MatchString(ev.Last4) {
		return nil, fmt.Errorf("%w: last4 must be four digits", ErrInvalidEvent)
	}
	if ev.At.IsZero() {
		return nil, fmt.Errorf("%w: no time", ErrInvalidEvent)
	}
	b, err := json.Marshal(payload{
		Type:      ev.Type,
		Timestamp: ev.At.UTC(),
		Data: data{
			CaptureID:         ev.CaptureID,
			CallID:            ev.CallID,
			Reference:         ev.Reference,
			Amount:            ev.Amount,
			Currency:          ev.Currency,
			Provider:          ev.Provider,
			Outcome:           ev.Outcome,
			Reason:            ev.Reason,
			ProviderReference: ev.ProviderReference,
			Token:             ev.Token,
			Brand:             ev.Brand,
			Last4:             ev.Last4,
		},
	})
	if err != nil {
		return nil, fmt.Errorf("webhook: encode event %s: %w", ev.ID, err)
	}
	// The id travels in the webhook-id header: it is checked as well.
	if err := checkNoCardNumber(b); err != nil {
		return nil, err
	}
	if err := checkNoCardNumber([]byte(ev.ID)); err != nil {
		return nil, err
	}
	return b, nil
}

// checkNoCardNumber refuses b if it holds a run of minDigitRun or more ASCII
// digits, which is what a leaked card number looks like. It is a last line of
// defence: no field is meant to carry card data in the first place.
func checkNoCardNumber(b []byte) error {
	if card.ContainsPAN(b) {
		return ErrCardData
	}
	return nil
}

// idEncoding is lower-case base32 without digits 0, 1, 8, 9: ids made from
// it rarely hold long runs of digits, and NewEventID rejects those that do.
var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// NewEventID returns a random event id, "evt_" and 26 characters.
func NewEventID() string {
	for {
		var b [16]byte
		_, _ = rand.Read(b[:])
		id := "evt_" + idEncoding.EncodeToString(b[:])
		if checkNoCardNumber([]byte(id)) == nil {
			return id
		}
	}
}
