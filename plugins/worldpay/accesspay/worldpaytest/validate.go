package worldpaytest

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"sort"
)

// The checks below follow the Payments API (2024-06-01) schema: types,
// required fields, enums, patterns and lengths of PaymentRequest and the
// partial settle and refund bodies. Fields the plugin never sends are
// refused too, so a stray field shows up. Messages name fields only, never
// values: the values may be card data.

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

func (c *checker) value(m map[string]any, path string) (string, int64) {
	v, present := m["value"]
	if !present {
		c.fail("%s.value: required", path)
		return "", 0
	}
	a := c.object(v, path+".value")
	if a == nil {
		return "", 0
	}
	c.only(a, path+".value", "currency", "amount")
	cur, _ := c.str(a, "currency", path+".value", true, 3, 3)
	val, _ := c.integer(a, "amount", path+".value", true)
	if val < 0 || val > 1<<31-1 {
		c.fail("%s.value.amount: out of int32 range", path)
	}
	return cur, val
}

func (c *checker) sub(m map[string]any, key, path string, required bool) map[string]any {
	v, present := m[key]
	if !present {
		if required {
			c.fail("%s.%s: required", path, key)
		}
		return nil
	}
	return c.object(v, path+"."+key)
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
	m := c.object(raw, "$")
	if m == nil {
		return f, c.problems
	}
	c.only(m, "$", "transactionReference", "merchant", "channel", "instruction")
	f.txnRef, _ = c.str(m, "transactionReference", "$", true, 1, 64)
	if f.txnRef != "" && !txnRefPattern.MatchString(f.txnRef) {
		c.fail("$.transactionReference: does not match the documented pattern")
	}
	if mer := c.sub(m, "merchant", "$", true); mer != nil {
		c.only(mer, "$.merchant", "entity", "mcc")
		if e, ok := c.str(mer, "entity", "$.merchant", true, 1, 32); ok && !entityPattern.MatchString(e) {
			c.fail("$.merchant.entity: does not match the documented pattern")
		}
	}
	if ch, _ := c.str(m, "channel", "$", true, 0, 0); ch != "moto" {
		c.fail("$.channel: want moto")
	}
	in := c.sub(m, "instruction", "$", true)
	if in == nil {
		return f, c.problems
	}
	c.only(in, "$.instruction", "method", "paymentInstrument", "narrative", "value", "settlement", "tokenCreation", "customerAgreement")
	if meth, _ := c.str(in, "method", "$.instruction", true, 0, 0); meth != "card" {
		c.fail("$.instruction.method: want card")
	}
	if tc := c.sub(in, "tokenCreation", "$.instruction", false); tc != nil {
		f.token = true
		c.only(tc, "$.instruction.tokenCreation", "type", "namespace", "description")
		if t, _ := c.str(tc, "type", "$.instruction.tokenCreation", true, 0, 0); t != "worldpay" {
			c.fail("$.instruction.tokenCreation.type: want worldpay")
		}
	}
	if pi := c.sub(in, "paymentInstrument", "$.instruction", true); pi != nil {
		p := "$.instruction.paymentInstrument"
		c.only(pi, p, "type", "cardHolderName", "cardNumber", "expiryDate", "cvc", "billingAddress")
		if t, _ := c.str(pi, "type", p, true, 0, 0); t != "plain" {
			c.fail("%s.type: want plain", p)
		}
		c.digits(pi, "cardNumber", p, true, 12, 19)
		f.holderName, _ = c.str(pi, "cardHolderName", p, f.token, 1, 255)
		c.digits(pi, "cvc", p, false, 3, 4)
		if ed := c.sub(pi, "expiryDate", p, true); ed != nil {
			c.only(ed, p+".expiryDate", "month", "year")
			if mo, ok := c.integer(ed, "month", p+".expiryDate", true); ok && (mo < 1 || mo > 12) {
				c.fail("%s.expiryDate.month: out of range", p)
			}
			if y, ok := c.integer(ed, "year", p+".expiryDate", true); ok && (y < 1000 || y > 9999) {
				c.fail("%s.expiryDate.year: want four digits", p)
			}
		}
	}
	if n := c.sub(in, "narrative", "$.instruction", true); n != nil {
		c.only(n, "$.instruction.narrative", "line1", "line2")
		c.str(n, "line1", "$.instruction.narrative", true, 1, 0)
		c.str(n, "line2", "$.instruction.narrative", false, 0, 0)
	}
	f.currency, f.amount = c.value(in, "$.instruction")
	if s := c.sub(in, "settlement", "$.instruction", false); s != nil {
		c.only(s, "$.instruction.settlement", "auto", "cancelOn")
		if _, present := s["auto"]; !present {
			c.fail("$.instruction.settlement.auto: required")
		}
		f.auto, _ = c.boolean(s, "auto", "$.instruction.settlement")
	}
	if ca := c.sub(in, "customerAgreement", "$.instruction", false); ca != nil {
		c.only(ca, "$.instruction.customerAgreement", "type", "storedCardUsage")
		if t, _ := c.str(ca, "type", "$.instruction.customerAgreement", true, 0, 0); t != "cardOnFile" {
			c.fail("$.instruction.customerAgreement.type: want cardOnFile")
		}
		if u, _ := c.str(ca, "storedCardUsage", "$.instruction.customerAgreement", true, 0, 0); u != "first" && u != "subsequent" {
			c.fail("$.instruction.customerAgreement.storedCardUsage: not in enum")
		}
	} else if f.amount == 0 {
		c.fail("$.instruction.value.amount: 0 is only allowed with a customerAgreement")
	}
	return f, c.problems
}

// checkPartial validates a partialSettlements or partialRefunds body.
func checkPartial(body []byte) (string, int64, []string) {
	var c checker
	var raw any
	if err := json.Unmarshal(body, &raw); err != nil {
		return "", 0, []string{"body: not JSON"}
	}
	m := c.object(raw, "$")
	if m == nil {
		return "", 0, c.problems
	}
	c.only(m, "$", "reference", "value", "sequence")
	c.str(m, "reference", "$", true, 1, 0)
	cur, amt := c.value(m, "$")
	return cur, amt, c.problems
}
