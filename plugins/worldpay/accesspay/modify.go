package accesspay

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"time"

	"github.com/tonewall/tonewall/pluginsdk"
)

// Capture settles an authorisation through its settlePayment action (or
// partiallySettlePayment for less than the authorised amount).
func (p *Provider) Capture(ctx context.Context, req *pluginsdk.ModifyRequest) (*pluginsdk.Result, error) {
	return p.modify(ctx, pluginsdk.OpCapture, req)
}

// Void cancels an authorisation through its cancelPayment action.
func (p *Provider) Void(ctx context.Context, req *pluginsdk.ModifyRequest) (*pluginsdk.Result, error) {
	return p.modify(ctx, pluginsdk.OpVoid, req)
}

// Refund refunds a settled payment through its refundPayment action (or
// partiallyRefundPayment for less than the settled amount).
func (p *Provider) Refund(ctx context.Context, req *pluginsdk.ModifyRequest) (*pluginsdk.Result, error) {
	return p.modify(ctx, pluginsdk.OpRefund, req)
}

// partialBody is the body of partial settlements and refunds.
type partialBody struct {
	Reference string `json:"reference"`
	Value     value  `json:"value"`
}

// actionResponse is the 202 answer to settle, cancel and refund actions.
type actionResponse struct {
	Outcome string `json:"outcome"`
	Links   struct {
		Self *link `json:"self"`
	} `json:"_links"`
	Actions actions `json:"_actions"`
}

// queryEventsResponse is GET /api/payments/{linkData}.
type queryEventsResponse struct {
	LastEvent string  `json:"lastEvent"`
	Actions   actions `json:"_actions"`
}

func (p *Provider) modify(ctx context.Context, op pluginsdk.Operation, req *pluginsdk.ModifyRequest) (*pluginsdk.Result, error) {
	cfg, err := p.config()
	if err != nil {
		return nil, err
	}
	if req == nil {
		return nil, pluginsdk.Errorf(pluginsdk.KindInvalidRequest, "worldpay: nil modify request")
	}
	if err := checkIDs(req.TransactionID, req.IdempotencyKey); err != nil {
		return nil, err
	}
	ref, ok := decodeRef(req.ProviderReference)
	if !ok {
		return nil, pluginsdk.Errorf(pluginsdk.KindInvalidRequest, "worldpay: provider reference was not made by this plugin")
	}
	start := time.Now()
	if r, ok := p.memo.byIdempotencyKey(req.IdempotencyKey); ok && r.TransactionID == req.TransactionID {
		p.logResult(ctx, op, &r, 0, start)
		return &r, nil
	}
	base := pluginsdk.Result{TransactionID: req.TransactionID, ProviderReference: req.ProviderReference}
	fail := func(reason pluginsdk.Reason, msg string) (*pluginsdk.Result, error) {
		r := base
		r.Outcome, r.Reason, r.ProviderMessage = pluginsdk.OutcomeFailedBefore, reason, msg
		p.logResult(ctx, op, &r, 0, start)
		return &r, nil
	}

	amount := req.Amount
	full := amount.Minor == 0 || (amount.Minor == ref.Amount && strings.EqualFold(amount.Currency, ref.Currency))
	if !full && (!validCurrency(amount.Currency) || amount.Minor < 0 || amount.Minor > 1<<31-1) {
		return fail(pluginsdk.ReasonInvalidAmount, "amount rejected before sending")
	}
	pick := func(r providerRef) string {
		switch {
		case op == pluginsdk.OpVoid:
			return r.Cancel
		case op == pluginsdk.OpCapture && full:
			return r.Settle
		case op == pluginsdk.OpCapture:
			return r.PartialSettle
		case full:
			return r.Refund
		default:
			return r.PartialRefund
		}
	}
	target := pick(ref)
	if target == "" && ref.Self != "" {
		// The stored links are from an earlier state: ask for the current ones.
		if q, ok := p.queryEvents(ctx, cfg, ref.Self, req.IdempotencyKey); ok {
			ref = ref.withActions(q.Actions)
			target = pick(ref)
		}
	}
	if target == "" {
		return fail(pluginsdk.ReasonUnsupportedFeature, "Worldpay offers no "+string(op)+" action for this payment in its current state")
	}
	abs, err := cfg.resolve(target)
	if err != nil {
		return fail(pluginsdk.ReasonConfigError, err.Error())
	}
	var body []byte
	if !full {
		body, err = json.Marshal(partialBody{
			Reference: transactionReference(req.TransactionID),
			Value:     value{Currency: strings.ToUpper(amount.Currency), Amount: amount.Minor},
		})
		if err != nil {
			return nil, pluginsdk.Errorf(pluginsdk.KindInternal, "worldpay: encode %s: %v", op, err)
		}
	}
	ex := p.call(ctx, cfg, "POST", abs, jsonAccept, req.IdempotencyKey, body)
	r := interpretAction(base, ref, ex)
	if ex.status == 409 && ref.Self != "" {
		// The payment is not where the link expected it: its last event says
		// whether this operation already happened or cannot.
		if q, ok := p.queryEvents(ctx, cfg, ref.Self, req.IdempotencyKey); ok {
			msg := r.ProviderMessage
			r = fromEvent(base, op, q.LastEvent)
			r.ProviderMessage = msg
			if r.Outcome == pluginsdk.OutcomeFailedBefore {
				r.Outcome = pluginsdk.OutcomeDeclined
			}
		}
	}
	if r.Outcome != pluginsdk.OutcomeUnknown {
		p.memo.put(req.IdempotencyKey, r)
	}
	p.logResult(ctx, op, &r, ex.status, start)
	return &r, nil
}

