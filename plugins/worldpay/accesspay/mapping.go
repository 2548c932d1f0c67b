package accesspay

import (
	"strings"

	"github.com/tonewall/tonewall/pluginsdk"
)

// refusalReasons maps Worldpay refusalCode values (the response codes on
// https://developer.worldpay.com/products/reference/refusal-response) to the
// normalised reasons. Codes not listed map to card_declined.
var refusalReasons = map[string]pluginsdk.Reason{
	"1":   pluginsdk.ReasonCallIssuer,        // Refer to card issuer
	"2":   pluginsdk.ReasonCallIssuer,        // Referred, special condition
	"3":   pluginsdk.ReasonConfigError,       // Invalid merchant
	"4":   pluginsdk.ReasonPickupCard,        // Hold card / capture card
	"5":   pluginsdk.ReasonCardDeclined,      // Refused / do not honor
	"6":   pluginsdk.ReasonCardDeclined,      // Try another card
	"7":   pluginsdk.ReasonPickupCard,        // Pickup card, special condition
	"12":  pluginsdk.ReasonCardDeclined,      // Invalid transaction
	"13":  pluginsdk.ReasonInvalidAmount,     // Invalid amount
	"131": pluginsdk.ReasonInvalidAmount,     // Invalid amount
	"14":  pluginsdk.ReasonInvalidNumber,     // Invalid card number
	"15":  pluginsdk.ReasonInvalidNumber,     // No such issuer
	"33":  pluginsdk.ReasonExpiredCard,       // Expired card
	"41":  pluginsdk.ReasonPickupCard,        // Lost card
	"43":  pluginsdk.ReasonPickupCard,        // Stolen card
	"51":  pluginsdk.ReasonInsufficientFunds, // Insufficient funds
	"54":  pluginsdk.ReasonExpiredCard,       // Expired card
	"55":  pluginsdk.ReasonCardDeclined,      // Incorrect PIN
	"57":  pluginsdk.ReasonCardDeclined,      // Not permitted to cardholder
	"59":  pluginsdk.ReasonCardDeclined,      // Suspected fraud
	"61":  pluginsdk.ReasonCardDeclined,      // Exceeds withdrawal limit
	"62":  pluginsdk.ReasonCardDeclined,      // Restricted card
	"65":  pluginsdk.ReasonCardDeclined,      // Exceeds frequency limit
	"82":  pluginsdk.ReasonIncorrectCVC,      // CVV / CVC verification failed
	"N7":  pluginsdk.ReasonIncorrectCVC,      // Visa: CVV2 failure
	"91":  pluginsdk.ReasonProcessingError,   // Issuer unavailable
	"96":  pluginsdk.ReasonProcessingError,   // System malfunction
}

func refusalReason(code string) pluginsdk.Reason {
	code = strings.TrimLeft(strings.TrimSpace(code), "0")
	if r, ok := refusalReasons[strings.ToUpper(code)]; ok {
		return r
	}
	return pluginsdk.ReasonCardDeclined
}

// validationReason maps the jsonPath of a bodyDoesNotMatchSchema error
// (https://developer.worldpay.com/products/reference/worldpay-error-responses)
// to the field it blames; anything else is our configuration.
func validationReason(paths []string) pluginsdk.Reason {
	for _, p := range paths {
		switch {
		case strings.Contains(p, "cardNumber"):
			return pluginsdk.ReasonInvalidNumber
		case strings.Contains(p, "expiryDate"):
			return pluginsdk.ReasonInvalidExpiryDate
		case strings.Contains(p, ".cvc"):
			return pluginsdk.ReasonInvalidCVC
		case strings.Contains(p, ".value"):
			return pluginsdk.ReasonInvalidAmount
		}
	}
	return pluginsdk.ReasonConfigError
}
