package adyenpay

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/tonewall/tonewall/pluginsdk"
)

// Authorize reserves funds: POST /payments with additionalData.manualCapture.
func (p *Provider) Authorize(ctx context.Context, req *pluginsdk.PaymentRequest) (*pluginsdk.Result, error) {
	return p.pay(ctx, pluginsdk.OpAuthorize, req)
}

// Sale authorises and captures at once: POST /payments with
// captureDelayHours 0.
func (p *Provider) Sale(ctx context.Context, req *pluginsdk.PaymentRequest) (*pluginsdk.Result, error) {
	return p.pay(ctx, pluginsdk.OpSale, req)
}

// Tokenize stores the card with a zero-value authorisation: POST /payments
// with storePaymentMethod, shopperReference and recurringProcessingModel
// CardOnFile. The token is "shopperReference|storedPaymentMethodId"; when
// Adyen delivers it only by webhook, Token is empty and ProviderMessage says so.
func (p *Provider) Tokenize(ctx context.Context, req *pluginsdk.PaymentRequest) (*pluginsdk.Result, error) {
	return p.pay(ctx, pluginsdk.OpTokenize, req)
}

type amount struct {
	Currency string `json:"currency"`
	Value    int64  `json:"value"`
}

// paymentTail is every field of the /payments body except paymentMethod.
type paymentTail struct {
	Amount                   amount            `json:"amount"`
	MerchantAccount          string            `json:"merchantAccount"`
	Reference                string            `json:"reference"`
	ReturnURL                string            `json:"returnUrl"`
	ShopperInteraction       string            `json:"shopperInteraction"`
	CaptureDelayHours        *int              `json:"captureDelayHours,omitempty"`
	AdditionalData           map[string]string `json:"additionalData,omitempty"`
	StorePaymentMethod       bool              `json:"storePaymentMethod,omitempty"`
	ShopperReference         string            `json:"shopperReference,omitempty"`
	RecurringProcessingModel string            `json:"recurringProcessingModel,omitempty"`
	Metadata                 map[string]string `json:"metadata,omitempty"`
}

// paymentResponse is the part of PaymentResponse the provider reads.
type paymentResponse struct {
	ResultCode        string            `json:"resultCode"`
	PSPReference      string            `json:"pspReference"`
	RefusalReason     string            `json:"refusalReason"`
	RefusalReasonCode string            `json:"refusalReasonCode"`
	AdditionalData    map[string]string `json:"additionalData"`
}

// serviceError is Adyen's error body (ServiceError).
type serviceError struct {
	Status       int    `json:"status"`
	ErrorCode    string `json:"errorCode"`
	Message      string `json:"message"`
	ErrorType    string `json:"errorType"`
	PSPReference string `json:"pspReference"`
}

func checkIDs(txn, key string) error {
	if txn == "" || key == "" {
		return pluginsdk.Errorf(pluginsdk.KindInvalidRequest, "adyen: transaction id and idempotency key are required")
	}
	return nil
}

func (p *Provider) pay(ctx context.Context, op pluginsdk.Operation, req *pluginsdk.PaymentRequest) (*pluginsdk.Result, error) {
	cfg, err := p.config()
	if err != nil {
		return nil, err
	}
	if req == nil {
		return nil, pluginsdk.Errorf(pluginsdk.KindInvalidRequest, "adyen: nil payment request")
	}
	if err := checkIDs(req.TransactionID, req.IdempotencyKey); err != nil {
		return nil, err
	}
	start := time.Now()
	base := pluginsdk.Result{TransactionID: req.TransactionID}
	if pluginsdk.CardProblem(&req.Card) == pluginsdk.ReasonNone {
		base.Brand = pluginsdk.CardBrand(req.Card.Number)
		base.Last4 = pluginsdk.Last4(req.Card.Number)
		base.ExpiryMonth = req.Card.ExpiryMonth
		base.ExpiryYear = req.Card.ExpiryYear
	}
	if r, bad := rejectPayment(op, req, base); bad {
		p.logResult(ctx, op, &r, 0, start)
		return &r, nil
	}

	tail := paymentTail{
		Amount:             amount{Currency: strings.ToUpper(req.Amount.Currency), Value: req.Amount.Minor},
		MerchantAccount:    cfg.merchantAccount,
		Reference:          reference(req.Reference, req.TransactionID),
		ReturnURL:          cfg.returnURL,
		ShopperInteraction: "Moto",
		Metadata:           metadata(req.TransactionID, req.Metadata),
	}
	shopperRef := ""
	switch op {
	case pluginsdk.OpAuthorize:
		tail.AdditionalData = map[string]string{"manualCapture": "true"}
	case pluginsdk.OpSale:
		zero := 0
		tail.CaptureDelayHours = &zero
	case pluginsdk.OpTokenize:
		shopperRef = shopperReference(req)
		tail.Amount.Value = 0
		tail.StorePaymentMethod = true
		tail.ShopperReference = shopperRef
		tail.RecurringProcessingModel = "CardOnFile"
	}
	tailJSON, err := json.Marshal(tail)
	if err != nil {
		return nil, pluginsdk.Errorf(pluginsdk.KindInternal, "adyen: encode payment: %v", err)
	}

	body := cardBody(&req.Card, tailJSON)
	replay := append([]byte(`{"paymentMethod":{"type":"scheme"},`), tailJSON[1:]...)
	key := pluginsdk.StepKey(req.IdempotencyKey, "", maxIdempotencyKey)
	p.journal.record(req.TransactionID, journalEntry{
		op: op, path: "/payments", idemKey: key, replay: replay,
		amount: pluginsdk.Money{Minor: tail.Amount.Value, Currency: tail.Amount.Currency},
	})

	ex := p.post(ctx, cfg, "/payments", key, body)
	pluginsdk.Wipe(body)

	r := interpretPayment(op, base, ex, &req.Card, shopperRef)
	p.journal.record(req.TransactionID, journalEntry{
		op: op, path: "/payments", idemKey: key, replay: replay, result: &r,
		psp:    r.ProviderReference,
		amount: pluginsdk.Money{Minor: tail.Amount.Value, Currency: tail.Amount.Currency},
	})
	p.logResult(ctx, op, &r, ex.status, start)
	return &r, nil
}

