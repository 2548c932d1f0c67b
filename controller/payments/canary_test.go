package payments_test

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tonewall/tonewall/controller/payments"
	"github.com/tonewall/tonewall/pluginsdk"
	"github.com/tonewall/tonewall/pluginsdk/conformance"
)

// TestCanaryCardNeverLeaks plants a card and a secret, drives the host
// through success, a plugin killed mid-call, a deadline and refusals, and
// scans every log line, the plugins' stderr, every error and every result.
func TestCanaryCardNeverLeaks(t *testing.T) {
	const pan, cvv, apiKey = "4000056655665556", "918", "sk_live_canary_7f3a"
	canaries := []conformance.Canary{{PAN: pan, CVC: cvv}, {PAN: apiKey}}
	psp := newFakePSP(t)
	slow := pspConfig("slow", psp, map[string]string{"delay": "1h"})
	th := startHost(t, payments.Options{
		Plugins:     []payments.PluginConfig{pspConfig("psp", psp, nil), slow},
		CallTimeout: 2 * time.Second,
	})
	if err := th.Configure(t.Context(), "psp", map[string][]byte{"api_key": []byte(apiKey)}); err != nil {
		t.Fatal(err)
	}
	pay := func(captureID, provider string, op pluginsdk.Operation, withCVV string) payments.Payment {
		return payments.Payment{
			CaptureID: captureID, Provider: provider, Operation: op,
			Amount: pluginsdk.Money{Minor: 999, Currency: "GBP"}, Card: testCard(pan, withCVV),
		}
	}
	var results []pluginsdk.Result
	var errs []string
	record := func(r pluginsdk.Result, err error) {
		results = append(results, r)
		if err != nil {
			errs = append(errs, err.Error())
		}
	}

	record(th.Pay(t.Context(), pay("canary-ok", "psp", pluginsdk.OpSale, cvv)))
	record(th.Pay(t.Context(), pay("canary-unsupported", "psp", pluginsdk.OpTokenize, cvv)))
	record(th.Pay(t.Context(), pay("canary-slow", "slow", pluginsdk.OpAuthorize, cvv)))
	record(th.Pay(t.Context(), pay("canary-nobody", "nobody", pluginsdk.OpAuthorize, cvv)))

	psp.hold()
	pid := th.health(t, "psp").Pid
	go func() {
		<-psp.arrived
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}()
	record(th.Pay(t.Context(), pay("canary-killed", "psp", pluginsdk.OpAuthorize, cvv)))

	if results[0].Outcome != pluginsdk.OutcomeApproved || results[4].Outcome != pluginsdk.OutcomeApproved {
		t.Fatalf("the canary payments did not go through: %+v", results)
	}
	if err := th.Close(); err != nil { // flush every plugin's stderr
		t.Fatal(err)
	}

	var leaks []conformance.Leak
	for _, r := range results {
		leaks = append(leaks, conformance.ScanValue("result", r, canaries)...)
	}
	for _, e := range errs {
		leaks = append(leaks, conformance.ScanText("error", e, canaries, true)...)
	}
	leaks = append(leaks, conformance.ScanText("host log", th.log.String(), canaries, false)...)
	leaks = append(leaks, conformance.ScanText("plugin stderr", th.stderr.String(), canaries, true)...)
	for _, l := range leaks {
		t.Errorf("leak: %s in %s line %d", l.What, l.Where, l.Line)
	}
	// The scan is only worth something if the logs say something.
	for _, want := range []string{"payment plugin up", "payment outcome resolved", `"last4":"5556"`} {
		if !strings.Contains(th.log.String()+th.stderr.String(), want) {
			t.Errorf("logs lack %q", want)
		}
	}
}
