package pluginsdk

import (
	"strings"
	"testing"
)

func TestCardHelpers(t *testing.T) {
	c := &Card{Number: []byte("4242424242424242"), ExpiryMonth: 7, ExpiryYear: 2031, CVC: []byte("982")}
	if r := CardProblem(c); r != ReasonNone {
		t.Errorf("valid card: %q", r)
	}
	for _, tt := range []struct {
		mutate func(*Card)
		want   Reason
	}{
		{func(c *Card) { c.Number = []byte("42424242") }, ReasonInvalidNumber},
		{func(c *Card) { c.Number = []byte("4242x24242424242") }, ReasonInvalidNumber},
		{func(c *Card) { c.ExpiryMonth = 13 }, ReasonInvalidExpiryDate},
		{func(c *Card) { c.CVC = []byte("12") }, ReasonInvalidCVC},
	} {
		cc := *c
		tt.mutate(&cc)
		if got := CardProblem(&cc); got != tt.want {
			t.Errorf("CardProblem = %q, want %q", got, tt.want)
		}
	}
	if Last4(c.Number) != "4242" || CardBrand(c.Number) != "visa" || CardBrand([]byte("378282246310005")) != "amex" {
		t.Error("last four or brand wrong")
	}
	msg := RedactCard("card 4242 4242 4242 4242 with cvc 982 declined (code 9821)", c)
	if strings.Contains(msg, "4242 4242") || strings.Contains(msg, " 982 ") || !strings.Contains(msg, "9821") {
		t.Errorf("RedactCard = %q", msg)
	}
	if k := StepKey("key", "-pm", 64); k != "key-pm" {
		t.Errorf("StepKey short = %q", k)
	}
	if k := StepKey(strings.Repeat("k", 70), "-pi", 64); len(k) != 64 {
		t.Errorf("StepKey long = %q (%d)", k, len(k))
	}
	b := []byte("4242")
	Wipe(b)
	if string(b) != "\x00\x00\x00\x00" {
		t.Errorf("Wipe left %q", b)
	}
	if got := string(AppendFourDigits(AppendTwoDigits(nil, 7), 2031)); got != "072031" {
		t.Errorf("Append = %q", got)
	}
}
