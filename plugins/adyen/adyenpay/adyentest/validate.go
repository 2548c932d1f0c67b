package adyentest

import (
	"github.com/tonewall/tonewall/pluginsdk/psptest"

	"encoding/json"
)

// The checks below follow the Checkout API v71 schema (PaymentRequest,
// CardDetails, Amount, PaymentCaptureRequest, PaymentCancelRequest,
// PaymentRefundRequest in Adyen/adyen-openapi json/CheckoutService-v71.json):
// types, required fields, enums and lengths. Every schema object has
// additionalProperties false, so unknown fields are violations too.
// Messages name fields only, never values: the values may be card data.

// checker is the shared schema checker with this provider's own rules.
type checker struct{ psptest.Checker }

func (c *checker) amount(m map[string]any, path string, required bool) (string, int64) {
	v, present := m["amount"]
	if !present {
		if required {
			c.Fail("%s.amount: required", path)
		}
		return "", 0
	}
	a := c.Object(v, path+".amount")
	if a == nil {
		return "", 0
	}
	c.Only(a, path+".amount", "currency", "value")
	cur, _ := c.Str(a, "currency", path+".amount", true, 3, 3)
	val, _ := c.Integer(a, "value", path+".amount", true)
	if val < 0 {
		c.Fail("%s.amount.value: negative", path)
	}
	return cur, val
}

func (c *checker) stringMap(m map[string]any, key, path string, maxEntries, maxKey, maxValue int) map[string]string {
	v, present := m[key]
	if !present {
		return nil
	}
	obj := c.Object(v, path+"."+key)
	out := make(map[string]string, len(obj))
	if maxEntries > 0 && len(obj) > maxEntries {
		c.Fail("%s.%s: too many entries", path, key)
	}
	for k, val := range obj {
		s, ok := val.(string)
		if !ok {
			c.Fail("%s.%s.%s: want string", path, key, k)
			continue
		}
		if (maxKey > 0 && len(k) > maxKey) || (maxValue > 0 && len(s) > maxValue) {
			c.Fail("%s.%s: entry too long", path, key)
		}
		out[k] = s
	}
	return out
}

// paymentFields is what the server needs from a valid /payments body.
type paymentFields struct {
	hasCard         bool
	holderName      string
	currency        string
	value           int64
	merchantAccount string
	reference       string
	manualCapture   bool
	store           bool
	shopperRef      string
}

// checkPayment validates a /payments body.
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
	c.Only(m, "$", "paymentMethod", "amount", "merchantAccount", "reference", "returnUrl",
		"shopperInteraction", "captureDelayHours", "additionalData", "storePaymentMethod",
		"shopperReference", "recurringProcessingModel", "metadata")

	if pmRaw, ok := m["paymentMethod"]; !ok {
		c.Fail("$.paymentMethod: required")
	} else if pm := c.Object(pmRaw, "$.paymentMethod"); pm != nil {
		c.Only(pm, "$.paymentMethod", "type", "number", "expiryMonth", "expiryYear", "cvc", "holderName")
		if t, _ := c.Str(pm, "type", "$.paymentMethod", false, 0, 0); t != "" && t != "scheme" {
			c.Fail("$.paymentMethod.type: want scheme")
		}
		_, hasNumber := c.Digits(pm, "number", "$.paymentMethod", false, 12, 19)
		mm, hasMonth := c.Digits(pm, "expiryMonth", "$.paymentMethod", false, 2, 2)
		_, hasYear := c.Digits(pm, "expiryYear", "$.paymentMethod", false, 4, 4)
		if hasMonth && (mm < "01" || mm > "12") {
			c.Fail("$.paymentMethod.expiryMonth: out of range")
		}
		c.Digits(pm, "cvc", "$.paymentMethod", false, 3, 4)
		f.holderName, _ = c.Str(pm, "holderName", "$.paymentMethod", false, 0, 15000)
		if hasNumber != hasMonth || hasNumber != hasYear {
			c.Fail("$.paymentMethod: number, expiryMonth and expiryYear go together")
		}
		f.hasCard = hasNumber && hasMonth && hasYear
	}
	f.currency, f.value = c.amount(m, "$", true)
	f.merchantAccount, _ = c.Str(m, "merchantAccount", "$", true, 1, 0)
	f.reference, _ = c.Str(m, "reference", "$", true, 1, 80)
	c.Str(m, "returnUrl", "$", true, 1, 8000)
	if si, _ := c.Str(m, "shopperInteraction", "$", false, 0, 0); si != "Moto" {
		c.Fail("$.shopperInteraction: want Moto")
	}
	if h, ok := c.Integer(m, "captureDelayHours", "$", false); ok && h < 0 {
		c.Fail("$.captureDelayHours: negative")
	}
	ad := c.stringMap(m, "additionalData", "$", 0, 0, 0)
	if v, ok := ad["manualCapture"]; ok {
		if v != "true" && v != "false" {
			c.Fail("$.additionalData.manualCapture: want \"true\" or \"false\"")
		}
		f.manualCapture = v == "true"
	}
	f.store, _ = c.Boolean(m, "storePaymentMethod", "$")
	f.shopperRef, _ = c.Str(m, "shopperReference", "$", f.store, 3, 256)
	if rpm, ok := c.Str(m, "recurringProcessingModel", "$", false, 0, 0); ok {
		switch rpm {
		case "CardOnFile", "Subscription", "UnscheduledCardOnFile":
		default:
			c.Fail("$.recurringProcessingModel: not in enum")
		}
	}
	c.stringMap(m, "metadata", "$", 20, 20, 80)
	return f, c.Problems
}

// modificationFields is what the server needs from a modification body.
type modificationFields struct {
	merchantAccount string
	currency        string
	value           int64
	reference       string
}

// checkModification validates a captures, cancels or refunds body.
func checkModification(body []byte, needAmount bool) (modificationFields, []string) {
	var c checker
	var f modificationFields
	var raw any
	if err := json.Unmarshal(body, &raw); err != nil {
		return f, []string{"body: not JSON"}
	}
	m := c.Object(raw, "$")
	if m == nil {
		return f, c.Problems
	}
	if needAmount {
		c.Only(m, "$", "merchantAccount", "amount", "reference")
		f.currency, f.value = c.amount(m, "$", true)
	} else {
		c.Only(m, "$", "merchantAccount", "reference")
	}
	f.merchantAccount, _ = c.Str(m, "merchantAccount", "$", false, 1, 0)
	f.reference, _ = c.Str(m, "reference", "$", false, 0, 80)
	return f, c.Problems
}
