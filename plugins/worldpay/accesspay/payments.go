package accesspay

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tonewall/tonewall/pluginsdk"
)

// Authorize reserves funds: POST /api/payments without settlement; the
// payment waits for settlePayment (Capture) or cancelPayment (Void).
func (p *Provider) Authorize(ctx context.Context, req *pluginsdk.PaymentRequest) (*pluginsdk.Result, error) {
	return p.pay(ctx, pluginsdk.OpAuthorize, req)
}

// Sale authorises and settles: POST /api/payments with
// instruction.settlement.auto true (the Payments API's auto settlement;
// requestAutoSettlement belongs to the older Card Payments API).
func (p *Provider) Sale(ctx context.Context, req *pluginsdk.PaymentRequest) (*pluginsdk.Result, error) {
	return p.pay(ctx, pluginsdk.OpSale, req)
}

// Tokenize stores the card: a zero-value card verification (value.amount 0)
// with tokenCreation and a cardOnFile customerAgreement. The token is the
// Worldpay token href.
func (p *Provider) Tokenize(ctx context.Context, req *pluginsdk.PaymentRequest) (*pluginsdk.Result, error) {
	return p.pay(ctx, pluginsdk.OpTokenize, req)
}

type value struct {
	Currency string `json:"currency"`
	Amount   int64  `json:"amount"`
}

// head is the part of the body before instruction.
type head struct {
	TransactionReference string            `json:"transactionReference"`
	Merchant             map[string]string `json:"merchant"`
	Channel              string            `json:"channel"`
}

// instructionTail is instruction without method and paymentInstrument.
type instructionTail struct {
	Narrative         map[string]string `json:"narrative"`
	Value             value             `json:"value"`
	Settlement        *settlement       `json:"settlement,omitempty"`
	TokenCreation     map[string]string `json:"tokenCreation,omitempty"`
	CustomerAgreement map[string]string `json:"customerAgreement,omitempty"`
}

type settlement struct {
	Auto bool `json:"auto"`
}

// paymentResponse is the union of the /api/payments response shapes.
type paymentResponse struct {
	Outcome            string `json:"outcome"`
	PaymentID          string `json:"paymentId"`
	RefusalCode        string `json:"refusalCode"`
	RefusalDescription string `json:"refusalDescription"`
	RiskFactors        []struct {
		Risk   string `json:"risk"`
		Type   string `json:"type"`
		Detail string `json:"detail"`
	} `json:"riskFactors"`
	Token *struct {
		Href    string `json:"href"`
		TokenID string `json:"tokenId"`
	} `json:"token"`
	Links struct {
		Self *link `json:"self"`
	} `json:"_links"`
	Actions actions `json:"_actions"`
}

// errorResponse is Worldpay's error body.
type errorResponse struct {
	ErrorName        string `json:"errorName"`
	Message          string `json:"message"`
	ValidationErrors []struct {
		ErrorName string `json:"errorName"`
		Message   string `json:"message"`
		JSONPath  string `json:"jsonPath"`
	} `json:"validationErrors"`
}

func checkIDs(txn, key string) error {
	if txn == "" || key == "" {
		return pluginsdk.Errorf(pluginsdk.KindInvalidRequest, "worldpay: transaction id and idempotency key are required")
	}
	return nil
}