func interpretAction(base pluginsdk.Result, ref providerRef, ex exchange) pluginsdk.Result {
	if ex.status == 0 {
		return transportResult(base, ex)
	}
	r := base
	if ex.status < 200 || ex.status > 299 {
		return errorResult(r, ex, nil)
	}
	var ar actionResponse
	_ = json.Unmarshal(ex.body, &ar)
	r.ProviderCode = ar.Outcome
	switch ar.Outcome {
	case "sentForSettlement", "sentForCancellation", "sentForRefund", "sentForPartialRefund", "authorized":
		r.Outcome = pluginsdk.OutcomeApproved
		next := ref.withActions(ar.Actions)
		if s := href(ar.Links.Self); s != "" {
			next.Self = s
		}
		r.ProviderReference = next.encode()
	case "refused":
		r.Outcome = pluginsdk.OutcomeDeclined
		r.Reason = pluginsdk.ReasonCardDeclined
	default:
		// 202 Accepted without an outcome: received, not yet processed.
		r.Outcome = pluginsdk.OutcomeApproved
		r.ProviderMessage = "accepted"
	}
	return r
}

// queryEvents fetches a payment's last event and current actions.
func (p *Provider) queryEvents(ctx context.Context, cfg *config, self, correlation string) (queryEventsResponse, bool) {
	var q queryEventsResponse
	abs, err := cfg.resolve(self)
	if err != nil {
		return q, false
	}
	ex := p.call(ctx, cfg, "GET", abs, jsonAccept, correlation, nil)
	if ex.status != 200 || json.Unmarshal(ex.body, &q) != nil {
		return q, false
	}
	return q, true
}

// Status reports what became of an earlier operation. A final result this
// plugin already returned is answered from memory. Otherwise, with a
// ProviderReference, the payment's own query link (GET /api/payments/...)
// gives its last event; without one, the Payment Queries API is searched by
// transactionReference. Payment Queries may lag a payment by up to a minute,
// so "not found" is reported as Unknown, never as "not sent".
func (p *Provider) Status(ctx context.Context, req *pluginsdk.StatusRequest) (*pluginsdk.Result, error) {
	cfg, err := p.config()
	if err != nil {
		return nil, err
	}
	if req == nil || req.TransactionID == "" {
		return nil, pluginsdk.Errorf(pluginsdk.KindInvalidRequest, "worldpay: transaction id is required")
	}
	start := time.Now()
	if r, ok := p.memo.byTransaction(req.TransactionID); ok {
		p.logResult(ctx, pluginsdk.OpStatus, &r, 0, start)
		return &r, nil
	}
	r := pluginsdk.Result{TransactionID: req.TransactionID, ProviderReference: req.ProviderReference, Outcome: pluginsdk.OutcomeUnknown, Reason: pluginsdk.ReasonProcessingError}
	status := 0
	if ref, ok := decodeRef(req.ProviderReference); ok && ref.Self != "" {
		q, ok := p.queryEvents(ctx, cfg, ref.Self, "")
		if ok {
			r = fromEvent(r, req.Operation, q.LastEvent)
			if r.Outcome == pluginsdk.OutcomeApproved {
				r.ProviderReference = ref.withActions(q.Actions).encode()
			}
		} else {
			r.ProviderMessage = "payment query failed"
		}
	} else {
		r, status = p.queryByReference(ctx, cfg, req, r)
	}
	if r.Outcome != pluginsdk.OutcomeUnknown {
		p.memo.put("", r)
	}
	p.logResult(ctx, pluginsdk.OpStatus, &r, status, start)
	return &r, nil
}

