package accesspay

import (
	"encoding/base64"
	"encoding/json"
	"strings"
)

// providerRef is what Result.ProviderReference carries for Worldpay: the
// paymentId, the payment's self link (query) and the action links the last
// response offered, plus the authorised amount so a full capture or refund
// can use the full-amount action. It is opaque to the host.
type providerRef struct {
	PaymentID     string `json:"id,omitempty"`
	Self          string `json:"self,omitempty"`
	Settle        string `json:"settle,omitempty"`
	PartialSettle string `json:"psettle,omitempty"`
	Cancel        string `json:"cancel,omitempty"`
	Refund        string `json:"refund,omitempty"`
	PartialRefund string `json:"prefund,omitempty"`
	Currency      string `json:"cur,omitempty"`
	Amount        int64  `json:"amt,omitempty"`
}

const refPrefix = "wp1."

func (r providerRef) encode() string {
	data, _ := json.Marshal(r)
	return refPrefix + base64.RawURLEncoding.EncodeToString(data)
}

func decodeRef(s string) (providerRef, bool) {
	var r providerRef
	rest, ok := strings.CutPrefix(s, refPrefix)
	if !ok {
		return r, false
	}
	data, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil || json.Unmarshal(data, &r) != nil {
		return r, false
	}
	return r, r.Self != "" || r.Settle != "" || r.Cancel != "" || r.Refund != "" || r.PartialSettle != "" || r.PartialRefund != ""
}

// link is one HAL action or link.
type link struct {
	Href string `json:"href"`
}

// actions is the union of the _actions lists of the Payments API responses.
type actions struct {
	SettlePayment          *link `json:"settlePayment"`
	PartiallySettlePayment *link `json:"partiallySettlePayment"`
	CancelPayment          *link `json:"cancelPayment"`
	RefundPayment          *link `json:"refundPayment"`
	PartiallyRefundPayment *link `json:"partiallyRefundPayment"`
}

func href(l *link) string {
	if l == nil {
		return ""
	}
	return l.Href
}

// withActions returns r with the action links replaced by those in a.
func (r providerRef) withActions(a actions) providerRef {
	r.Settle, r.PartialSettle = href(a.SettlePayment), href(a.PartiallySettlePayment)
	r.Cancel = href(a.CancelPayment)
	r.Refund, r.PartialRefund = href(a.RefundPayment), href(a.PartiallyRefundPayment)
	return r
}