// rejectPayment catches requests that must not be sent at all.
func rejectPayment(op pluginsdk.Operation, req *pluginsdk.PaymentRequest, base pluginsdk.Result) (pluginsdk.Result, bool) {
	r := base
	r.Outcome = pluginsdk.OutcomeFailedBefore
	if req.Channel != "" && req.Channel != pluginsdk.ChannelMOTO {
		r.Reason = pluginsdk.ReasonUnsupportedFeature
		r.ProviderMessage = "only the moto channel is supported"
		return r, true
	}
	if reason := pluginsdk.CardProblem(&req.Card); reason != pluginsdk.ReasonNone {
		r.Reason = reason
		r.ProviderMessage = "card rejected before sending"
		return r, true
	}
	if !validCurrency(req.Amount.Currency) || req.Amount.Minor < 0 || (op != pluginsdk.OpTokenize && req.Amount.Minor == 0) {
		r.Reason = pluginsdk.ReasonInvalidAmount
		r.ProviderMessage = "amount rejected before sending"
		return r, true
	}
	return pluginsdk.Result{}, false
}

func validCurrency(c string) bool {
	if len(c) != 3 {
		return false
	}
	for i := 0; i < 3; i++ {
		ch := c[i] | 0x20
		if ch < 'a' || ch > 'z' {
			return false
		}
	}
	return true
}

// cardBody writes {"paymentMethod":{...card...},<tail>} into a fresh buffer
// the caller wipes. The digits are checked to be digits, so no escaping is
// needed; the holder name goes through encoding/json.
func cardBody(c *pluginsdk.Card, tail []byte) []byte {
	holder, _ := json.Marshal(c.HolderName)
	b := make([]byte, 0, 160+len(holder)+len(tail))
	b = append(b, `{"paymentMethod":{"type":"scheme","number":"`...)
	b = append(b, c.Number...)
	b = append(b, `","expiryMonth":"`...)
	b = pluginsdk.AppendTwoDigits(b, c.ExpiryMonth)
	b = append(b, `","expiryYear":"`...)
	b = pluginsdk.AppendFourDigits(b, c.ExpiryYear)
	b = append(b, '"')
	if len(c.CVC) > 0 {
		b = append(b, `,"cvc":"`...)
		b = append(b, c.CVC...)
		b = append(b, '"')
	}
	if c.HolderName != "" {
		b = append(b, `,"holderName":`...)
		b = append(b, holder...)
	}
	b = append(b, "},"...)
	b = append(b, tail[1:]...)
	return b
}

// reference is the merchant reference, or the transaction id, cut to 80.
func reference(ref, txn string) string {
	if ref == "" {
		ref = txn
	}
	if len(ref) > maxReference {
		ref = ref[:maxReference]
	}
	return ref
}

// metadata carries the transaction id and whatever host metadata fits
// Adyen's limits (20 entries, keys ≤ 20, values ≤ 80 characters).
func metadata(txn string, in map[string]string) map[string]string {
	m := map[string]string{"tonewall_txn": reference("", txn)}
	for k, v := range in {
		if len(m) >= maxMetadataEntries {
			break
		}
		if k == "" || len(k) > maxMetadataKey || len(v) > maxMetadataValue {
			continue
		}
		if _, dup := m[k]; !dup {
			m[k] = v
		}
	}
	return m
}

