package integration_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tonewall/tonewall/controller/call"
	"github.com/tonewall/tonewall/controller/daemon"
	"github.com/tonewall/tonewall/integration/fssim"
)

const (
	visaPAN   = "4242424242424242"
	amexPAN   = "378282246310005"
	goodExp   = "0731"
	visaCVV   = "982"
	amexCVV   = "7391"
	keyGap    = 20 * time.Millisecond
	finalWait = "capture finished"
)

// keyCard keys PAN, expiry and CVV, each field ended with '#', waiting for
// each field's prompt before keying it as a customer would.
func keyCard(t *testing.T, e *env, c *fssim.Call, mode fssim.DTMFMode, pan, exp, cvv string) []fssim.KeyPress {
	t.Helper()
	var presses []fssim.KeyPress
	e.waitPrompt(c, "enter-card-number", 1)
	presses = append(presses, key(t, c, pan+"#", mode, keyGap)...)
	e.waitPrompt(c, "enter-expiry", 1)
	presses = append(presses, key(t, c, exp, mode, keyGap)...) // four digits complete the field
	e.waitPrompt(c, "enter-security-code", 1)
	presses = append(presses, key(t, c, cvv, mode, keyGap)...)
	return presses
}

func TestFullCaptureNoToneReachesAgent(t *testing.T) {
	modes := []struct {
		name string
		mode fssim.DTMFMode
	}{
		{"inband", fssim.Inband},
		{"rfc2833", fssim.RFC2833},
		{"both", fssim.Both},
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			e := newEnv(t, nil)
			c := e.dial(fssim.CallOptions{Recording: "/var/rec/" + m.name + ".wav"})
			v := e.startCapture(c, nil)
			if v.Masking != "on" {
				t.Fatalf("masking = %q after start, want on", v.Masking)
			}
			if h := c.AgentHears(); !h.Tone || h.Customer {
				t.Fatalf("while armed the agent hears %+v, want the tone and not the customer", h)
			}
			if h := c.CustomerHears(); !h.Agent {
				t.Fatalf("while armed the customer hears %+v, want the agent", h)
			}
			presses := keyCard(t, e, c, m.mode, visaPAN, goodExp, visaCVV)
			v = e.waitCapture(v.ID, finalWait, func(v call.CaptureView) bool { return v.Outcome == "recorded" })
			if v.Brand != "visa" || v.Last4 != "4242" {
				t.Errorf("brand/last4 = %s/%s, want visa/4242", v.Brand, v.Last4)
			}
			if v.Masking != "off" {
				t.Errorf("masking = %q after the card, want off", v.Masking)
			}
			assertNothingReachedAgent(t, presses)
			if h := c.AgentHears(); h.Tone || !h.Customer {
				t.Errorf("after disarm the agent hears %+v, want the customer and no tone", h)
			}
			subs := e.sink.Submissions()
			if len(subs) != 1 || subs[0].Last4 != "4242" || subs[0].Amount != 1250 || subs[0].Currency != "GBP" {
				t.Errorf("sink got %+v", subs)
			}
			assertCommandOrder(t, c.Commands(), c.A(), c.B())
		})
	}
}

func assertNothingReachedAgent(t *testing.T, presses []fssim.KeyPress) {
	t.Helper()
	if len(presses) == 0 {
		t.Fatal("no key presses recorded")
	}
	for i, p := range presses {
		if p.ControllerEvents == 0 {
			t.Errorf("press %d: the controller got no event", i)
		}
		if p.AgentHeardTone || p.AgentGotRFC2833 || p.RecordingHasTone {
			t.Errorf("press %d reached the agent or the recording: %+v", i, p)
		}
	}
}

