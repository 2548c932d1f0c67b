package adyentest

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
)

// The checks below follow the Checkout API v71 schema (PaymentRequest,
// CardDetails, Amount, PaymentCaptureRequest, PaymentCancelRequest,
// PaymentRefundRequest in Adyen/adyen-openapi json/CheckoutService-v71.json):
// types, required fields, enums and lengths. Every schema object has
// additionalProperties false, so unknown fields are violations too.
// Messages name fields only, never values: the values may be card data.

type checker struct {
	problems []string
}

func (c *checker) fail(format string, args ...any) {
	c.problems = append(c.problems, fmt.Sprintf(format, args...))
}

func (c *checker) object(v any, path string) map[string]any {
	m, ok := v.(map[string]any)
	if !ok {
		c.fail("%s: want object", path)
		return nil
	}
	return m
}

func (c *checker) only(m map[string]any, path string, allowed ...string) {
	ok := make(map[string]bool, len(allowed))
	for _, a := range allowed {
		ok[a] = true
	}
	var extra []string
	for k := range m {
		if !ok[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(extra)
	for _, k := range extra {
		c.fail("%s.%s: field not in schema", path, k)
	}
}

func (c *checker) str(m map[string]any, key, path string, required bool, minLen, maxLen int) (string, bool) {
	v, present := m[key]
	if !present {
		if required {
			c.fail("%s.%s: required", path, key)
		}
		return "", false
	}
	s, ok := v.(string)
	if !ok {
		c.fail("%s.%s: want string", path, key)
		return "", false
	}
	if len(s) < minLen || (maxLen > 0 && len(s) > maxLen) {
		c.fail("%s.%s: length out of range", path, key)
	}
	return s, true
}

func (c *checker) digits(m map[string]any, key, path string, required bool, minLen, maxLen int) (string, bool) {
	s, ok := c.str(m, key, path, required, minLen, maxLen)
	if !ok {
		return "", false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			c.fail("%s.%s: want digits", path, key)
			return "", false
		}
	}
	return s, true
}

func (c *checker) integer(m map[string]any, key, path string, required bool) (int64, bool) {
	v, present := m[key]
	if !present {
		if required {
			c.fail("%s.%s: required", path, key)
		}
		return 0, false
	}
	f, ok := v.(float64)
	if !ok || f != math.Trunc(f) {
		c.fail("%s.%s: want integer", path, key)
		return 0, false
	}
	return int64(f), true
}

func (c *checker) boolean(m map[string]any, key, path string) (bool, bool) {
	v, present := m[key]
	if !present {
		return false, false
	}
	b, ok := v.(bool)
	if !ok {
		c.fail("%s.%s: want boolean", path, key)
	}
	return b, ok
}

func (c *checker) amount(m map[string]any, path string, required bool) (string, int64) {
	v, present := m["amount"]
	if !present {
		if required {
			c.fail("%s.amount: required", path)
		}
		return "", 0
	}
	a := c.object(v, path+".amount")
	if a == nil {
		return "", 0
	}
	c.only(a, path+".amount", "currency", "value")
	cur, _ := c.str(a, "currency", path+".amount", true, 3, 3)
	val, _ := c.integer(a, "value", path+".amount", true)
	if val < 0 {
		c.fail("%s.amount.value: negative", path)
	}
	return cur, val
}

func (c *checker) stringMap(m map[string]any, key, path string, maxEntries, maxKey, maxValue int) map[string]string {
	v, present := m[key]
	if !present {
		return nil
	}
	obj := c.object(v, path+"."+key)
	out := make(map[string]string, len(obj))
	if maxEntries > 0 && len(obj) > maxEntries {
		c.fail("%s.%s: too many entries", path, key)
	}
	for k, val := range obj {
		s, ok := val.(string)
		if !ok {
			c.fail("%s.%s.%s: want string", path, key, k)
			continue
		}
		if (maxKey > 0 && len(k) > maxKey) || (maxValue > 0 && len(s) > maxValue) {
			c.fail("%s.%s: entry too long", path, key)
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
	m := c.object(raw, "$")
	if m == nil {
		return f, c.problems
	}
	c.only(m, "$", "paymentMethod", "amount", "merchantAccount", "reference", "returnUrl",
		"shopperInteraction", "captureDelayHours", "additionalData", "storePaymentMethod",
		"shopperReference", "recurringProcessingModel", "metadata")

	if pmRaw, ok := m["paymentMethod"]; !ok {
		c.fail("$.paymentMethod: required")
	} else if pm := c.object(pmRaw, "$.paymentMethod"); pm != nil {
		c.only(pm, "$.paymentMethod", "type", "number", "expiryMonth", "expiryYear", "cvc", "holderName")
		if t, _ := c.str(pm, "type", "$.paymentMethod", false, 0, 0); t != "" && t != "scheme" {
			c.fail("$.paymentMethod.type: want scheme")
		}
		_, hasNumber := c.digits(pm, "number", "$.paymentMethod", false, 12, 19)
		mm, hasMonth := c.digits(pm, "expiryMonth", "$.paymentMethod", false, 2, 2)
		_, hasYear := c.digits(pm, "expiryYear", "$.paymentMethod", false, 4, 4)
		if hasMonth && (mm < "01" || mm > "12") {
			c.fail("$.paymentMethod.expiryMonth: out of range")
		}
		c.digits(pm, "cvc", "$.paymentMethod", false, 3, 4)
		f.holderName, _ = c.str(pm, "holderName", "$.paymentMethod", false, 0, 15000)
		if hasNumber != hasMonth || hasNumber != hasYear {
			c.fail("$.paymentMethod: number, expiryMonth and expiryYear go together")
		}
		f.hasCard = hasNumber && hasMonth && hasYear
	}
	f.currency, f.value = c.amount(m, "$", true)
	f.merchantAccount, _ = c.str(m, "merchantAccount", "$", true, 1, 0)
	f.reference, _ = c.str(m, "reference", "$", true, 1, 80)
	c.str(m, "returnUrl", "$", true, 1, 8000)
	if si, _ := c.str(m, "shopperInteraction", "$", false, 0, 0); si != "Moto" {
		c.fail("$.shopperInteraction: want Moto")
	}
	if h, ok := c.integer(m, "captureDelayHours", "$", false); ok && h < 0 {
		c.fail("$.captureDelayHours: negative")
	}
	ad := c.stringMap(m, "additionalData", "$", 0, 0, 0)
	if v, ok := ad["manualCapture"]; ok {
		if v != "true" && v != "false" {
			c.fail("$.additionalData.manualCapture: want \"true\" or \"false\"")
		}
		f.manualCapture = v == "true"
	}
	f.store, _ = c.boolean(m, "storePaymentMethod", "$")
	f.shopperRef, _ = c.str(m, "shopperReference", "$", f.store, 3, 256)
	if rpm, ok := c.str(m, "recurringProcessingModel", "$", false, 0, 0); ok {
		switch rpm {
		case "CardOnFile", "Subscription", "UnscheduledCardOnFile":
		default:
			c.fail("$.recurringProcessingModel: not in enum")
		}
	}
	c.stringMap(m, "metadata", "$", 20, 20, 80)
	return f, c.problems
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
	m := c.object(raw, "$")
	if m == nil {
		return f, c.problems
	}
	if needAmount {
		c.only(m, "$", "merchantAccount", "amount", "reference")
		f.currency, f.value = c.amount(m, "$", true)
	} else {
		c.only(m, "$", "merchantAccount", "reference")
	}
	f.merchantAccount, _ = c.str(m, "merchantAccount", "$", false, 1, 0)
	f.reference, _ = c.str(m, "reference", "$", false, 0, 80)
	return f, c.problems
}