func (p *Provider) pay(ctx context.Context, op pluginsdk.Operation, req *pluginsdk.PaymentRequest) (*pluginsdk.Result, error) {
	cfg, err := p.config()
	if err != nil {
		return nil, err
	}
	if req == nil {
		return nil, pluginsdk.Errorf(pluginsdk.KindInvalidRequest, "worldpay: nil payment request")
	}
	if err := checkIDs(req.TransactionID, req.IdempotencyKey); err != nil {
		return nil, err
	}
	start := time.Now()
	if r, ok := p.memo.byIdempotencyKey(req.IdempotencyKey); ok && r.TransactionID == req.TransactionID {
		p.logResult(ctx, op, &r, 0, start)
		return &r, nil
	}
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

	ref := transactionReference(req.TransactionID)
	tail := instructionTail{
		Narrative: map[string]string{"line1": cfg.narrative},
		Value:     value{Currency: strings.ToUpper(req.Amount.Currency), Amount: req.Amount.Minor},
	}
	holder := req.Card.HolderName
	switch op {
	case pluginsdk.OpSale:
		tail.Settlement = &settlement{Auto: true}
	case pluginsdk.OpTokenize:
		tail.Value.Amount = 0
		tail.TokenCreation = map[string]string{"type": "worldpay"}
		tail.CustomerAgreement = map[string]string{"type": "cardOnFile", "storedCardUsage": "first"}
		if holder == "" {
			holder = "Cardholder" // required with tokenCreation
		}
	}
	headJSON, err := json.Marshal(head{TransactionReference: ref, Merchant: map[string]string{"entity": cfg.entity}, Channel: "moto"})
	if err != nil {
		return nil, pluginsdk.Errorf(pluginsdk.KindInternal, "worldpay: encode payment: %v", err)
	}
	tailJSON, err := json.Marshal(tail)
	if err != nil {
		return nil, pluginsdk.Errorf(pluginsdk.KindInternal, "worldpay: encode payment: %v", err)
	}
	body := cardBody(&req.Card, holder, headJSON, tailJSON)
	ex := p.call(ctx, cfg, "POST", cfg.baseStr+"/api/payments", jsonAccept, req.IdempotencyKey, body)
	pluginsdk.Wipe(body)

	r := interpretPayment(cfg, op, base, ex, &req.Card, pluginsdk.Money{Minor: tail.Value.Amount, Currency: tail.Value.Currency})
	if r.Outcome != pluginsdk.OutcomeUnknown {
		p.memo.put(req.IdempotencyKey, r)
	}
	p.logResult(ctx, op, &r, ex.status, start)
	return &r, nil
}

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
	if !validCurrency(req.Amount.Currency) || req.Amount.Minor < 0 || req.Amount.Minor > 1<<31-1 ||
		(op != pluginsdk.OpTokenize && req.Amount.Minor == 0) {
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

// cardBody writes the payment body with the card inside instruction into a
// fresh buffer the caller wipes.
func cardBody(c *pluginsdk.Card, holder string, headJSON, tailJSON []byte) []byte {
	name, _ := json.Marshal(holder)
	b := make([]byte, 0, len(headJSON)+len(tailJSON)+len(name)+200)
	b = append(b, headJSON[:len(headJSON)-1]...)
	b = append(b, `,"instruction":{"method":"card","paymentInstrument":{"type":"plain",`...)
	if holder != "" {
		b = append(b, `"cardHolderName":`...)
		b = append(b, name...)
		b = append(b, ',')
	}
	b = append(b, `"cardNumber":"`...)
	b = append(b, c.Number...)
	b = append(b, `","expiryDate":{"month":`...)
	b = strconv.AppendInt(b, int64(c.ExpiryMonth), 10)
	b = append(b, `,"year":`...)
	b = strconv.AppendInt(b, int64(c.ExpiryYear), 10)
	b = append(b, '}')
	if len(c.CVC) > 0 {
		b = append(b, `,"cvc":"`...)
		b = append(b, c.CVC...)
		b = append(b, '"')
	}
	b = append(b, "},"...)
	b = append(b, tailJSON[1:]...)
	b = append(b, '}')
	return b
}

// interpretPayment turns an /api/payments exchange into a Result.
func interpretPayment(cfg *config, op pluginsdk.Operation, base pluginsdk.Result, ex exchange, card *pluginsdk.Card, amount pluginsdk.Money) pluginsdk.Result {
	if ex.status == 0 {
		return transportResult(base, ex)
	}
	r := base
	if ex.status != 200 && ex.status != 201 && ex.status != 202 {
		return errorResult(r, ex, card)
	}
	var pr paymentResponse
	if err := json.Unmarshal(ex.body, &pr); err != nil || pr.Outcome == "" {
		r.Outcome = pluginsdk.OutcomeUnknown
		r.Reason = pluginsdk.ReasonProcessingError
		r.ProviderMessage = fmt.Sprintf("payment accepted without a final outcome (http %d)", ex.status)
		return r
	}
	r.ProviderCode = pr.Outcome
	ref := providerRef{PaymentID: pr.PaymentID, Self: href(pr.Links.Self), Currency: amount.Currency, Amount: amount.Minor}.withActions(pr.Actions)
	switch pr.Outcome {
	case "authorized", "sentForSettlement":
		r.Outcome = pluginsdk.OutcomeApproved
		r.ProviderReference = ref.encode()
		if op == pluginsdk.OpTokenize {
			if pr.Token != nil {
				r.Token = pr.Token.Href
			}
			if r.Token == "" {
				r.ProviderMessage = "no token in the response"
			}
		}
	case "refused":
		r.Outcome = pluginsdk.OutcomeDeclined
		r.Reason = refusalReason(pr.RefusalCode)
		r.ProviderCode = pr.RefusalCode
		r.ProviderMessage = pluginsdk.RedactCard(pr.RefusalDescription, card)
	case "fraudHighRisk":
		r.Outcome = pluginsdk.OutcomeDeclined
		r.Reason = pluginsdk.ReasonCardDeclined
	case "sentForCancellation":
		// Auto settlement cancels a payment whose CVC or AVS did not match.
		r.Outcome = pluginsdk.OutcomeDeclined
		r.Reason = pluginsdk.ReasonCardDeclined
		for _, rf := range pr.RiskFactors {
			if rf.Risk == "notMatched" && rf.Type == "cvc" {
				r.Reason = pluginsdk.ReasonIncorrectCVC
			} else if rf.Risk == "notMatched" && rf.Type == "avs" && r.Reason == pluginsdk.ReasonCardDeclined {
				r.Reason = pluginsdk.ReasonIncorrectZip
			}
		}
	case "3dsDeviceDataRequired", "3dsChallenged", "3dsAuthenticationFailed", "3dsUnavailable":
		r.Outcome = pluginsdk.OutcomeDeclined
		r.Reason = pluginsdk.ReasonUnsupportedFeature
		r.ProviderMessage = "3DS requested: not possible for MOTO"
	default:
		r.Outcome = pluginsdk.OutcomeUnknown
		r.Reason = pluginsdk.ReasonProcessingError
		r.ProviderMessage = "unexpected outcome"
	}
	return r
}

// errorResult maps a non-2xx answer.
func errorResult(r pluginsdk.Result, ex exchange, card *pluginsdk.Card) pluginsdk.Result {
	var er errorResponse
	_ = json.Unmarshal(ex.body, &er)
	r.ProviderCode = er.ErrorName
	r.ProviderMessage = pluginsdk.RedactCard(er.Message, card)
	var paths []string
	for _, v := range er.ValidationErrors {
		paths = append(paths, v.JSONPath)
		if v.Message != "" {
			r.ProviderMessage += "; " + v.JSONPath + ": " + pluginsdk.RedactCard(v.Message, card)
		}
	}
	if r.ProviderMessage == "" {
		r.ProviderMessage = fmt.Sprintf("http status %d", ex.status)
	}
	switch {
	case ex.status >= 500:
		r.Outcome = pluginsdk.OutcomeUnknown
		r.Reason = pluginsdk.ReasonProcessingError
	case ex.status == 400:
		r.Outcome = pluginsdk.OutcomeFailedBefore
		r.Reason = validationReason(paths)
	case ex.status == 409:
		// The payment is in another state already: report what Status finds.
		r.Outcome = pluginsdk.OutcomeUnknown
		r.Reason = pluginsdk.ReasonProcessingError
	case ex.status == 429:
		r.Outcome = pluginsdk.OutcomeFailedBefore
		r.Reason = pluginsdk.ReasonProcessingError
	default: // 401, 404, 406, 415
		r.Outcome = pluginsdk.OutcomeFailedBefore
		r.Reason = pluginsdk.ReasonConfigError
	}
	return r
}