// assertCommandOrder checks the arming order verified on the real switch,
// and that disarming is its exact reverse.
func assertCommandOrder(t *testing.T, cmds []string, a, b string) {
	t.Helper()
	want := []string{
		"sendmsg\ncall-command: execute\nexecute-app-name: spandsp_start_dtmf",
		"sendmsg\ncall-command: execute\nexecute-app-name: bridge",
		"api uuid_drop_dtmf " + b + " on mask_digits none",
		"api uuid_audio " + a + " start read mute 1",
		"api uuid_displace " + b + " start tone_stream://%(300,700,440);loops=-1 0 m",
		"api uuid_displace " + a + " start /prompts/en/tonewall-enter-card-number.wav 0 m",
		"api uuid_displace " + b + " stop tone_stream://%(300,700,440);loops=-1",
		"api uuid_audio " + a + " stop",
		"api uuid_drop_dtmf " + b + " off mask_digits none",
	}
	i := 0
	for _, c := range cmds {
		if i < len(want) && strings.HasPrefix(c, want[i]) {
			i++
		}
	}
	if i != len(want) {
		t.Errorf("command %d missing or out of order: %q\ngot:\n%s", i, want[i], strings.Join(cmds, "\n"))
	}
}

func TestWithoutMaskingTheModelHearsEverything(t *testing.T) {
	// Control: the same presses on a call with no capture running reach the
	// agent, so the assertions above can fail.
	e := newEnv(t, nil)
	c := e.dial(fssim.CallOptions{Recording: "/var/rec/control.wav"})
	for _, mode := range []fssim.DTMFMode{fssim.Inband, fssim.RFC2833} {
		ps := key(t, c, "42", mode, keyGap)
		for _, p := range ps {
			if !p.AgentGotRFC2833 {
				t.Errorf("mode %v: unmasked press not relayed to the agent: %+v", mode, p)
			}
			if mode == fssim.Inband && (!p.AgentHeardTone || !p.RecordingHasTone) {
				t.Errorf("unmasked in-band press not audible/recorded: %+v", p)
			}
		}
	}
}

func TestEventsOutOfOrderStillGiveThePAN(t *testing.T) {
	// Key the whole card in bursts with no pause: the client library hands
	// each event to its own goroutine, so they arrive shuffled; the session
	// puts them back in Event-Sequence order. A burst a few microseconds
	// apart is far harsher than any caller (key presses are 50 ms or more
	// apart), and the test runs beside other packages' tests on two cores,
	// so it holds events for 5 ms rather than the default 1 ms.
	for trial := 0; trial < 5; trial++ {
		e := newEnv(t, func(o *daemon.Options) { o.ReorderWindow = 5 * time.Millisecond })
		c := e.dial(fssim.CallOptions{})
		v := e.startCapture(c, nil)
		e.waitPrompt(c, "enter-card-number", 1)
		key(t, c, amexPAN, fssim.RFC2833, 0) // 15 digits: Amex completes by length
		e.waitPrompt(c, "enter-expiry", 1)
		key(t, c, goodExp, fssim.RFC2833, 0)
		e.waitPrompt(c, "enter-security-code", 1)
		key(t, c, amexCVV, fssim.RFC2833, 0)
		v = e.waitCapture(v.ID, finalWait, func(v call.CaptureView) bool { return v.Outcome != "" && v.Outcome != "submitting" })
		if v.Outcome != "recorded" || v.Brand != "amex" || v.Last4 != "0005" {
			t.Fatalf("trial %d: outcome %s brand %s last4 %s; fields %+v", trial, v.Outcome, v.Brand, v.Last4, v.Fields)
		}
		for _, f := range v.Fields {
			if f.Attempts != 0 {
				t.Fatalf("trial %d: field %s needed %d retries: digits were misordered", trial, f.Field, f.Attempts)
			}
		}
	}
}

