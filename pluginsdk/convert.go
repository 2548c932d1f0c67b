package pluginsdk

import (
	"github.com/tonewall/tonewall/pluginsdk/internal/paymentpb"
)

// Conversions between the public types and their wire form. Card byte slices
// are shared, never copied: whoever owns the request owns, and wipes, the card.

var operationToPB = map[Operation]paymentpb.Operation{
	OpAuthorize: paymentpb.Operation_OPERATION_AUTHORIZE,
	OpSale:      paymentpb.Operation_OPERATION_SALE,
	OpTokenize:  paymentpb.Operation_OPERATION_TOKENIZE,
	OpCapture:   paymentpb.Operation_OPERATION_CAPTURE,
	OpVoid:      paymentpb.Operation_OPERATION_VOID,
	OpRefund:    paymentpb.Operation_OPERATION_REFUND,
	OpStatus:    paymentpb.Operation_OPERATION_STATUS,
}

var outcomeToPB = map[Outcome]paymentpb.Outcome{
	OutcomeApproved:     paymentpb.Outcome_OUTCOME_APPROVED,
	OutcomeDeclined:     paymentpb.Outcome_OUTCOME_DECLINED,
	OutcomeFailedBefore: paymentpb.Outcome_OUTCOME_FAILED_BEFORE_SENDING,
	OutcomeUnknown:      paymentpb.Outcome_OUTCOME_UNKNOWN,
}

var reasonToPB = map[Reason]paymentpb.Reason{
	ReasonNone:               paymentpb.Reason_REASON_UNSPECIFIED,
	ReasonIncorrectNumber:    paymentpb.Reason_REASON_INCORRECT_NUMBER,
	ReasonInvalidNumber:      paymentpb.Reason_REASON_INVALID_NUMBER,
	ReasonInvalidExpiryDate:  paymentpb.Reason_REASON_INVALID_EXPIRY_DATE,
	ReasonInvalidCVC:         paymentpb.Reason_REASON_INVALID_CVC,
	ReasonExpiredCard:        paymentpb.Reason_REASON_EXPIRED_CARD,
	ReasonIncorrectCVC:       paymentpb.Reason_REASON_INCORRECT_CVC,
	ReasonIncorrectZip:       paymentpb.Reason_REASON_INCORRECT_ZIP,
	ReasonCardDeclined:       paymentpb.Reason_REASON_CARD_DECLINED,
	ReasonInsufficientFunds:  paymentpb.Reason_REASON_INSUFFICIENT_FUNDS,
	ReasonProcessingError:    paymentpb.Reason_REASON_PROCESSING_ERROR,
	ReasonCallIssuer:         paymentpb.Reason_REASON_CALL_ISSUER,
	ReasonPickupCard:         paymentpb.Reason_REASON_PICKUP_CARD,
	ReasonConfigError:        paymentpb.Reason_REASON_CONFIG_ERROR,
	ReasonInvalidAmount:      paymentpb.Reason_REASON_INVALID_AMOUNT,
	ReasonUnsupportedFeature: paymentpb.Reason_REASON_UNSUPPORTED_FEATURE,
}

var kindToPB = map[ErrorKind]paymentpb.ErrorKind{
	KindInternal:            paymentpb.ErrorKind_ERROR_KIND_INTERNAL,
	KindUnsupported:         paymentpb.ErrorKind_ERROR_KIND_UNSUPPORTED,
	KindNotConfigured:       paymentpb.ErrorKind_ERROR_KIND_NOT_CONFIGURED,
	KindInvalidRequest:      paymentpb.ErrorKind_ERROR_KIND_INVALID_REQUEST,
	KindProviderUnavailable: paymentpb.ErrorKind_ERROR_KIND_PROVIDER_UNAVAILABLE,
	KindDeadline:            paymentpb.ErrorKind_ERROR_KIND_DEADLINE,
}

// invert returns the reverse of a one-to-one map.
func invert[K, V comparable](m map[K]V) map[V]K {
	r := make(map[V]K, len(m))
	for k, v := range m {
		r[v] = k
	}
	return r
}

