package adyenpay

import "github.com/tonewall/tonewall/pluginsdk"

// refusalReasons maps Adyen's refusalReasonCode values, as listed on
// https://docs.adyen.com/development-resources/refusal-reasons, to the
// normalised reasons. Codes not listed map to card_declined.
var refusalReasons = map[string]pluginsdk.Reason{
	"2":  pluginsdk.ReasonCardDeclined,       // Refused
	"3":  pluginsdk.ReasonCallIssuer,         // Referral
	"4":  pluginsdk.ReasonProcessingError,    // Acquirer Error
	"5":  pluginsdk.ReasonPickupCard,         // Blocked Card
	"6":  pluginsdk.ReasonExpiredCard,        // Expired Card
	"7":  pluginsdk.ReasonInvalidAmount,      // Invalid Amount
	"8":  pluginsdk.ReasonInvalidNumber,      // Invalid Card Number
	"9":  pluginsdk.ReasonProcessingError,    // Issuer Unavailable
	"10": pluginsdk.ReasonUnsupportedFeature, // Not supported
	"11": pluginsdk.ReasonCardDeclined,       // 3D Not Authenticated
	"12": pluginsdk.ReasonInsufficientFunds,  // Not enough balance
	"14": pluginsdk.ReasonCardDeclined,       // Acquirer Fraud
	"15": pluginsdk.ReasonCardDeclined,       // Cancelled
	"16": pluginsdk.ReasonCardDeclined,       // Shopper Cancelled
	"17": pluginsdk.ReasonCardDeclined,       // Invalid Pin
	"18": pluginsdk.ReasonCardDeclined,       // Pin tries exceeded
	"19": pluginsdk.ReasonCardDeclined,       // Pin validation not possible
	"20": pluginsdk.ReasonCardDeclined,       // FRAUD
	"21": pluginsdk.ReasonProcessingError,    // Not Submitted
	"22": pluginsdk.ReasonCardDeclined,       // FRAUD-CANCELLED
	"23": pluginsdk.ReasonCardDeclined,       // Transaction Not Permitted
	"24": pluginsdk.ReasonIncorrectCVC,       // CVC Declined
	"25": pluginsdk.ReasonCardDeclined,       // Restricted Card
	"26": pluginsdk.ReasonCardDeclined,       // Revocation Of Auth
	"27": pluginsdk.ReasonCardDeclined,       // Declined Non Generic
	"28": pluginsdk.ReasonCardDeclined,       // Withdrawal amount exceeded
	"29": pluginsdk.ReasonCardDeclined,       // Withdrawal count exceeded
	"31": pluginsdk.ReasonCardDeclined,       // Issuer Suspected Fraud
	"32": pluginsdk.ReasonIncorrectZip,       // AVS Declined
	"33": pluginsdk.ReasonCardDeclined,       // Card requires online pin
	"34": pluginsdk.ReasonCardDeclined,       // No checking account available on Card
	"35": pluginsdk.ReasonCardDeclined,       // No savings account available on Card
	"36": pluginsdk.ReasonCardDeclined,       // Mobile pin required
	"37": pluginsdk.ReasonCardDeclined,       // Contactless fallback
	"38": pluginsdk.ReasonCardDeclined,       // Authentication required
	"39": pluginsdk.ReasonCardDeclined,       // RReq not received from DS
	"40": pluginsdk.ReasonCardDeclined,       // Current AID is in Penalty Box
	"41": pluginsdk.ReasonCardDeclined,       // CVM Required Restart Payment
	"42": pluginsdk.ReasonCardDeclined,       // 3DS Authentication Error
	"46": pluginsdk.ReasonCardDeclined,       // Transaction blocked by Adyen to prevent excessive retry fees
}

// refusalReason maps a refusal code, falling back to card_declined.
func refusalReason(code string) pluginsdk.Reason {
	if r, ok := refusalReasons[code]; ok {
		return r
	}
	return pluginsdk.ReasonCardDeclined
}

// errorCodeReasons maps the errorCode of an Adyen ServiceError (a rejected
// request; see https://docs.adyen.com/development-resources/error-codes) to
// a normalised reason. Anything else that is rejected is a configuration
// problem on our side.
var errorCodeReasons = map[string]pluginsdk.Reason{
	"100": pluginsdk.ReasonInvalidAmount,      // No amount specified
	"101": pluginsdk.ReasonInvalidNumber,      // Invalid card number
	"102": pluginsdk.ReasonInvalidNumber,      // Unable to determine variant
	"103": pluginsdk.ReasonInvalidCVC,         // CVC is not the right length
	"129": pluginsdk.ReasonInvalidExpiryDate,  // Expiry Date Invalid
	"137": pluginsdk.ReasonInvalidAmount,      // Invalid amount specified
	"138": pluginsdk.ReasonUnsupportedFeature, // Unsupported currency specified
	"905": pluginsdk.ReasonUnsupportedFeature, // Payment details are not supported
}

func errorCodeReason(code string) pluginsdk.Reason {
	if r, ok := errorCodeReasons[code]; ok {
		return r
	}
	return pluginsdk.ReasonConfigError
}