func TestStarRestartsField(t *testing.T) {
	e := newEnv(t, nil)
	c := e.dial(fssim.CallOptions{})
	v := e.startCapture(c, nil)
	e.waitPrompt(c, "enter-card-number", 1)
	key(t, c, "4111*", fssim.RFC2833, keyGap)
	e.waitPrompt(c, "restart", 1)
	key(t, c, visaPAN+"#", fssim.RFC2833, keyGap)
	e.waitPrompt(c, "enter-expiry", 1)
	key(t, c, goodExp, fssim.RFC2833, keyGap)
	e.waitPrompt(c, "enter-security-code", 1)
	key(t, c, visaCVV, fssim.RFC2833, keyGap)
	v = e.waitCapture(v.ID, finalWait, func(v call.CaptureView) bool { return v.Outcome == "recorded" })
	if v.Last4 != "4242" || v.Fields[0].Attempts != 0 {
		t.Errorf("after * restart: last4 %s, pan attempts %d", v.Last4, v.Fields[0].Attempts)
	}
	assertEvent(t, e, call.EventFieldRestarted, "pan")
}

func assertEvent(t *testing.T, e *env, typ, field string) call.Event {
	t.Helper()
	for _, ev := range e.evs.list() {
		if ev.Type == typ && (field == "" || ev.Field == field) {
			return ev
		}
	}
	t.Fatalf("no %s event for field %q", typ, field)
	return call.Event{}
}

func TestInvalidEntriesAreRetried(t *testing.T) {
	tests := []struct {
		name      string
		pan, exp  string
		field     string
		reason    string
		fixPrompt string
	}{
		{name: "bad luhn", pan: "4242424242424241", exp: goodExp, field: "pan", reason: "luhn"},
		{name: "expired", pan: visaPAN, exp: "0120", field: "expiry", reason: "expired"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil)
			c := e.dial(fssim.CallOptions{})
			v := e.startCapture(c, nil)
			e.waitPrompt(c, "enter-card-number", 1)
			key(t, c, tt.pan+"#", fssim.Inband, keyGap)
			if tt.field == "pan" {
				e.waitPrompt(c, "invalid-entry", 1)
				key(t, c, visaPAN+"#", fssim.Inband, keyGap)
			}
			e.waitPrompt(c, "enter-expiry", 1)
			key(t, c, tt.exp, fssim.Inband, keyGap)
			if tt.field == "expiry" {
				e.waitPrompt(c, "invalid-entry", 1)
				key(t, c, goodExp, fssim.Inband, keyGap)
			}
			e.waitPrompt(c, "enter-security-code", 1)
			key(t, c, visaCVV, fssim.Inband, keyGap)
			v = e.waitCapture(v.ID, finalWait, func(v call.CaptureView) bool { return v.Outcome == "recorded" })
			ev := assertEvent(t, e, call.EventFieldInvalid, tt.field)
			if ev.Reason != tt.reason {
				t.Errorf("invalid reason = %q, want %q", ev.Reason, tt.reason)
			}
			for _, f := range v.Fields {
				want := 0
				if f.Field == tt.field {
					want = 1
				}
				if f.Attempts != want {
					t.Errorf("field %s attempts = %d, want %d", f.Field, f.Attempts, want)
				}
			}
		})
	}
}

func TestTimeouts(t *testing.T) {
	t.Run("inter-digit", func(t *testing.T) {
		e := newEnv(t, func(o *daemon.Options) { o.InterDigit = 200 * time.Millisecond; o.MaxAttempts = 2 })
		c := e.dial(fssim.CallOptions{})
		v := e.startCapture(c, nil)
		e.waitPrompt(c, "enter-card-number", 1)
		key(t, c, "4242", fssim.RFC2833, 0)
		e.waitPrompt(c, "timeout", 1)
		ev := assertEvent(t, e, call.EventFieldTimeout, "pan")
		if ev.Digits != 4 {
			t.Errorf("timeout event digits = %d, want 4", ev.Digits)
		}
		// A second silence uses up the attempts.
		key(t, c, "42", fssim.RFC2833, 0)
		v = e.waitCapture(v.ID, finalWait, func(v call.CaptureView) bool { return v.Outcome == "attempts-exhausted" })
		if v.Masking != "off" {
			t.Errorf("masking %q after attempts exhausted, want off", v.Masking)
		}
		if len(e.sink.Submissions()) != 0 {
			t.Error("a failed capture reached the sink")
		}
	})
	t.Run("field", func(t *testing.T) {
		e := newEnv(t, func(o *daemon.Options) { o.FieldTimeout = 250 * time.Millisecond; o.MaxAttempts = 2 })
		c := e.dial(fssim.CallOptions{})
		v := e.startCapture(c, nil)
		e.waitPrompt(c, "timeout", 1)
		v = e.waitCapture(v.ID, finalWait, func(v call.CaptureView) bool { return v.Outcome == "attempts-exhausted" })
		e.waitPrompt(c, "capture-failed", 1)
		assertEvent(t, e, call.EventFieldTimeout, "pan")
	})
}