var (
	operationFromPB = invert(operationToPB)
	outcomeFromPB   = invert(outcomeToPB)
	reasonFromPB    = invert(reasonToPB)
	kindFromPB      = invert(kindToPB)
)

// KnownReason reports whether r is one of the normalised reasons. Any other
// reason crosses the wire as ReasonProcessingError.
func KnownReason(r Reason) bool {
	_, ok := reasonToPB[r]
	return ok
}

func reasonToWire(r Reason) paymentpb.Reason {
	if v, ok := reasonToPB[r]; ok {
		return v
	}
	return paymentpb.Reason_REASON_PROCESSING_ERROR
}

// outcomeFromWire reads an outcome; an unset or unrecognised outcome is
// Unknown, the only safe reading.
func outcomeFromWire(o paymentpb.Outcome) Outcome {
	if v, ok := outcomeFromPB[o]; ok {
		return v
	}
	return OutcomeUnknown
}

func kindToWire(k ErrorKind) paymentpb.ErrorKind {
	if v, ok := kindToPB[k]; ok {
		return v
	}
	return paymentpb.ErrorKind_ERROR_KIND_INTERNAL
}

func kindFromWire(k paymentpb.ErrorKind) ErrorKind {
	if v, ok := kindFromPB[k]; ok {
		return v
	}
	return KindInternal
}

func operationsToWire(ops []Operation) []paymentpb.Operation {
	out := make([]paymentpb.Operation, 0, len(ops))
	for _, op := range ops {
		if v, ok := operationToPB[op]; ok {
			out = append(out, v)
		}
	}
	return out
}

func operationsFromWire(ops []paymentpb.Operation) []Operation {
	out := make([]Operation, 0, len(ops))
	for _, op := range ops {
		if v, ok := operationFromPB[op]; ok {
			out = append(out, v)
		}
	}
	return out
}

func moneyToWire(m Money) *paymentpb.Money {
	return &paymentpb.Money{Minor: m.Minor, Currency: m.Currency}
}

func moneyFromWire(m *paymentpb.Money) Money {
	return Money{Minor: m.GetMinor(), Currency: m.GetCurrency()}
}

func channelToWire(c Channel) paymentpb.Channel {
	if c == ChannelMOTO {
		return paymentpb.Channel_CHANNEL_MOTO
	}
	return paymentpb.Channel_CHANNEL_UNSPECIFIED
}

func channelFromWire(c paymentpb.Channel) Channel {
	if c == paymentpb.Channel_CHANNEL_MOTO {
		return ChannelMOTO
	}
	return ""
}

func describeToWire(d *DescribeResponse) *paymentpb.DescribeResponse {
	return &paymentpb.DescribeResponse{
		Name:       d.Name,
		Version:    d.Version,
		Operations: operationsToWire(d.Operations),
		Brands:     d.Brands,
		Currencies: d.Currencies,
	}
}

func describeFromWire(d *paymentpb.DescribeResponse) *DescribeResponse {
	return &DescribeResponse{
		Name:       d.GetName(),
		Version:    d.GetVersion(),
		Operations: operationsFromWire(d.GetOperations()),
		Brands:     d.GetBrands(),
		Currencies: d.GetCurrencies(),
	}
}

func configureToWire(c *ConfigureRequest) *paymentpb.ConfigureRequest {
	return &paymentpb.ConfigureRequest{Settings: c.Settings, Secrets: c.Secrets}
}

func configureFromWire(c *paymentpb.ConfigureRequest) *ConfigureRequest {
	return &ConfigureRequest{Settings: c.GetSettings(), Secrets: c.GetSecrets()}
}

func cardToWire(c Card) *paymentpb.Card {
	return &paymentpb.Card{
		Number:      c.Number,
		ExpiryMonth: int32(c.ExpiryMonth),
		ExpiryYear:  int32(c.ExpiryYear),
		Cvc:         c.CVC,
		Postcode:    c.Postcode,
		HolderName:  c.HolderName,
	}
}

