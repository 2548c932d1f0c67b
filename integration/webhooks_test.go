package integration_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/tonewall/tonewall/controller/call"
	"github.com/tonewall/tonewall/controller/daemon"
	"github.com/tonewall/tonewall/controller/webhook"
	"github.com/tonewall/tonewall/integration/fssim"
)

// TestDaemonSendsSignedWebhooks runs the whole daemon with its embedded
// outbox: a capture on a simulated call reaches the CRM as signed
// capture.started and payment.approved webhooks, with no card data.
func TestDaemonSendsSignedWebhooks(t *testing.T) {
	rc := newCRM(t)
	e := newEnv(t, func(o *daemon.Options) {
		o.Sink = &approvingSink{}
		o.DataDir = t.TempDir()
		o.NodeID = "ctl-test"
		o.Webhooks = []webhook.Endpoint{{ID: "crm", URL: rc.srv.URL, SecretName: "crm"}}
		o.WebhookSecrets = webhook.StaticSecrets{"crm": {rc.secret}}
		o.AllowLoopbackWebhooks = true
	})
	c := e.dial(fssim.CallOptions{})
	v := e.startCapture(c, nil)
	keyCard(t, e, c, fssim.RFC2833, visaPAN, goodExp, visaCVV)
	e.waitCapture(v.ID, "approved", func(v call.CaptureView) bool { return v.Outcome == "approved" })
	var bodies []string
	e.poll("two webhooks", func() bool {
		_, bodies, _ = rc.snapshot()
		return len(bodies) >= 2
	})
	ids, bodies, bad := rc.snapshot()
	if bad != 0 {
		t.Errorf("%d webhooks failed signature verification", bad)
	}
	for id, n := range ids {
		if n != 1 {
			t.Errorf("webhook %s delivered %d times", id, n)
		}
	}
	types := map[string]map[string]any{}
	for _, b := range bodies {
		e.out.Write([]byte(b + "\n")) // scanned for canaries at cleanup
		var w struct {
			Type string         `json:"type"`
			Data map[string]any `json:"data"`
		}
		if err := json.Unmarshal([]byte(b), &w); err != nil {
			t.Fatalf("payload %q: %v", b, err)
		}
		types[w.Type] = w.Data
	}
	if _, ok := types[webhook.TypeCaptureStarted]; !ok {
		t.Errorf("no %s webhook in %v", webhook.TypeCaptureStarted, bodies)
	}
	pay, ok := types[webhook.TypePaymentApproved]
	if !ok {
		t.Fatalf("no %s webhook in %v", webhook.TypePaymentApproved, bodies)
	}
	for k, want := range map[string]any{"capture_id": v.ID, "last4": "4242", "brand": "visa", "currency": "GBP", "reference": "order-1001"} {
		if pay[k] != want {
			t.Errorf("payment webhook %s = %v, want %v", k, pay[k], want)
		}
	}
	if pay["amount"] != float64(1250) {
		t.Errorf("payment webhook amount = %v, want 1250", pay["amount"])
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = c.HangUp(ctx, fssim.LegA)
}