func TestHangUpMidField(t *testing.T) {
	e := newEnv(t, nil)
	c := e.dial(fssim.CallOptions{})
	v := e.startCapture(c, nil)
	e.waitPrompt(c, "enter-card-number", 1)
	key(t, c, "42424242", fssim.Inband, keyGap)
	e.poll("digits counted", func() bool { return e.capture(v.ID).Fields[0].Digits == 8 })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.HangUp(ctx, fssim.LegA); err != nil {
		t.Fatal(err)
	}
	v = e.waitCapture(v.ID, finalWait, func(v call.CaptureView) bool { return v.Outcome != "" })
	if v.Outcome != "caller-hung-up" {
		t.Errorf("outcome %q, want caller-hung-up", v.Outcome)
	}
	if len(e.sink.Submissions()) != 0 {
		t.Error("a partial card reached the sink")
	}
	e.poll("call gone", func() bool { _, err := e.d.Calls().Call(c.A()); return err != nil })
}

func TestArmingFailureAbortsAndLeavesMaskingOn(t *testing.T) {
	e := newEnv(t, nil)
	c := e.dial(fssim.CallOptions{Faults: []fssim.Fault{{Match: "api uuid_displace", Reply: "-ERR Cannot locate session!"}}})
	var errBody struct{ Error struct{ Code string } }
	code := e.api("POST", "/v1/calls/"+c.A()+"/captures", map[string]any{"amount": 100, "currency": "GBP", "reference": "r1"}, &errBody)
	if code != http.StatusBadGateway || errBody.Error.Code != "masking_failed" {
		t.Fatalf("start with failing arm: status %d code %q, want 502 masking_failed", code, errBody.Error.Code)
	}
	caps := e.d.Calls().Captures(c.A())
	if len(caps) != 1 || caps[0].Outcome != "arming-failed" || caps[0].Masking != "left-on" {
		t.Fatalf("captures %+v", caps)
	}
	for _, cmd := range c.Commands() {
		if strings.Contains(cmd, " off mask_digits") || strings.Contains(cmd, "uuid_audio "+c.A()+" stop") {
			t.Errorf("masking was undone after the arming failure: %q", cmd)
		}
		if strings.Contains(cmd, "enter-card-number") {
			t.Error("customer prompted although masking was not armed")
		}
	}
	assertEvent(t, e, call.EventMaskingFailed, "")
	// Masking stays on: a key press now still does not reach the agent.
	ps := key(t, c, "4", fssim.RFC2833, 0)
	if ps[0].AgentGotRFC2833 {
		t.Error("after the failed arming a digit reached the agent")
	}
}

func TestConnectionDropEndsCapture(t *testing.T) {
	e := newEnv(t, nil)
	c := e.dial(fssim.CallOptions{})
	v := e.startCapture(c, nil)
	e.waitPrompt(c, "enter-card-number", 1)
	key(t, c, "4242", fssim.RFC2833, keyGap)
	if err := c.Drop(); err != nil {
		t.Fatal(err)
	}
	v = e.waitCapture(v.ID, finalWait, func(v call.CaptureView) bool { return v.Outcome != "" })
	if v.Outcome != "caller-hung-up" {
		t.Errorf("outcome %q after the socket dropped, want caller-hung-up", v.Outcome)
	}
	if len(e.sink.Submissions()) != 0 {
		t.Error("partial card reached the sink")
	}
}

