package stripepay

import (
	"errors"
	"net/http"
	"net/http/httptrace"
	"sync/atomic"

	"context"

	"github.com/stripe/stripe-go/v82"

	"github.com/tonewall/tonewall/pluginsdk"
)

// codeReasons maps Stripe decline codes and error codes
// (https://docs.stripe.com/declines/codes, https://docs.stripe.com/error-codes)
// to the normalised reasons, after ActiveMerchant's Stripe mapping.
var codeReasons = map[string]pluginsdk.Reason{
	"incorrect_number":                 pluginsdk.ReasonIncorrectNumber,
	"invalid_number":                   pluginsdk.ReasonInvalidNumber,
	"invalid_expiry_month":             pluginsdk.ReasonInvalidExpiryDate,
	"invalid_expiry_year":              pluginsdk.ReasonInvalidExpiryDate,
	"invalid_cvc":                      pluginsdk.ReasonInvalidCVC,
	"expired_card":                     pluginsdk.ReasonExpiredCard,
	"incorrect_cvc":                    pluginsdk.ReasonIncorrectCVC,
	"incorrect_zip":                    pluginsdk.ReasonIncorrectZip,
	"insufficient_funds":               pluginsdk.ReasonInsufficientFunds,
	"card_velocity_exceeded":           pluginsdk.ReasonInsufficientFunds,
	"withdrawal_count_limit_exceeded":  pluginsdk.ReasonInsufficientFunds,
	"call_issuer":                      pluginsdk.ReasonCallIssuer,
	"pickup_card":                      pluginsdk.ReasonPickupCard,
	"lost_card":                        pluginsdk.ReasonPickupCard,
	"stolen_card":                      pluginsdk.ReasonPickupCard,
	"restricted_card":                  pluginsdk.ReasonPickupCard,
	"processing_error":                 pluginsdk.ReasonProcessingError,
	"issuer_not_available":             pluginsdk.ReasonProcessingError,
	"reenter_transaction":              pluginsdk.ReasonProcessingError,
	"try_again_later":                  pluginsdk.ReasonProcessingError,
	"invalid_amount":                   pluginsdk.ReasonInvalidAmount,
	"amount_too_small":                 pluginsdk.ReasonInvalidAmount,
	"amount_too_large":                 pluginsdk.ReasonInvalidAmount,
	"currency_not_supported":           pluginsdk.ReasonUnsupportedFeature,
	"card_not_supported":               pluginsdk.ReasonUnsupportedFeature,
	"card_decline_rate_limit_exceeded": pluginsdk.ReasonCardDeclined,
	"card_declined":                    pluginsdk.ReasonCardDeclined,
	"generic_decline":                  pluginsdk.ReasonCardDeclined,
	"do_not_honor":                     pluginsdk.ReasonCardDeclined,
	"fraudulent":                       pluginsdk.ReasonCardDeclined,
	"authentication_required":          pluginsdk.ReasonCardDeclined,
}

// reasonFor prefers the decline code, then the error code.
func reasonFor(e *stripe.Error, fallback pluginsdk.Reason) pluginsdk.Reason {
	if r, ok := codeReasons[string(e.DeclineCode)]; ok && e.DeclineCode != "" {
		return r
	}
	if r, ok := codeReasons[string(e.Code)]; ok {
		return r
	}
	return fallback
}

// errorResult maps an error from a Stripe call. charge says whether the
// call could have moved money (PaymentIntent, SetupIntent, capture, refund);
// a failed PaymentMethod creation never did.
func errorResult(base pluginsdk.Result, err error, sent bool, charge bool, card *pluginsdk.Card) pluginsdk.Result {
	r := base
	var se *stripe.Error
	if !errors.As(err, &se) {
		r.Reason = pluginsdk.ReasonProcessingError
		if !sent || !charge {
			r.Outcome = pluginsdk.OutcomeFailedBefore
			r.ProviderMessage = "not charged: " + errorKind(err)
		} else {
			r.Outcome = pluginsdk.OutcomeUnknown
			r.ProviderMessage = "no response after sending: " + errorKind(err)
		}
		return r
	}
	r.ProviderCode = string(se.Code)
	if se.DeclineCode != "" {
		r.ProviderCode = string(se.DeclineCode)
	}
	r.ProviderMessage = pluginsdk.RedactCard(se.Msg, card)
	if se.PaymentIntent != nil && se.PaymentIntent.ID != "" {
		r.ProviderReference = se.PaymentIntent.ID
	}
	switch {
	case se.Type == stripe.ErrorTypeCard:
		r.Outcome = pluginsdk.OutcomeDeclined
		r.Reason = reasonFor(se, pluginsdk.ReasonCardDeclined)
	case se.HTTPStatusCode >= 500 || se.Type == stripe.ErrorTypeAPI:
		r.Outcome = pluginsdk.OutcomeUnknown
		r.Reason = pluginsdk.ReasonProcessingError
		if !charge {
			r.Outcome = pluginsdk.OutcomeFailedBefore
		}
	case se.Type == stripe.ErrorTypeIdempotency || se.HTTPStatusCode == http.StatusConflict:
		// The key was used with other parameters, or is still in flight.
		r.Outcome = pluginsdk.OutcomeUnknown
		r.Reason = pluginsdk.ReasonProcessingError
	case se.HTTPStatusCode == http.StatusUnauthorized || se.HTTPStatusCode == http.StatusForbidden:
		r.Outcome = pluginsdk.OutcomeFailedBefore
		r.Reason = pluginsdk.ReasonConfigError
	case se.HTTPStatusCode == http.StatusTooManyRequests:
		r.Outcome = pluginsdk.OutcomeFailedBefore
		r.Reason = pluginsdk.ReasonProcessingError
	default: // 400, 404: rejected before processing
		r.Outcome = pluginsdk.OutcomeFailedBefore
		r.Reason = reasonFor(se, pluginsdk.ReasonConfigError)
	}
	return r
}

// traced returns ctx with a trace that records whether a request was (at
// least partly) written, and the flag.
func traced(ctx context.Context) (context.Context, *atomic.Bool) {
	var sent atomic.Bool
	return httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteHeaderField: func(string, []string) { sent.Store(true) },
		WroteRequest:     func(httptrace.WroteRequestInfo) { sent.Store(true) },
	}), &sent
}
