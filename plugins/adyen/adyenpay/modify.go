package adyenpay

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/tonewall/tonewall/pluginsdk"
)

// Capture captures an authorisation: POST /payments/{pspReference}/captures.
// Adyen confirms the capture asynchronously; "received" is reported as
// approved.
func (p *Provider) Capture(ctx context.Context, req *pluginsdk.ModifyRequest) (*pluginsdk.Result, error) {
	return p.modify(ctx, pluginsdk.OpCapture, req)
}

// Void cancels an authorisation: POST /payments/{pspReference}/cancels.
func (p *Provider) Void(ctx context.Context, req *pluginsdk.ModifyRequest) (*pluginsdk.Result, error) {
	return p.modify(ctx, pluginsdk.OpVoid, req)
}

// Refund refunds a captured payment: POST /payments/{pspReference}/refunds.
func (p *Provider) Refund(ctx context.Context, req *pluginsdk.ModifyRequest) (*pluginsdk.Result, error) {
	return p.modify(ctx, pluginsdk.OpRefund, req)
}

// modificationBody is the body of captures, cancels and refunds.
type modificationBody struct {
	MerchantAccount string  `json:"merchantAccount,omitempty"`
	Amount          *amount `json:"amount,omitempty"`
	Reference       string  `json:"reference,omitempty"`
}

// modificationResponse is PaymentCaptureResponse, PaymentCancelResponse and
// PaymentRefundResponse: status is always "received".
type modificationResponse struct {
	Status              string `json:"status"`
	PSPReference        string `json:"pspReference"`
	PaymentPSPReference string `json:"paymentPspReference"`
}

var modificationPaths = map[pluginsdk.Operation]string{
	pluginsdk.OpCapture: "captures",
	pluginsdk.OpVoid:    "cancels",
	pluginsdk.OpRefund:  "refunds",
}

func validPSPReference(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') {
			return false
		}
	}
	return true
}

func (p *Provider) modify(ctx context.Context, op pluginsdk.Operation, req *pluginsdk.ModifyRequest) (*pluginsdk.Result, error) {
	cfg, err := p.config()
	if err != nil {
		return nil, err
	}
	if req == nil {
		return nil, pluginsdk.Errorf(pluginsdk.KindInvalidRequest, "adyen: nil modify request")
	}
	if err := checkIDs(req.TransactionID, req.IdempotencyKey); err != nil {
		return nil, err
	}
	if !validPSPReference(req.ProviderReference) {
		return nil, pluginsdk.Errorf(pluginsdk.KindInvalidRequest, "adyen: provider reference is not an Adyen pspReference")
	}
	start := time.Now()
	base := pluginsdk.Result{TransactionID: req.TransactionID, ProviderReference: req.ProviderReference}

	body := modificationBody{MerchantAccount: cfg.merchantAccount, Reference: reference(req.Reference, req.TransactionID)}
	if op != pluginsdk.OpVoid {
		m := req.Amount
		if m.Minor == 0 {
			known, ok := p.journal.amountOf(req.ProviderReference)
			if !ok {
				r := base
				r.Outcome = pluginsdk.OutcomeFailedBefore
				r.Reason = pluginsdk.ReasonInvalidAmount
				r.ProviderMessage = "amount required: the original amount is not known to this plugin"
				p.logResult(ctx, op, &r, 0, start)
				return &r, nil
			}
			m = known
		}
		if !validCurrency(m.Currency) || m.Minor <= 0 {
			r := base
			r.Outcome = pluginsdk.OutcomeFailedBefore
			r.Reason = pluginsdk.ReasonInvalidAmount
			r.ProviderMessage = "amount rejected before sending"
			p.logResult(ctx, op, &r, 0, start)
			return &r, nil
		}
		body.Amount = &amount{Currency: strings.ToUpper(m.Currency), Value: m.Minor}
	}
	data, err := json.Marshal(body)
	if err != nil {
		return nil, pluginsdk.Errorf(pluginsdk.KindInternal, "adyen: encode modification: %v", err)
	}
	// The replay copy lacks the required merchantAccount: if Adyen has not
	// seen the key, it rejects the replay instead of performing it.
	replayBody := body
	replayBody.MerchantAccount = ""
	replay, err := json.Marshal(replayBody)
	if err != nil {
		return nil, pluginsdk.Errorf(pluginsdk.KindInternal, "adyen: encode modification: %v", err)
	}
	path := "/payments/" + req.ProviderReference + "/" + modificationPaths[op]
	key := pluginsdk.StepKey(req.IdempotencyKey, "", maxIdempotencyKey)
	p.journal.record(req.TransactionID, journalEntry{op: op, path: path, idemKey: key, replay: replay, result: nil})

	ex := p.post(ctx, cfg, path, key, data)
	r := interpretModification(base, ex)
	p.journal.record(req.TransactionID, journalEntry{op: op, path: path, idemKey: key, replay: replay, result: &r})
	p.logResult(ctx, op, &r, ex.status, start)
	return &r, nil
}