func TestCancelDisarms(t *testing.T) {
	e := newEnv(t, nil)
	c := e.dial(fssim.CallOptions{})
	v := e.startCapture(c, nil)
	e.waitPrompt(c, "enter-card-number", 1)
	key(t, c, "4242", fssim.Both, keyGap)
	var got call.CaptureView
	if code := e.api("POST", "/v1/captures/"+v.ID+"/cancel", nil, &got); code != http.StatusOK {
		t.Fatalf("cancel: %d", code)
	}
	if got.Outcome != "cancelled" || got.Masking != "off" {
		t.Errorf("after cancel: outcome %q masking %q", got.Outcome, got.Masking)
	}
	if h := c.AgentHears(); h.Tone || !h.Customer {
		t.Errorf("after cancel the agent hears %+v", h)
	}
	// A second capture on the same call works.
	v2 := e.startCapture(c, map[string]any{"amount": 500, "currency": "EUR", "reference": "order-2"})
	if v2.ID == v.ID || v2.Masking != "on" {
		t.Errorf("second capture %+v", v2)
	}
}

func TestAPIErrors(t *testing.T) {
	e := newEnv(t, nil)
	c := e.dial(fssim.CallOptions{})
	tests := []struct {
		name   string
		method string
		path   string
		body   any
		status int
		code   string
	}{
		{"unknown call", "POST", "/v1/calls/nope/captures", map[string]any{"amount": 1, "currency": "GBP", "reference": "x"}, 404, "call_not_found"},
		{"bad amount", "POST", "/v1/calls/" + c.A() + "/captures", map[string]any{"amount": 0, "currency": "GBP", "reference": "x"}, 400, "invalid_request"},
		{"bad currency", "POST", "/v1/calls/" + c.A() + "/captures", map[string]any{"amount": 1, "currency": "pounds", "reference": "x"}, 400, "invalid_request"},
		{"card in reference", "POST", "/v1/calls/" + c.A() + "/captures", map[string]any{"amount": 1, "currency": "GBP", "reference": "4000 0000 0000 0002"}, 400, "invalid_request"},
		{"unknown field", "POST", "/v1/calls/" + c.A() + "/captures", map[string]any{"amount": 1, "currency": "GBP", "reference": "x", "color": "red"}, 400, "invalid_request"},
		{"bad fields", "POST", "/v1/calls/" + c.A() + "/captures", map[string]any{"amount": 1, "currency": "GBP", "reference": "x", "fields": []string{"pan", "pin"}}, 400, "invalid_request"},
		{"unknown capture", "GET", "/v1/captures/cap_nope", nil, 404, "capture_not_found"},
		{"cancel unknown", "POST", "/v1/captures/cap_nope/cancel", nil, 404, "capture_not_found"},
		{"no such route", "GET", "/v1/nothing", nil, 404, "not_found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body struct {
				Error struct {
					Code    string `json:"code"`
					Message string `json:"message"`
				} `json:"error"`
			}
			if got := e.api(tt.method, tt.path, tt.body, &body); got != tt.status {
				t.Errorf("status %d, want %d", got, tt.status)
			}
			if body.Error.Code != tt.code {
				t.Errorf("code %q, want %q", body.Error.Code, tt.code)
			}
		})
	}
	// A second capture while one runs is refused.
	e.startCapture(c, nil)
	var body struct{ Error struct{ Code string } }
	if got := e.api("POST", "/v1/calls/"+c.A()+"/captures", map[string]any{"amount": 1, "currency": "GBP", "reference": "y"}, &body); got != 409 || body.Error.Code != "capture_in_progress" {
		t.Errorf("second capture: %d %q", got, body.Error.Code)
	}
}