// shopperReference identifies the shopper a stored card belongs to: the
// host's "shopper_reference" metadata, else the transaction id.
func shopperReference(req *pluginsdk.PaymentRequest) string {
	ref := req.Metadata["shopper_reference"]
	if ref == "" {
		ref = req.TransactionID
	}
	for len(ref) < minShopperReference {
		ref += "_"
	}
	if len(ref) > 256 {
		ref = ref[:256]
	}
	return ref
}

// interpretPayment turns a /payments exchange into a Result.
func interpretPayment(op pluginsdk.Operation, base pluginsdk.Result, ex exchange, card *pluginsdk.Card, shopperRef string) pluginsdk.Result {
	if ex.status == 0 {
		return transportResult(base, ex)
	}
	r := base
	if ex.status != 200 {
		return errorResult(r, ex, card)
	}
	var pr paymentResponse
	if err := json.Unmarshal(ex.body, &pr); err != nil || pr.ResultCode == "" {
		r.Outcome = pluginsdk.OutcomeUnknown
		r.Reason = pluginsdk.ReasonProcessingError
		r.ProviderMessage = "unreadable payment response"
		return r
	}
	r.ProviderReference = pr.PSPReference
	r.ProviderCode = pr.ResultCode
	r.ProviderMessage = pluginsdk.RedactCard(pr.RefusalReason, card)
	switch pr.ResultCode {
	case "Authorised":
		r.Outcome = pluginsdk.OutcomeApproved
		if op == pluginsdk.OpTokenize {
			id := pr.AdditionalData["tokenization.storedPaymentMethodId"]
			if id == "" {
				id = pr.AdditionalData["recurring.recurringDetailReference"]
			}
			if id != "" {
				r.Token = shopperRef + "|" + id
			} else {
				r.ProviderMessage = "stored payment method id pending: delivered by webhook"
			}
		}
	case "Refused":
		r.Outcome = pluginsdk.OutcomeDeclined
		r.Reason = refusalReason(pr.RefusalReasonCode)
		r.ProviderCode = pr.RefusalReasonCode
	case "Error":
		r.Outcome = pluginsdk.OutcomeDeclined
		r.Reason = pluginsdk.ReasonProcessingError
		if pr.RefusalReasonCode != "" {
			r.Reason = refusalReason(pr.RefusalReasonCode)
			r.ProviderCode = pr.RefusalReasonCode
		}
	case "Cancelled":
		r.Outcome = pluginsdk.OutcomeDeclined
		r.Reason = pluginsdk.ReasonCardDeclined
	case "RedirectShopper", "IdentifyShopper", "ChallengeShopper", "PresentToShopper":
		// A MOTO payment cannot involve the shopper; the attempt lapses.
		r.Outcome = pluginsdk.OutcomeDeclined
		r.Reason = pluginsdk.ReasonUnsupportedFeature
		r.ProviderMessage = "shopper action requested: not possible for MOTO"
	default:
		// Received, Pending, PartiallyAuthorised and anything new: the final
		// state comes later (webhook); Status replays return the same.
		r.Outcome = pluginsdk.OutcomeUnknown
		r.ProviderMessage = "result not final: " + pr.ResultCode
	}
	return r
}

// errorResult maps a non-2xx answer (a ServiceError body, or none).
func errorResult(r pluginsdk.Result, ex exchange, card *pluginsdk.Card) pluginsdk.Result {
	var se serviceError
	_ = json.Unmarshal(ex.body, &se)
	r.ProviderCode = se.ErrorCode
	r.ProviderMessage = pluginsdk.RedactCard(se.Message, card)
	if r.ProviderMessage == "" {
		r.ProviderMessage = fmt.Sprintf("http status %d", ex.status)
	}
	switch {
	case ex.status >= 500:
		r.Outcome = pluginsdk.OutcomeUnknown
		r.Reason = pluginsdk.ReasonProcessingError
	case se.ErrorCode == "704":
		// The same Idempotency-Key is still being processed.
		r.Outcome = pluginsdk.OutcomeUnknown
		r.Reason = pluginsdk.ReasonProcessingError
	case ex.status == 401 || ex.status == 403:
		r.Outcome = pluginsdk.OutcomeFailedBefore
		r.Reason = pluginsdk.ReasonConfigError
	case ex.status == 429:
		r.Outcome = pluginsdk.OutcomeFailedBefore
		r.Reason = pluginsdk.ReasonProcessingError
	default:
		r.Outcome = pluginsdk.OutcomeFailedBefore
		r.Reason = errorCodeReason(se.ErrorCode)
	}
	return r
}
