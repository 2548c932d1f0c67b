package conformance

import (
	"time"

	"github.com/tonewall/tonewall/pluginsdk"
)

// expiryYear is a year comfortably in the future.
func expiryYear() int { return time.Now().Year() + 3 }

// ApproveCards returns the success test cards Stripe, Adyen and Worldpay
// document, one per brand, with a future expiry and a CVC of the right length
// (Adyen's test CVC 737, 7373 for Amex).
func ApproveCards() []TestCard {
	y := expiryYear()
	return []TestCard{
		{Number: "4242424242424242", CVC: "737", ExpiryMonth: 3, ExpiryYear: y},
		{Number: "4111111111111111", CVC: "737", ExpiryMonth: 3, ExpiryYear: y},
		{Number: "5555555555554444", CVC: "737", ExpiryMonth: 3, ExpiryYear: y},
		{Number: "378282246310005", CVC: "7373", ExpiryMonth: 3, ExpiryYear: y},
	}
}

// DeclineCards returns Stripe's documented decline test cards with the
// normalised reason each must produce.
func DeclineCards() []TestCard {
	y := expiryYear()
	return []TestCard{
		{Number: "4000000000000002", CVC: "737", ExpiryMonth: 3, ExpiryYear: y, Reason: pluginsdk.ReasonCardDeclined},
		{Number: "4000000000009995", CVC: "737", ExpiryMonth: 3, ExpiryYear: y, Reason: pluginsdk.ReasonInsufficientFunds},
		{Number: "4000000000000069", CVC: "737", ExpiryMonth: 3, ExpiryYear: y, Reason: pluginsdk.ReasonExpiredCard},
		{Number: "4000000000000127", CVC: "737", ExpiryMonth: 3, ExpiryYear: y, Reason: pluginsdk.ReasonIncorrectCVC},
	}
}
