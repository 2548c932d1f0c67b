package call

import (
	"sync"
	"time"

	"github.com/tonewall/tonewall/controller/capture"
)

// record is a capture's digit-free state, shared between the call's loop,
// the payment goroutine and API readers.
type record struct {
	id     string
	callID string
	req    CaptureRequest

	mu      sync.Mutex
	state   string
	field   string
	fields  []FieldView
	brand   string
	last4   string
	outcome string
	reason  string
	masking string // off, arming, on, left-on, disarming, disarm-failed
	payment *PaymentResult
	created time.Time
	updated time.Time
}

func (r *record) view() CaptureView {
	r.mu.Lock()
	defer r.mu.Unlock()
	v := CaptureView{
		ID:        r.id,
		CallID:    r.callID,
		State:     r.state,
		Field:     r.field,
		Amount:    r.req.Amount,
		Currency:  r.req.Currency,
		Reference: r.req.Reference,
		Provider:  r.req.Provider,
		Operation: r.req.Operation,
		Fields:    append([]FieldView(nil), r.fields...),
		Brand:     r.brand,
		Last4:     r.last4,
		Outcome:   r.outcome,
		Reason:    r.reason,
		Masking:   r.masking,
		CreatedAt: r.created,
		UpdatedAt: r.updated,
	}
	if r.payment != nil {
		p := *r.payment
		v.Payment = &p
	}
	return v
}

// fromSnapshot copies the engine's digit-free snapshot.
func (r *record) fromSnapshot(s capture.Snapshot, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.state = string(s.State)
	r.field = string(s.Field)
	r.fields = r.fields[:0]
	for _, f := range s.Fields {
		r.fields = append(r.fields, FieldView{
			Field:    string(f.Field),
			Done:     f.Done,
			Digits:   f.Digits,
			Attempts: f.Attempts,
			Valid:    f.Valid,
			Reason:   string(f.Reason),
		})
	}
	if s.Brand != "" {
		r.brand = string(s.Brand)
	}
	if s.Last4 != "" {
		r.last4 = s.Last4
	}
	r.updated = now
}

func (r *record) set(now time.Time, fn func(r *record)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fn(r)
	r.updated = now
}
