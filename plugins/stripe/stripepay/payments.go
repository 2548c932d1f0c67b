package stripepay

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/stripe/stripe-go/v82"

	"github.com/tonewall/tonewall/pluginsdk"
)

// Authorize creates and confirms a PaymentIntent with capture_method manual.
func (p *Provider) Authorize(ctx context.Context, req *pluginsdk.PaymentRequest) (*pluginsdk.Result, error) {
	return p.pay(ctx, pluginsdk.OpAuthorize, req)
}

// Sale creates and confirms a PaymentIntent with capture_method automatic.
func (p *Provider) Sale(ctx context.Context, req *pluginsdk.PaymentRequest) (*pluginsdk.Result, error) {
	return p.pay(ctx, pluginsdk.OpSale, req)
}

// Tokenize creates and confirms a SetupIntent (usage off_session, moto) for
// the PaymentMethod; the token is the PaymentMethod id.
func (p *Provider) Tokenize(ctx context.Context, req *pluginsdk.PaymentRequest) (*pluginsdk.Result, error) {
	return p.pay(ctx, pluginsdk.OpTokenize, req)
}

func (p *Provider) pay(ctx context.Context, op pluginsdk.Operation, req *pluginsdk.PaymentRequest) (*pluginsdk.Result, error) {
	cfg, err := p.config()
	if err != nil {
		return nil, err
	}
	if req == nil || req.TransactionID == "" || req.IdempotencyKey == "" {
		return nil, pluginsdk.Errorf(pluginsdk.KindInvalidRequest, "stripe: transaction id and idempotency key are required")
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	base := pluginsdk.Result{TransactionID: req.TransactionID}
	reject := func(reason pluginsdk.Reason, msg string) (*pluginsdk.Result, error) {
		r := base
		r.Outcome, r.Reason, r.ProviderMessage = pluginsdk.OutcomeFailedBefore, reason, msg
		p.logResult(ctx, op, &r, start)
		return &r, nil
	}
	if reason := pluginsdk.CardProblem(&req.Card); reason != pluginsdk.ReasonNone {
		return reject(reason, "card rejected before sending")
	}
	base.Brand, base.Last4 = pluginsdk.CardBrand(req.Card.Number), pluginsdk.Last4(req.Card.Number)
	base.ExpiryMonth, base.ExpiryYear = req.Card.ExpiryMonth, req.Card.ExpiryYear
	if req.Channel != "" && req.Channel != pluginsdk.ChannelMOTO {
		return reject(pluginsdk.ReasonUnsupportedFeature, "only the moto channel is supported")
	}
	if len(req.Amount.Currency) != 3 || req.Amount.Minor < 0 || (op != pluginsdk.OpTokenize && req.Amount.Minor == 0) {
		return reject(pluginsdk.ReasonInvalidAmount, "amount rejected before sending")
	}

	// Step 1: the PaymentMethod, from a buffer that is wiped.
	pm, r, ok := p.createPaymentMethod(ctx, cfg, req, base)
	if !ok {
		p.logResult(ctx, op, &r, start)
		return &r, nil
	}

	// Step 2: confirm it, with MOTO, under a derived idempotency key.
	tctx, sent := traced(ctx)
	meta := map[string]string{metadataKey: req.TransactionID}
	if op == pluginsdk.OpTokenize {
		params := &stripe.SetupIntentCreateParams{
			PaymentMethod:      stripe.String(pm),
			PaymentMethodTypes: stripe.StringSlice([]string{"card"}),
			Confirm:            stripe.Bool(true),
			Usage:              stripe.String("off_session"),
			PaymentMethodOptions: &stripe.SetupIntentCreatePaymentMethodOptionsParams{
				Card: &stripe.SetupIntentCreatePaymentMethodOptionsCardParams{MOTO: stripe.Bool(true)},
			},
		}
		params.Metadata = meta
		params.SetIdempotencyKey(pluginsdk.StepKey(req.IdempotencyKey, "-seti", maxIdempotencyKey))
		si, err := cfg.sc.V1SetupIntents.Create(tctx, params)
		if err != nil {
			r = errorResult(base, err, sent.Load(), true, &req.Card)
		} else {
			r = fromSetupIntent(base, si)
		}
		p.logResult(ctx, op, &r, start)
		return &r, nil
	}
	capture := "automatic"
	if op == pluginsdk.OpAuthorize {
		capture = "manual"
	}
	params := &stripe.PaymentIntentCreateParams{
		Amount:             stripe.Int64(req.Amount.Minor),
		Currency:           stripe.String(strings.ToLower(req.Amount.Currency)),
		PaymentMethod:      stripe.String(pm),
		PaymentMethodTypes: stripe.StringSlice([]string{"card"}),
		Confirm:            stripe.Bool(true),
		CaptureMethod:      stripe.String(capture),
		PaymentMethodOptions: &stripe.PaymentIntentCreatePaymentMethodOptionsParams{
			Card: &stripe.PaymentIntentCreatePaymentMethodOptionsCardParams{MOTO: stripe.Bool(true)},
		},
	}
	if req.Reference != "" {
		params.Description = stripe.String(req.Reference)
	}
	params.Metadata = meta
	params.SetIdempotencyKey(pluginsdk.StepKey(req.IdempotencyKey, "-pi", maxIdempotencyKey))
	pi, err := cfg.sc.V1PaymentIntents.Create(tctx, params)
	if err != nil {
		r = errorResult(base, err, sent.Load(), true, &req.Card)
	} else {
		r = fromPaymentIntent(base, op, pi)
	}
	p.logResult(ctx, op, &r, start)
	return &r, nil
}

// createPaymentMethod POSTs /v1/payment_methods with the card. It returns
// the PaymentMethod id, or the Result to report when there is none. Nothing
// is charged by this call, so its failures are failed-before-sending unless
// Stripe declines the card outright.
func (p *Provider) createPaymentMethod(ctx context.Context, cfg *config, req *pluginsdk.PaymentRequest, base pluginsdk.Result) (string, pluginsdk.Result, bool) {
	c := &req.Card
	body := make([]byte, 0, 160)
	body = append(body, "type=card&card%5Bnumber%5D="...)
	body = append(body, c.Number...)
	body = append(body, "&card%5Bexp_month%5D="...)
	body = strconv.AppendInt(body, int64(c.ExpiryMonth), 10)
	body = append(body, "&card%5Bexp_year%5D="...)
	body = strconv.AppendInt(body, int64(c.ExpiryYear), 10)
	if len(c.CVC) > 0 {
		body = append(body, "&card%5Bcvc%5D="...)
		body = append(body, c.CVC...)
	}
	body = append(body, "&metadata%5B"+metadataKey+"%5D="...)
	body = append(body, formEscape(req.TransactionID)...)
	defer pluginsdk.Wipe(body)

	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, cfg.base+"/v1/payment_methods", bytes.NewReader(body))
	if err != nil {
		r := base
		r.Outcome, r.Reason, r.ProviderMessage = pluginsdk.OutcomeFailedBefore, pluginsdk.ReasonConfigError, "cannot build request"
		return "", r, false
	}
	hreq.Header.Set("Authorization", "Bearer "+cfg.apiKey)
	hreq.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	hreq.Header.Set("Idempotency-Key", pluginsdk.StepKey(req.IdempotencyKey, "-pm", maxIdempotencyKey))
	hreq.Header.Set("Stripe-Version", stripe.APIVersion)
	resp, err := p.http.Do(hreq)
	if err != nil {
		return "", errorResult(base, err, true, false, c), false
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", errorResult(base, err, true, false, c), false
	}
	if resp.StatusCode != http.StatusOK {
		var wrapper struct {
			Error *stripe.Error `json:"error"`
		}
		if json.Unmarshal(data, &wrapper) != nil || wrapper.Error == nil {
			wrapper.Error = &stripe.Error{Type: stripe.ErrorTypeAPI}
		}
		wrapper.Error.HTTPStatusCode = resp.StatusCode
		return "", errorResult(base, wrapper.Error, true, false, c), false
	}
	var pm struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(data, &pm) != nil || pm.ID == "" {
		r := base
		r.Outcome, r.Reason, r.ProviderMessage = pluginsdk.OutcomeFailedBefore, pluginsdk.ReasonProcessingError, "unreadable payment method response"
		return "", r, false
	}
	return pm.ID, pluginsdk.Result{}, true
}

