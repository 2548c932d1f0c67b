package stripepay

import (
	"context"
	"strings"
	"time"

	"github.com/stripe/stripe-go/v82"

	"github.com/tonewall/tonewall/pluginsdk"
)

// Capture captures a PaymentIntent (amount_to_capture when not the full
// amount).
func (p *Provider) Capture(ctx context.Context, req *pluginsdk.ModifyRequest) (*pluginsdk.Result, error) {
	return p.modify(ctx, pluginsdk.OpCapture, req)
}

// Void cancels an uncaptured PaymentIntent.
func (p *Provider) Void(ctx context.Context, req *pluginsdk.ModifyRequest) (*pluginsdk.Result, error) {
	return p.modify(ctx, pluginsdk.OpVoid, req)
}

// Refund creates a Refund for the PaymentIntent (the full amount when
// Amount is zero).
func (p *Provider) Refund(ctx context.Context, req *pluginsdk.ModifyRequest) (*pluginsdk.Result, error) {
	return p.modify(ctx, pluginsdk.OpRefund, req)
}

func (p *Provider) modify(ctx context.Context, op pluginsdk.Operation, req *pluginsdk.ModifyRequest) (*pluginsdk.Result, error) {
	cfg, err := p.config()
	if err != nil {
		return nil, err
	}
	if req == nil || req.TransactionID == "" || req.IdempotencyKey == "" {
		return nil, pluginsdk.Errorf(pluginsdk.KindInvalidRequest, "stripe: transaction id and idempotency key are required")
	}
	if !strings.HasPrefix(req.ProviderReference, "pi_") {
		return nil, pluginsdk.Errorf(pluginsdk.KindInvalidRequest, "stripe: provider reference is not a PaymentIntent id")
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	tctx, sent := traced(ctx)
	base := pluginsdk.Result{TransactionID: req.TransactionID, ProviderReference: req.ProviderReference}
	key := pluginsdk.StepKey(req.IdempotencyKey, "", maxIdempotencyKey)
	var r pluginsdk.Result
	switch op {
	case pluginsdk.OpCapture:
		params := &stripe.PaymentIntentCaptureParams{}
		if req.Amount.Minor > 0 {
			params.AmountToCapture = stripe.Int64(req.Amount.Minor)
		}
		params.AddMetadata(metadataKey+"_capture", req.TransactionID)
		params.SetIdempotencyKey(key)
		pi, err := cfg.sc.V1PaymentIntents.Capture(tctx, req.ProviderReference, params)
		if err != nil {
			r = errorResult(base, err, sent.Load(), true, nil)
		} else {
			r = fromPaymentIntent(base, op, pi)
		}
	case pluginsdk.OpVoid:
		params := &stripe.PaymentIntentCancelParams{}
		params.SetIdempotencyKey(key)
		pi, err := cfg.sc.V1PaymentIntents.Cancel(tctx, req.ProviderReference, params)
		if err != nil {
			r = errorResult(base, err, sent.Load(), true, nil)
		} else {
			r = fromPaymentIntent(base, op, pi)
		}
	case pluginsdk.OpRefund:
		params := &stripe.RefundCreateParams{PaymentIntent: stripe.String(req.ProviderReference)}
		if req.Amount.Minor > 0 {
			params.Amount = stripe.Int64(req.Amount.Minor)
		}
		params.Metadata = map[string]string{metadataKey: req.TransactionID}
		params.SetIdempotencyKey(key)
		re, err := cfg.sc.V1Refunds.Create(tctx, params)
		if err != nil {
			r = errorResult(base, err, sent.Load(), true, nil)
		} else {
			r = fromRefund(base, re)
		}
	}
	p.logResult(ctx, op, &r, start)
	return &r, nil
}

func fromRefund(base pluginsdk.Result, re *stripe.Refund) pluginsdk.Result {
	r := base
	r.ProviderCode = string(re.Status)
	r.ProviderMessage = "refund " + re.ID
	switch re.Status {
	case stripe.RefundStatusSucceeded, stripe.RefundStatusPending:
		r.Outcome = pluginsdk.OutcomeApproved
	case stripe.RefundStatusRequiresAction:
		r.Outcome, r.Reason = pluginsdk.OutcomeUnknown, pluginsdk.ReasonProcessingError
	default:
		r.Outcome, r.Reason = pluginsdk.OutcomeDeclined, pluginsdk.ReasonProcessingError
	}
	return r
}

// Status looks the operation up without creating anything: a PaymentIntent
// or SetupIntent by its id when the reference is known, else a search of
// PaymentIntents by metadata tonewall_txn (Stripe's search index can lag by
// a minute, so "not found" is Unknown). Refunds are found by listing the
// PaymentIntent's refunds and matching tonewall_txn.
func (p *Provider) Status(ctx context.Context, req *pluginsdk.StatusRequest) (*pluginsdk.Result, error) {
	cfg, err := p.config()
	if err != nil {
		return nil, err
	}
	if req == nil || req.TransactionID == "" {
		return nil, pluginsdk.Errorf(pluginsdk.KindInvalidRequest, "stripe: transaction id is required")
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	base := pluginsdk.Result{TransactionID: req.TransactionID, ProviderReference: req.ProviderReference}
	unknown := func(msg string) *pluginsdk.Result {
		r := base
		r.Outcome, r.Reason, r.ProviderMessage = pluginsdk.OutcomeUnknown, pluginsdk.ReasonProcessingError, msg
		return &r
	}
	op := req.Operation
	if op == "" {
		op = pluginsdk.OpAuthorize
	}
	var r *pluginsdk.Result
	switch ref := req.ProviderReference; {
	case strings.HasPrefix(ref, "seti_"):
		si, err := cfg.sc.V1SetupIntents.Retrieve(ctx, ref, &stripe.SetupIntentRetrieveParams{})
		if err != nil {
			r = unknown("lookup failed: " + errorKind(err))
		} else {
			x := fromSetupIntent(base, si)
			r = &x
		}
	case op == pluginsdk.OpRefund && strings.HasPrefix(ref, "pi_"):
		r = unknown("no refund with this transaction id found")
		for re, err := range cfg.sc.V1Refunds.List(ctx, &stripe.RefundListParams{PaymentIntent: stripe.String(ref)}) {
			if err != nil {
				r = unknown("lookup failed: " + errorKind(err))
				break
			}
			if re.Metadata[metadataKey] == req.TransactionID {
				x := fromRefund(base, re)
				r = &x
				break
			}
		}
	case strings.HasPrefix(ref, "pi_"):
		pi, err := cfg.sc.V1PaymentIntents.Retrieve(ctx, ref, &stripe.PaymentIntentRetrieveParams{})
		if err != nil {
			r = unknown("lookup failed: " + errorKind(err))
		} else {
			x := fromPaymentIntent(base, op, pi)
			r = &x
		}
	default:
		r = unknown("no PaymentIntent found yet with this transaction id (search may lag by a minute)")
		query := "metadata['" + metadataKey + "']:'" + strings.ReplaceAll(req.TransactionID, "'", "\\'") + "'"
		for pi, err := range cfg.sc.V1PaymentIntents.Search(ctx, &stripe.PaymentIntentSearchParams{SearchParams: stripe.SearchParams{Query: query}}) {
			if err != nil {
				r = unknown("search failed: " + errorKind(err))
				break
			}
			if pi.Metadata[metadataKey] == req.TransactionID {
				x := fromPaymentIntent(base, op, pi)
				r = &x
				break
			}
		}
	}
	p.logResult(ctx, pluginsdk.OpStatus, r, start)
	return r, nil
}
