package call

import (
	"context"
	"sync"
)

// Submission is what RecordingSink keeps of a payment: no card data, only
// the brand and last four.
type Submission struct {
	CaptureID string `json:"capture_id"`
	CallID    string `json:"call_id"`
	Provider  string `json:"provider"`
	Operation string `json:"operation"`
	Amount    int64  `json:"amount"`
	Currency  string `json:"currency"`
	Reference string `json:"reference"`
	Brand     string `json:"brand"`
	Last4     string `json:"last4"`
}

// RecordingSink is a Sink that sends nothing anywhere: it records each
// completed capture (without card data) and answers "recorded". It stands
// in where no payment provider is wired.
type RecordingSink struct {
	mu   sync.Mutex
	subs []Submission
}

// Submit records p and reports the outcome "recorded".
func (s *RecordingSink) Submit(ctx context.Context, p Payment) (PaymentResult, error) {
	if err := ctx.Err(); err != nil {
		return PaymentResult{}, err
	}
	sub := Submission{
		CaptureID: p.CaptureID,
		CallID:    p.CallID,
		Provider:  p.Provider,
		Operation: p.Operation,
		Amount:    p.Amount,
		Currency:  p.Currency,
		Reference: p.Reference,
	}
	if p.Card != nil {
		sub.Brand = string(p.Card.Brand)
		sub.Last4 = p.Card.Last4
	}
	s.mu.Lock()
	s.subs = append(s.subs, sub)
	s.mu.Unlock()
	return PaymentResult{Outcome: "recorded"}, nil
}

// Submissions returns what has been recorded so far.
func (s *RecordingSink) Submissions() []Submission {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Submission(nil), s.subs...)
}