// formEscape escapes a form value (ids only; never card data).
func formEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' {
			b.WriteByte(c)
		} else {
			b.WriteString("%" + strings.ToUpper(strconv.FormatInt(int64(c)>>4, 16)) + strings.ToUpper(strconv.FormatInt(int64(c)&15, 16)))
		}
	}
	return b.String()
}

// fromPaymentIntent maps a PaymentIntent's status for the operation that
// made it (or is asking about it).
func fromPaymentIntent(base pluginsdk.Result, op pluginsdk.Operation, pi *stripe.PaymentIntent) pluginsdk.Result {
	r := base
	r.ProviderReference = pi.ID
	r.ProviderCode = string(pi.Status)
	switch pi.Status {
	case stripe.PaymentIntentStatusSucceeded:
		r.Outcome = pluginsdk.OutcomeApproved
	case stripe.PaymentIntentStatusRequiresCapture:
		if op == pluginsdk.OpCapture {
			r.Outcome, r.Reason = pluginsdk.OutcomeFailedBefore, pluginsdk.ReasonProcessingError
			r.ProviderMessage = "not captured"
		} else {
			r.Outcome = pluginsdk.OutcomeApproved
		}
	case stripe.PaymentIntentStatusCanceled:
		if op == pluginsdk.OpVoid {
			r.Outcome = pluginsdk.OutcomeApproved
		} else {
			r.Outcome, r.Reason = pluginsdk.OutcomeDeclined, pluginsdk.ReasonCardDeclined
		}
	case stripe.PaymentIntentStatusProcessing:
		r.Outcome, r.Reason = pluginsdk.OutcomeUnknown, pluginsdk.ReasonProcessingError
	case stripe.PaymentIntentStatusRequiresAction:
		r.Outcome, r.Reason = pluginsdk.OutcomeDeclined, pluginsdk.ReasonUnsupportedFeature
		r.ProviderMessage = "customer action requested: not possible for MOTO"
	default: // requires_payment_method after a decline, requires_confirmation
		r.Outcome, r.Reason = pluginsdk.OutcomeDeclined, pluginsdk.ReasonCardDeclined
		if e := pi.LastPaymentError; e != nil {
			r.ProviderCode = string(e.Code)
			if e.DeclineCode != "" {
				r.ProviderCode = string(e.DeclineCode)
			}
			r.Reason = reasonFor(&stripe.Error{Code: e.Code, DeclineCode: e.DeclineCode}, pluginsdk.ReasonCardDeclined)
		}
	}
	return r
}

func fromSetupIntent(base pluginsdk.Result, si *stripe.SetupIntent) pluginsdk.Result {
	r := base
	r.ProviderReference = si.ID
	r.ProviderCode = string(si.Status)
	switch si.Status {
	case stripe.SetupIntentStatusSucceeded:
		r.Outcome = pluginsdk.OutcomeApproved
		if si.PaymentMethod != nil {
			r.Token = si.PaymentMethod.ID
		}
	case stripe.SetupIntentStatusProcessing:
		r.Outcome, r.Reason = pluginsdk.OutcomeUnknown, pluginsdk.ReasonProcessingError
	case stripe.SetupIntentStatusCanceled:
		r.Outcome, r.Reason = pluginsdk.OutcomeDeclined, pluginsdk.ReasonCardDeclined
	default:
		r.Outcome, r.Reason = pluginsdk.OutcomeDeclined, pluginsdk.ReasonCardDeclined
		if e := si.LastSetupError; e != nil {
			r.ProviderCode = string(e.Code)
			r.Reason = reasonFor(&stripe.Error{Code: e.Code, DeclineCode: e.DeclineCode}, pluginsdk.ReasonCardDeclined)
		}
	}
	return r
}
