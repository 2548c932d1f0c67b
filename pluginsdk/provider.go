// Package pluginsdk is what a payment team imports to write a Tonewall payment
// provider plugin: the Provider interface, the request and result types, Serve,
// the handshake, and the host-side client the controller uses.
//
// A plugin is a separate process. The controller launches it through
// hashicorp/go-plugin and speaks gRPC (service tonewall.payment.v1.Provider) to
// it. Card data crosses the boundary as bytes in a request and is never
// returned: results carry only brand, last four and expiry.
package pluginsdk

import "context"

// Provider is implemented by a payment plugin. Every method receives a context
// carrying the host's deadline; implementations must honour it.
type Provider interface {
	// Describe reports what the provider supports.
	Describe(ctx context.Context, req *DescribeRequest) (*DescribeResponse, error)
	// Configure hands the provider its settings and secrets. It is called once
	// after launch and again whenever a secret is rotated.
	Configure(ctx context.Context, req *ConfigureRequest) (*ConfigureResponse, error)
	// Authorize reserves funds without capturing them.
	Authorize(ctx context.Context, req *PaymentRequest) (*Result, error)
	// Sale authorizes and captures in one step.
	Sale(ctx context.Context, req *PaymentRequest) (*Result, error)
	// Tokenize stores the card with the provider and returns a reusable token.
	Tokenize(ctx context.Context, req *PaymentRequest) (*Result, error)
	// Capture captures a previous authorization.
	Capture(ctx context.Context, req *ModifyRequest) (*Result, error)
	// Void cancels a previous authorization.
	Void(ctx context.Context, req *ModifyRequest) (*Result, error)
	// Refund returns money from a captured payment.
	Refund(ctx context.Context, req *ModifyRequest) (*Result, error)
	// Status looks up what became of the operation with the given transaction
	// id. It resolves an Unknown outcome and must never create a new charge.
	Status(ctx context.Context, req *StatusRequest) (*Result, error)
}

// Operation names a provider operation.
type Operation string

// The operations a provider may support.
const (
	OpAuthorize Operation = "authorize"
	OpSale      Operation = "sale"
	OpTokenize  Operation = "tokenize"
	OpCapture   Operation = "capture"
	OpVoid      Operation = "void"
	OpRefund    Operation = "refund"
	OpStatus    Operation = "status"
)

// Outcome is the normalised result of a payment operation.
type Outcome string

// The four outcomes. Unknown means the operation may have happened: resolve it
// with Status, never retry it blindly.
const (
	OutcomeApproved     Outcome = "approved"
	OutcomeDeclined     Outcome = "declined"
	OutcomeFailedBefore Outcome = "failed-before-sending"
	OutcomeUnknown      Outcome = "unknown"
)

// Reason is a normalised decline or error code (ActiveMerchant's standard list).
type Reason string

// Normalised reasons.
const (
	ReasonNone               Reason = ""
	ReasonIncorrectNumber    Reason = "incorrect_number"
	ReasonInvalidNumber      Reason = "invalid_number"
	ReasonInvalidExpiryDate  Reason = "invalid_expiry_date"
	ReasonInvalidCVC         Reason = "invalid_cvc"
	ReasonExpiredCard        Reason = "expired_card"
	ReasonIncorrectCVC       Reason = "incorrect_cvc"
	ReasonIncorrectZip       Reason = "incorrect_zip"
	ReasonCardDeclined       Reason = "card_declined"
	ReasonInsufficientFunds  Reason = "insufficient_funds"
	ReasonProcessingError    Reason = "processing_error"
	ReasonCallIssuer         Reason = "call_issuer"
	ReasonPickupCard         Reason = "pickup_card"
	ReasonConfigError        Reason = "config_error"
	ReasonInvalidAmount      Reason = "invalid_amount"
	ReasonUnsupportedFeature Reason = "unsupported_feature"
)

// Channel is how the card was presented. Tonewall only takes MOTO payments.
type Channel string

// ChannelMOTO is a mail-order / telephone-order payment.
const ChannelMOTO Channel = "moto"

// Money is an amount in the currency's minor units (pence, cents) with an ISO
// 4217 currency code.
type Money struct {
	Minor    int64
	Currency string
}

// Card is the card as the plugin receives it. The byte slices are owned by
// the caller of the Provider method; a plugin must not keep them after the
// method returns and should zero any copies it makes.
type Card struct {
	Number      []byte // PAN digits
	ExpiryMonth int    // 1..12
	ExpiryYear  int    // four digits
	CVC         []byte // 3 or 4 digits
	Postcode    []byte // optional, digits only
	HolderName  string // optional
}

// DescribeRequest asks a provider what it supports.
type DescribeRequest struct{}

// DescribeResponse says what a provider supports.
type DescribeResponse struct {
	Name       string
	Version    string
	Operations []Operation
	Brands     []string // card brands, as named by the controller's card package ("visa", "mastercard", ...)
	Currencies []string // ISO 4217; empty means any
}

// ConfigureRequest carries settings (non-secret) and secrets.
type ConfigureRequest struct {
	Settings map[string]string
	Secrets  map[string][]byte
}

// ConfigureResponse acknowledges a configuration.
type ConfigureResponse struct{}

// PaymentRequest is an Authorize, Sale or Tokenize request.
type PaymentRequest struct {
	TransactionID  string // host-made, unique per operation
	IdempotencyKey string // same key means the same operation; never a second charge
	Amount         Money
	Reference      string // the merchant's reference
	Channel        Channel
	Card           Card
	Metadata       map[string]string // never card data
}

// ModifyRequest is a Capture, Void or Refund of an earlier payment.
type ModifyRequest struct {
	TransactionID     string
	IdempotencyKey    string
	ProviderReference string // from the earlier Result
	Amount            Money  // zero means the full amount
	Reference         string
}

// StatusRequest looks up an earlier operation by its transaction id.
type StatusRequest struct {
	TransactionID     string
	ProviderReference string // when known
	Operation         Operation
}

// Result is the normalised outcome of an operation. It never holds a PAN or CVC.
type Result struct {
	TransactionID     string
	Outcome           Outcome
	Reason            Reason
	ProviderCode      string // the provider's raw code (decline code, refusal reason code, ...)
	ProviderMessage   string // the provider's raw message
	ProviderReference string // payment id at the provider (pi_..., pspReference, paymentId)
	Token             string // reusable card token, when tokenized
	Brand             string
	Last4             string
	ExpiryMonth       int
	ExpiryYear        int
}