func cardFromWire(c *paymentpb.Card) Card {
	return Card{
		Number:      c.GetNumber(),
		ExpiryMonth: int(c.GetExpiryMonth()),
		ExpiryYear:  int(c.GetExpiryYear()),
		CVC:         c.GetCvc(),
		Postcode:    c.GetPostcode(),
		HolderName:  c.GetHolderName(),
	}
}

// wipeWireCard zeroes the card bytes a decoded request holds.
func wipeWireCard(c *paymentpb.Card) {
	if c == nil {
		return
	}
	clear(c.Number)
	clear(c.Cvc)
	clear(c.Postcode)
}

func paymentToWire(r *PaymentRequest) *paymentpb.PaymentRequest {
	return &paymentpb.PaymentRequest{
		TransactionId:  r.TransactionID,
		IdempotencyKey: r.IdempotencyKey,
		Amount:         moneyToWire(r.Amount),
		Reference:      r.Reference,
		Channel:        channelToWire(r.Channel),
		Card:           cardToWire(r.Card),
		Metadata:       r.Metadata,
	}
}

func paymentFromWire(r *paymentpb.PaymentRequest) *PaymentRequest {
	return &PaymentRequest{
		TransactionID:  r.GetTransactionId(),
		IdempotencyKey: r.GetIdempotencyKey(),
		Amount:         moneyFromWire(r.GetAmount()),
		Reference:      r.GetReference(),
		Channel:        channelFromWire(r.GetChannel()),
		Card:           cardFromWire(r.GetCard()),
		Metadata:       r.GetMetadata(),
	}
}

func modifyToWire(r *ModifyRequest) *paymentpb.ModifyRequest {
	return &paymentpb.ModifyRequest{
		TransactionId:     r.TransactionID,
		IdempotencyKey:    r.IdempotencyKey,
		ProviderReference: r.ProviderReference,
		Amount:            moneyToWire(r.Amount),
		Reference:         r.Reference,
	}
}

func modifyFromWire(r *paymentpb.ModifyRequest) *ModifyRequest {
	return &ModifyRequest{
		TransactionID:     r.GetTransactionId(),
		IdempotencyKey:    r.GetIdempotencyKey(),
		ProviderReference: r.GetProviderReference(),
		Amount:            moneyFromWire(r.GetAmount()),
		Reference:         r.GetReference(),
	}
}

func statusToWire(r *StatusRequest) *paymentpb.StatusRequest {
	return &paymentpb.StatusRequest{
		TransactionId:     r.TransactionID,
		ProviderReference: r.ProviderReference,
		Operation:         operationToPB[r.Operation],
	}
}

func statusFromWire(r *paymentpb.StatusRequest) *StatusRequest {
	return &StatusRequest{
		TransactionID:     r.GetTransactionId(),
		ProviderReference: r.GetProviderReference(),
		Operation:         operationFromPB[r.GetOperation()],
	}
}

func resultToWire(r *Result) *paymentpb.Result {
	return &paymentpb.Result{
		TransactionId:     r.TransactionID,
		Outcome:           outcomeToPB[r.Outcome],
		Reason:            reasonToWire(r.Reason),
		ProviderCode:      r.ProviderCode,
		ProviderMessage:   r.ProviderMessage,
		ProviderReference: r.ProviderReference,
		Token:             r.Token,
		Brand:             r.Brand,
		Last4:             r.Last4,
		ExpiryMonth:       int32(r.ExpiryMonth),
		ExpiryYear:        int32(r.ExpiryYear),
	}
}

func resultFromWire(r *paymentpb.Result) *Result {
	return &Result{
		TransactionID:     r.GetTransactionId(),
		Outcome:           outcomeFromWire(r.GetOutcome()),
		Reason:            reasonFromPB[r.GetReason()],
		ProviderCode:      r.GetProviderCode(),
		ProviderMessage:   r.GetProviderMessage(),
		ProviderReference: r.GetProviderReference(),
		Token:             r.GetToken(),
		Brand:             r.GetBrand(),
		Last4:             r.GetLast4(),
		ExpiryMonth:       int(r.GetExpiryMonth()),
		ExpiryYear:        int(r.GetExpiryYear()),
	}
}
