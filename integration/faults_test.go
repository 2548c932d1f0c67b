package integration_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tonewall/tonewall/controller/call"
	"github.com/tonewall/tonewall/controller/daemon"
	"github.com/tonewall/tonewall/integration/fssim"
)

// A disarm step the switch refuses is retried, then reported; the other
// steps are still undone so customer and agent hear each other again.
func TestDisarmFailureIsRetriedAndReported(t *testing.T) {
	e := newEnv(t, nil)
	c := e.dial(fssim.CallOptions{})
	c.AddFault(fssim.Fault{Match: "api uuid_displace " + c.B() + " stop", Reply: "-ERR Cannot locate session!"})
	v := e.startCapture(c, nil)
	e.waitPrompt(c, "enter-card-number", 1)
	var got call.CaptureView
	if code := e.api("POST", "/v1/captures/"+v.ID+"/cancel", nil, &got); code != http.StatusOK {
		t.Fatalf("cancel: %d", code)
	}
	if got.Masking != "disarm-failed" {
		t.Errorf("masking = %q, want disarm-failed", got.Masking)
	}
	tries := 0
	for _, cmd := range c.Commands() {
		if strings.HasPrefix(cmd, "api uuid_displace "+c.B()+" stop") {
			tries++
		}
	}
	if tries != call.DefaultDisarmAttempts {
		t.Errorf("tone stop tried %d times, want %d", tries, call.DefaultDisarmAttempts)
	}
	assertEvent(t, e, call.EventDisarmFailed, "")
	// The steps after it in reverse order were still undone.
	if h := c.AgentHears(); !h.Customer {
		t.Errorf("agent hears %+v after a partial disarm, want the customer again", h)
	}
}

// A command whose reply never comes within the deadline aborts the capture
// with masking left on, and the session refuses further commands: a late
// reply could otherwise be taken for the next command's.
func TestSlowSwitchFailsClosed(t *testing.T) {
	e := newEnv(t, func(o *daemon.Options) { o.CommandTimeout = 300 * time.Millisecond })
	c := e.dial(fssim.CallOptions{})
	c.AddFault(fssim.Fault{Match: "api uuid_audio", Delay: 2 * time.Second})
	var errBody struct{ Error struct{ Code string } }
	code := e.api("POST", "/v1/calls/"+c.A()+"/captures", map[string]any{"amount": 100, "currency": "GBP", "reference": "slow"}, &errBody)
	if code != http.StatusBadGateway || errBody.Error.Code != "masking_failed" {
		t.Fatalf("start on a slow switch: %d %q, want 502 masking_failed", code, errBody.Error.Code)
	}
	caps := e.d.Calls().Captures(c.A())
	if len(caps) != 1 || caps[0].Outcome != "arming-failed" || caps[0].Masking != "left-on" {
		t.Fatalf("captures %+v", caps)
	}
	for _, cmd := range c.Commands() {
		if strings.Contains(cmd, " off mask_digits") || strings.Contains(cmd, "enter-card-number") {
			t.Errorf("after the timeout the controller still sent %q", cmd)
		}
	}
	// Relay to the agent stays blocked: masking was left on.
	if ps := key(t, c, "4", fssim.RFC2833, 0); ps[0].AgentGotRFC2833 {
		t.Error("a digit reached the agent after the failed arming")
	}
}