func interpretModification(base pluginsdk.Result, ex exchange) pluginsdk.Result {
	if ex.status == 0 {
		return transportResult(base, ex)
	}
	r := base
	if ex.status != 200 && ex.status != 201 {
		return errorResult(r, ex, nil)
	}
	var mr modificationResponse
	if err := json.Unmarshal(ex.body, &mr); err != nil || mr.Status == "" {
		r.Outcome = pluginsdk.OutcomeUnknown
		r.Reason = pluginsdk.ReasonProcessingError
		r.ProviderMessage = "unreadable modification response"
		return r
	}
	if mr.PaymentPSPReference != "" {
		r.ProviderReference = mr.PaymentPSPReference
	}
	r.ProviderCode = mr.Status
	if mr.Status != "received" {
		r.Outcome = pluginsdk.OutcomeUnknown
		r.Reason = pluginsdk.ReasonProcessingError
		r.ProviderMessage = "unexpected modification status"
		return r
	}
	r.Outcome = pluginsdk.OutcomeApproved
	r.ProviderMessage = "received; modification " + mr.PSPReference
	return r
}

// Status reports what became of an earlier operation of this plugin. A
// final outcome already seen is returned as is; otherwise the request is
// replayed, without card data and without a required field, under its
// original Idempotency-Key (see journal.go). Operations this plugin process
// has no record of are reported Unknown: Checkout API v71 has no lookup by
// reference, and their outcome comes from Adyen's webhooks.
func (p *Provider) Status(ctx context.Context, req *pluginsdk.StatusRequest) (*pluginsdk.Result, error) {
	cfg, err := p.config()
	if err != nil {
		return nil, err
	}
	if req == nil || req.TransactionID == "" {
		return nil, pluginsdk.Errorf(pluginsdk.KindInvalidRequest, "adyen: transaction id is required")
	}
	start := time.Now()
	e, ok := p.journal.lookup(req.TransactionID)
	if !ok {
		r := pluginsdk.Result{
			TransactionID:     req.TransactionID,
			ProviderReference: req.ProviderReference,
			Outcome:           pluginsdk.OutcomeUnknown,
			Reason:            pluginsdk.ReasonProcessingError,
			ProviderMessage:   "no record of this transaction in the plugin; Adyen has no lookup by reference: use the webhook",
		}
		p.logResult(ctx, pluginsdk.OpStatus, &r, 0, start)
		return &r, nil
	}
	if e.result != nil && e.result.Outcome != pluginsdk.OutcomeUnknown {
		r := *e.result
		p.logResult(ctx, pluginsdk.OpStatus, &r, 0, start)
		return &r, nil
	}
	base := pluginsdk.Result{TransactionID: req.TransactionID, ProviderReference: req.ProviderReference}
	if e.result != nil {
		base = *e.result
		base.ProviderCode, base.ProviderMessage, base.Reason, base.Token = "", "", "", ""
	}
	ex := p.post(ctx, cfg, e.path, e.idemKey, e.replay)
	var r pluginsdk.Result
	switch {
	case (ex.status == 400 || ex.status == 422) && !inProgress(ex):
		// Adyen did not know the key: the original request was never processed.
		r = base
		r.Outcome = pluginsdk.OutcomeFailedBefore
		r.Reason = pluginsdk.ReasonProcessingError
		r.ProviderMessage = "Adyen has no record of the request"
	case e.op == pluginsdk.OpAuthorize || e.op == pluginsdk.OpSale || e.op == pluginsdk.OpTokenize:
		shopperRef := ""
		if e.op == pluginsdk.OpTokenize {
			var t paymentTail
			if json.Unmarshal(e.replay, &t) == nil {
				shopperRef = t.ShopperReference
			}
		}
		r = interpretPayment(e.op, base, ex, nil, shopperRef)
	default:
		r = interpretModification(base, ex)
	}
	if r.Outcome == pluginsdk.OutcomeFailedBefore && ex.status != 400 && ex.status != 422 {
		// Not being able to ask is not evidence that nothing happened.
		r.Outcome = pluginsdk.OutcomeUnknown
	}
	p.journal.setResult(req.TransactionID, &r)
	p.logResult(ctx, pluginsdk.OpStatus, &r, ex.status, start)
	return &r, nil
}

// inProgress reports Adyen's "request already processed or in progress"
// error (errorCode 704) for a repeated Idempotency-Key.
func inProgress(ex exchange) bool {
	var se serviceError
	return json.Unmarshal(ex.body, &se) == nil && se.ErrorCode == "704"
}