// queryByReference asks the Payment Queries API for the transaction.
func (p *Provider) queryByReference(ctx context.Context, cfg *config, req *pluginsdk.StatusRequest, r pluginsdk.Result) (pluginsdk.Result, int) {
	target := cfg.baseStr + "/paymentQueries/payments?transactionReference=" + url.QueryEscape(transactionReference(req.TransactionID))
	ex := p.call(ctx, cfg, "GET", target, queriesAccept, "", nil)
	var found struct {
		Embedded struct {
			Payments []struct {
				PaymentID string `json:"paymentId"`
				LastEvent string `json:"lastEvent"`
			} `json:"payments"`
		} `json:"_embedded"`
	}
	if ex.status != 200 || json.Unmarshal(ex.body, &found) != nil {
		r.ProviderMessage = "payment query failed"
		return r, ex.status
	}
	if len(found.Embedded.Payments) == 0 {
		r.ProviderMessage = "no payment found yet for this transaction reference (Payment Queries may lag by up to a minute)"
		return r, ex.status
	}
	pay := found.Embedded.Payments[0]
	r = fromEvent(r, req.Operation, pay.LastEvent)
	if r.Outcome == pluginsdk.OutcomeApproved && r.ProviderReference == "" {
		r.ProviderReference = providerRef{PaymentID: pay.PaymentID}.encode()
	}
	return r, ex.status
}

// stage is how far a payment has gone, from its last event.
type stage int

const (
	stagePending stage = iota
	stageAuthorized
	stageSettled
	stageCancelled
	stageRefunded
	stageRefused
	stageFailed
)

// stageOf reads both the Payments API lastEvent values and the Payment
// Queries API event names.
func stageOf(event string) stage {
	e := strings.ToLower(event)
	switch {
	case e == "authorized" || e == "authorizationsucceeded":
		return stageAuthorized
	case e == "salesucceeded" || strings.HasPrefix(e, "sentforsettlement") || e == "settled" ||
		e == "settlementrequested" || e == "settlementrequestsubmitted":
		return stageSettled
	case strings.HasPrefix(e, "sentforcancellation") || e == "cancelled" ||
		e == "cancellationrequested" || e == "cancellationrequestsubmitted":
		return stageCancelled
	case strings.Contains(e, "refund") && !strings.HasSuffix(e, "failed") && !strings.HasSuffix(e, "timedout"):
		return stageRefunded
	case strings.Contains(e, "refused"):
		return stageRefused
	case strings.HasSuffix(e, "failed"):
		return stageFailed
	}
	return stagePending
}

// fromEvent sets the outcome of op given the payment's last event.
func fromEvent(r pluginsdk.Result, op pluginsdk.Operation, event string) pluginsdk.Result {
	r.ProviderCode = event
	r.Reason = pluginsdk.ReasonNone
	st := stageOf(event)
	approvedAt := map[pluginsdk.Operation][]stage{
		pluginsdk.OpCapture: {stageSettled, stageRefunded},
		pluginsdk.OpVoid:    {stageCancelled},
		pluginsdk.OpRefund:  {stageRefunded},
		pluginsdk.OpSale:    {stageSettled, stageRefunded, stageAuthorized},
	}
	want, modification := approvedAt[op]
	if !modification {
		want = []stage{stageAuthorized, stageSettled, stageCancelled, stageRefunded}
	}
	for _, s := range want {
		if st == s {
			r.Outcome = pluginsdk.OutcomeApproved
			return r
		}
	}
	switch {
	case st == stageRefused:
		r.Outcome, r.Reason = pluginsdk.OutcomeDeclined, pluginsdk.ReasonCardDeclined
	case st == stageFailed:
		r.Outcome, r.Reason = pluginsdk.OutcomeDeclined, pluginsdk.ReasonProcessingError
	case st == stagePending:
		r.Outcome, r.Reason = pluginsdk.OutcomeUnknown, pluginsdk.ReasonProcessingError
	case op == pluginsdk.OpCapture && st == stageAuthorized,
		op == pluginsdk.OpVoid && st == stageAuthorized,
		op == pluginsdk.OpRefund && st == stageSettled:
		// The payment is still where the operation found it: it did not happen.
		r.Outcome, r.Reason = pluginsdk.OutcomeFailedBefore, pluginsdk.ReasonProcessingError
	default:
		r.Outcome, r.Reason = pluginsdk.OutcomeDeclined, pluginsdk.ReasonProcessingError
	}
	return r
}
