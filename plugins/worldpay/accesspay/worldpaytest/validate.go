package worldpaytest

import (
	"github.com/tonewall/tonewall/pluginsdk/psptest"

	"encoding/json"
	"regexp"
)

// The checks below follow the Payments API (2024-06-01) schema: types,
// required fields, enums, patterns and lengths of PaymentRequest and the
// partial settle and refund bodies. Fields the plugin never sends are
// refused too, so a stray field shows up. Messages name fields only, never
// values: the values may be card data.

// checker is the shared schema checker with this provider's own rules.
type checker struct{ psptest.Checker }

func (c *checker) value(m map[string]any, path string) (string, int64) {
	v, present := m["value"]
	if !present {
		c.Fail("%s.value: required", path)
		return "", 0
	}
	a := c.Object(v, path+".value")
	if a == nil {
		return "", 0
	}
	c.Only(a, path+".value", "currency", "amount")
	cur, _ := c.Str(a, "currency", path+".value", true, 3, 3)
	val, _ := c.Integer(a, "amount", path+".value", true)
	if val < 0 || val > 1<<31-1 {
		c.Fail("%s.value.amount: out of int32 range", path)
	}
	return cur, val
}

func (c *checker) sub(m map[string]any, key, path string, required bool) map[string]any {
	v, present := m[key]
	if !present {
		if required {
			c.Fail("%s.%s: required", path, key)
		}
		return nil
	}
	return c.Object(v, path+"."+key)
}

var (
	txnRefPattern = regexp.MustCompile("^[-A-Za-z0-9_!@#$%()*=.:;?\\[\\]{}~`/+]+$")
	entityPattern = regexp.MustCompile(`^[A-Za-z0-9]+[A-Za-z0-9 ]*$`)
)

// paymentFields is what the server needs from a valid payment body.
type paymentFields struct {
	txnRef     string
	holderName string
	currency   string
	amount     int64
	auto       bool
	token      bool
}

// checkPayment validates a POST /api/payments body.
func checkPayment(body []byte) (paymentFields, []string) {
	var c checker
	var f paymentFields
	var raw any
	if err := json.Unmarshal(body, &raw); err != nil {
		return f, []string{"body: not JSON"}
	}
	m := c.Object(raw, "$")
	if m == nil {
		return f, c.Problems
	}
	c.Only(m, "$", "transactionReference", "merchant", "channel", "instruction")
	f.txnRef, _ = c.Str(m, "transactionReference", "$", true, 1, 64)
	if f.txnRef != "" && !txnRefPattern.MatchString(f.txnRef) {
		c.Fail("$.transactionReference: does not match the documented pattern")
	}
	if mer := c.sub(m, "merchant", "$", true); mer != nil {
		c.Only(mer, "$.merchant", "entity", "mcc")
		if e, ok := c.Str(mer, "entity", "$.merchant", true, 1, 32); ok && !entityPattern.MatchString(e) {
			c.Fail("$.merchant.entity: does not match the documented pattern")
		}
	}
	if ch, _ := c.Str(m, "channel", "$", true, 0, 0); ch != "moto" {
		c.Fail("$.channel: want moto")
	}
	in := c.sub(m, "instruction", "$", true)
	if in == nil {
		return f, c.Problems
	}
	c.Only(in, "$.instruction", "method", "paymentInstrument", "narrative", "value", "settlement", "tokenCreation", "customerAgreement")
	if meth, _ := c.Str(in, "method", "$.instruction", true, 0, 0); meth != "card" {
		c.Fail("$.instruction.method: want card")
	}
	if tc := c.sub(in, "tokenCreation", "$.instruction", false); tc != nil {
		f.token = true
		c.Only(tc, "$.instruction.tokenCreation", "type", "namespace", "description")
		if t, _ := c.Str(tc, "type", "$.instruction.tokenCreation", true, 0, 0); t != "worldpay" {
			c.Fail("$.instruction.tokenCreation.type: want worldpay")
		}
	}
	if pi := c.sub(in, "paymentInstrument", "$.instruction", true); pi != nil {
		p := "$.instruction.paymentInstrument"
		c.Only(pi, p, "type", "cardHolderName", "cardNumber", "expiryDate", "cvc", "billingAddress")
		if t, _ := c.Str(pi, "type", p, true, 0, 0); t != "plain" {
			c.Fail("%s.type: want plain", p)
		}
		c.Digits(pi, "cardNumber", p, true, 12, 19)
		f.holderName, _ = c.Str(pi, "cardHolderName", p, f.token, 1, 255)
		c.Digits(pi, "cvc", p, false, 3, 4)
		if ed := c.sub(pi, "expiryDate", p, true); ed != nil {
			c.Only(ed, p+".expiryDate", "month", "year")
			if mo, ok := c.Integer(ed, "month", p+".expiryDate", true); ok && (mo < 1 || mo > 12) {
				c.Fail("%s.expiryDate.month: out of range", p)
			}
			if y, ok := c.Integer(ed, "year", p+".expiryDate", true); ok && (y < 1000 || y > 9999) {
				c.Fail("%s.expiryDate.year: want four digits", p)
			}
		}
	}
	if n := c.sub(in, "narrative", "$.instruction", true); n != nil {
		c.Only(n, "$.instruction.narrative", "line1", "line2")
		c.Str(n, "line1", "$.instruction.narrative", true, 1, 0)
		c.Str(n, "line2", "$.instruction.narrative", false, 0, 0)
	}
	f.currency, f.amount = c.value(in, "$.instruction")
	if s := c.sub(in, "settlement", "$.instruction", false); s != nil {
		c.Only(s, "$.instruction.settlement", "auto", "cancelOn")
		if _, present := s["auto"]; !present {
			c.Fail("$.instruction.settlement.auto: required")
		}
		f.auto, _ = c.Boolean(s, "auto", "$.instruction.settlement")
	}
	if ca := c.sub(in, "customerAgreement", "$.instruction", false); ca != nil {
		c.Only(ca, "$.instruction.customerAgreement", "type", "storedCardUsage")
		if t, _ := c.Str(ca, "type", "$.instruction.customerAgreement", true, 0, 0); t != "cardOnFile" {
			c.Fail("$.instruction.customerAgreement.type: want cardOnFile")
		}
		if u, _ := c.Str(ca, "storedCardUsage", "$.instruction.customerAgreement", true, 0, 0); u != "first" && u != "subsequent" {
			c.Fail("$.instruction.customerAgreement.storedCardUsage: not in enum")
		}
	} else if f.amount == 0 {
		c.Fail("$.instruction.value.amount: 0 is only allowed with a customerAgreement")
	}
	return f, c.Problems
}

// checkPartial validates a partialSettlements or partialRefunds body.
func checkPartial(body []byte) (string, int64, []string) {
	var c checker
	var raw any
	if err := json.Unmarshal(body, &raw); err != nil {
		return "", 0, []string{"body: not JSON"}
	}
	m := c.Object(raw, "$")
	if m == nil {
		return "", 0, c.Problems
	}
	c.Only(m, "$", "reference", "value", "sequence")
	c.Str(m, "reference", "$", true, 1, 0)
	cur, amt := c.value(m, "$")
	return cur, amt, c.Problems
}
