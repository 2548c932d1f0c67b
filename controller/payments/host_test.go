package payments_test

import (
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tonewall/tonewall/controller/payments"
	"github.com/tonewall/tonewall/pluginsdk"
)

func authorize(captureID string) payments.Payment {
	return payments.Payment{
		CaptureID: captureID, Provider: "psp", Operation: pluginsdk.OpAuthorize,
		Amount: pluginsdk.Money{Minor: 1250, Currency: "GBP"}, Reference: "order-1",
		Card: testCard("4242424242424242", "123"),
	}
}

func TestPayIsIdempotentPerCapture(t *testing.T) {
	psp := newFakePSP(t)
	th := startHost(t, payments.Options{Plugins: []payments.PluginConfig{pspConfig("psp", psp, nil)}})
	p := authorize("cap-idem")
	first, err := th.Pay(t.Context(), p)
	if err != nil || first.Outcome != pluginsdk.OutcomeApproved || first.ProviderReference == "" {
		t.Fatalf("Pay: %+v, %v", first, err)
	}
	if first.TransactionID != payments.TransactionID("cap-idem", pluginsdk.OpAuthorize) || first.Last4 != "4242" {
		t.Errorf("result %+v", first)
	}
	again, err := th.Pay(t.Context(), authorize("cap-idem"))
	if err != nil || again.ProviderReference != first.ProviderReference {
		t.Fatalf("re-submitted capture: %+v, %v; first %+v", again, err, first)
	}
	if charges, posts := psp.counts(); charges != 1 || posts != 2 {
		t.Errorf("PSP saw %d charges from %d requests, want 1 from 2", charges, posts)
	}
	// The caller's card is the caller's: Pay wiped only its own copy.
	if p.Card.PAN.Len() != 16 {
		t.Error("Pay changed the caller's card")
	}

	capture, err := th.Pay(t.Context(), payments.Payment{
		CaptureID: "cap-idem", Provider: "psp", Operation: pluginsdk.OpCapture,
		ProviderReference: first.ProviderReference, Amount: pluginsdk.Money{Minor: 1250, Currency: "GBP"},
	})
	if err != nil || capture.Outcome != pluginsdk.OutcomeApproved ||
		capture.TransactionID != payments.TransactionID("cap-idem", pluginsdk.OpCapture) {
		t.Fatalf("capture: %+v, %v", capture, err)
	}
	st, err := th.Status(t.Context(), "psp", "cap-idem", pluginsdk.OpAuthorize)
	if err != nil || st.ProviderReference != first.ProviderReference {
		t.Errorf("Status: %+v, %v", st, err)
	}
}

func TestPayRefusesBadPayments(t *testing.T) {
	psp := newFakePSP(t)
	th := startHost(t, payments.Options{Plugins: []payments.PluginConfig{pspConfig("psp", psp, nil)}})
	noCard := authorize("cap-bad")
	noCard.Card = nil
	tests := []struct {
		name string
		p    payments.Payment
		want error
	}{
		{"unknown provider", payments.Payment{CaptureID: "c", Provider: "nope", Operation: pluginsdk.OpSale}, payments.ErrUnknownProvider},
		{"no capture id", payments.Payment{Provider: "psp", Operation: pluginsdk.OpSale}, pluginsdk.ErrInvalidRequest},
		{"no card", noCard, pluginsdk.ErrInvalidRequest},
		{"status is not a payment", payments.Payment{CaptureID: "c", Provider: "psp", Operation: pluginsdk.OpStatus}, pluginsdk.ErrInvalidRequest},
		{"not supported by the plugin", payments.Payment{CaptureID: "c", Provider: "psp", Operation: pluginsdk.OpTokenize, Card: testCard("4242424242424242", "123")}, pluginsdk.ErrUnsupported},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := th.Pay(t.Context(), tt.p)
			if !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
			if r.Outcome != pluginsdk.OutcomeFailedBefore {
				t.Errorf("outcome = %q, want failed-before-sending", r.Outcome)
			}
		})
	}
	if charges, posts := psp.counts(); charges != 0 || posts != 0 {
		t.Errorf("PSP saw %d charges, %d requests", charges, posts)
	}
}

// TestPluginKilledMidAuthorize kills the plugin after the PSP has made the
// charge but before the answer gets back. Pay must not report a failure or
// retry: the outcome is unknown until the restarted plugin's Status finds the
// charge, and Pay returns that.
func TestPluginKilledMidAuthorize(t *testing.T) {
	psp := newFakePSP(t)
	th := startHost(t, payments.Options{Plugins: []payments.PluginConfig{pspConfig("psp", psp, nil)}})
	pid := th.health(t, "psp").Pid
	psp.hold()

	type answer struct {
		r   pluginsdk.Result
		err error
	}
	done := make(chan answer, 1)
	go func() {
		r, err := th.Pay(t.Context(), authorize("cap-kill"))
		done <- answer{r, err}
	}()
	select {
	case <-psp.arrived:
	case <-time.After(10 * time.Second):
		t.Fatal("the charge never reached the PSP")
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	var a answer
	select {
	case a = <-done:
	case <-time.After(15 * time.Second):
		t.Fatal("Pay did not return")
	}
	if a.err != nil || a.r.Outcome != pluginsdk.OutcomeApproved || a.r.ProviderReference != "ch_1" {
		t.Fatalf("Pay: %+v, %v; want approved ch_1 resolved through Status", a.r, a.err)
	}
	if charges, posts := psp.counts(); charges != 1 || posts != 1 {
		t.Errorf("PSP saw %d charges from %d requests, want exactly one of each", charges, posts)
	}
	ph := th.health(t, "psp")
	if ph.Restarts != 1 || ph.Pid == pid || !ph.Healthy() || ph.Pending != 0 {
		t.Errorf("health after the kill: %+v", ph)
	}
	if !strings.Contains(th.log.String(), "payment outcome resolved") {
		t.Error("the resolution was not logged")
	}
}

// TestUnknownOutcomeResolvedAfterPayReturns: the plugin comes back only after
// Pay's deadline, so Pay says unknown and OnResolved delivers the answer.
func TestUnknownOutcomeResolvedAfterPayReturns(t *testing.T) {
	psp := newFakePSP(t)
	var mu sync.Mutex
	resolved := map[string]pluginsdk.Result{}
	th := startHost(t, payments.Options{
		Plugins:           []payments.PluginConfig{pspConfig("psp", psp, nil)},
		CallTimeout:       time.Second,
		RestartBackoffMin: 1500 * time.Millisecond,
		OnResolved: func(captureID string, r pluginsdk.Result) {
			mu.Lock()
			resolved[captureID] = r
			mu.Unlock()
		},
	})
	pid := th.health(t, "psp").Pid
	psp.hold()
	go func() {
		<-psp.arrived
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}()
	r, err := th.Pay(t.Context(), authorize("cap-async"))
	if r.Outcome != pluginsdk.OutcomeUnknown || !errors.Is(err, pluginsdk.ErrPluginGone) {
		t.Fatalf("Pay: %+v, %v; want unknown with ErrPluginGone", r, err)
	}
	var got pluginsdk.Result
	waitFor(t, 15*time.Second, "OnResolved", func() bool {
		mu.Lock()
		defer mu.Unlock()
		got = resolved["cap-async"]
		return got.Outcome != ""
	})
	if got.Outcome != pluginsdk.OutcomeApproved || got.TransactionID != r.TransactionID {
		t.Errorf("resolved %+v", got)
	}
	if charges, posts := psp.counts(); charges != 1 || posts != 1 {
		t.Errorf("PSP saw %d charges from %d requests, want one", charges, posts)
	}
	// A re-submission now gets the same charge, not a new one.
	again, err := th.Pay(t.Context(), authorize("cap-async"))
	if err != nil || again.ProviderReference != got.ProviderReference {
		t.Errorf("re-submission: %+v, %v", again, err)
	}
	if charges, _ := psp.counts(); charges != 1 {
		t.Errorf("%d charges after re-submission", charges)
	}
}

func TestHungPluginHitsTheDeadline(t *testing.T) {
	psp := newFakePSP(t)
	var mu sync.Mutex
	var resolved []pluginsdk.Result
	th := startHost(t, payments.Options{
		Plugins:     []payments.PluginConfig{pspConfig("psp", psp, map[string]string{"delay": "1h"})},
		CallTimeout: 300 * time.Millisecond,
		OnResolved: func(_ string, r pluginsdk.Result) {
			mu.Lock()
			resolved = append(resolved, r)
			mu.Unlock()
		},
	})
	start := time.Now()
	r, err := th.Pay(t.Context(), authorize("cap-hang"))
	took := time.Since(start)
	if !errors.Is(err, pluginsdk.ErrDeadline) || r.Outcome != pluginsdk.OutcomeUnknown {
		t.Fatalf("Pay: %+v, %v; want unknown with ErrDeadline", r, err)
	}
	if took > 1500*time.Millisecond {
		t.Errorf("a 300ms deadline took %s", took)
	}
	// The charge never left the plugin: Status says so and the capture is
	// reported as failed before sending, safe to try again.
	waitFor(t, 10*time.Second, "OnResolved", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(resolved) == 1
	})
	if resolved[0].Outcome != pluginsdk.OutcomeFailedBefore {
		t.Errorf("resolved %+v, want failed-before-sending", resolved[0])
	}
	if !th.health(t, "psp").Healthy() {
		t.Error("a slow call took the plugin down")
	}
}

func TestWrongChecksumIsRefused(t *testing.T) {
	psp := newFakePSP(t)
	cfg := pspConfig("stripe", psp, nil)
	cfg.SHA256 = strings.Repeat("0", 64)
	h, err := payments.New(payments.Options{Plugins: []payments.PluginConfig{cfg}})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	err = h.Start(t.Context())
	if !errors.Is(err, pluginsdk.ErrChecksumMismatch) {
		t.Fatalf("Start: %v, want a checksum mismatch", err)
	}
	for _, want := range []string{`"stripe"`, cfg.SHA256, selfSum} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
	if strings.Contains(err.Error(), "checksums did not match") {
		t.Errorf("error is go-plugin's: %v", err)
	}
	if ph := h.Health()[0]; ph.Healthy() || ph.FailedLaunches != 1 {
		t.Errorf("health %+v", ph)
	}
}

func TestStdoutBeforeHandshakeIsAClearError(t *testing.T) {
	h, err := payments.New(payments.Options{Plugins: []payments.PluginConfig{
		{Name: "chatty", Path: selfPath, SHA256: selfSum, Args: []string{"noisy"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	err = h.Start(t.Context())
	if !errors.Is(err, pluginsdk.ErrHandshake) {
		t.Fatalf("Start: %v, want a handshake error", err)
	}
	for _, want := range []string{`"chatty"`, "stdout before the handshake"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

// TestRestartBacksOffAndReconfigures kills the plugin twice: each time it is
// relaunched, after 100ms then 200ms, and configured with the latest secrets.
func TestRestartBacksOffAndReconfigures(t *testing.T) {
	psp := newFakePSP(t)
	th := startHost(t, payments.Options{Plugins: []payments.PluginConfig{pspConfig("psp", psp, nil)}})
	for _, key := range []string{"sk_first", "sk_latest"} {
		if err := th.Configure(t.Context(), "psp", map[string][]byte{"api_key": []byte(key)}); err != nil {
			t.Fatal(err)
		}
	}
	for i, wantBackoff := range []time.Duration{100 * time.Millisecond, 200 * time.Millisecond} {
		pid := th.health(t, "psp").Pid
		killed := time.Now()
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 10*time.Second, "the restart", func() bool {
			ph := th.health(t, "psp")
			return ph.Healthy() && ph.Pid != pid
		})
		ph := th.health(t, "psp")
		if ph.Restarts != i+1 || ph.Backoff != wantBackoff {
			t.Errorf("after kill %d: restarts %d backoff %s, want %d and %s", i+1, ph.Restarts, ph.Backoff, i+1, wantBackoff)
		}
		if took := time.Since(killed); took < wantBackoff {
			t.Errorf("restarted %s after the kill, before the %s backoff", took, wantBackoff)
		}
		r, err := th.Pay(t.Context(), authorize("cap-restart-"+string(rune('a'+i))))
		if err != nil || r.Outcome != pluginsdk.OutcomeApproved {
			t.Fatalf("Pay after restart: %+v, %v", r, err)
		}
		if got := psp.lastAuth(); got != "Bearer sk_latest" {
			t.Errorf("restarted plugin used credentials %q, want the latest secret", got)
		}
	}
	if strings.Contains(th.log.String(), "sk_latest") || strings.Contains(th.log.String(), "sk_first") {
		t.Error("a secret value reached the log")
	}
}

// TestCrashingLaunchesBackOff: after a kill the next two launches crash
// before the handshake; the host keeps trying at 100ms, 200ms, 400ms.
func TestCrashingLaunchesBackOff(t *testing.T) {
	psp := newFakePSP(t)
	counter := filepath.Join(t.TempDir(), "launches")
	th := startHost(t, payments.Options{Plugins: []payments.PluginConfig{
		pspConfig("psp", psp, nil, "--crash-file", counter, "--crash-on", "2,3"),
	}})
	pid := th.health(t, "psp").Pid
	killed := time.Now()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 15*time.Second, "the restart", func() bool { return th.health(t, "psp").Healthy() && th.health(t, "psp").Pid != pid })
	took := time.Since(killed)
	ph := th.health(t, "psp")
	if ph.FailedLaunches != 2 || ph.Restarts != 1 || ph.Backoff != 400*time.Millisecond {
		t.Errorf("health %+v; want 2 failed launches, 1 restart, last backoff 400ms", ph)
	}
	if took < 700*time.Millisecond {
		t.Errorf("up again after %s; the backoffs alone add up to 700ms", took)
	}
	if !strings.Contains(th.log.String(), "exited before completing the handshake") {
		t.Errorf("the crash was not logged clearly:\n%s", th.log)
	}
}

// TestUnresponsivePluginIsRestarted stops the plugin process (SIGSTOP): it
// stays alive but cannot answer, so the ping fails and the host replaces it.
func TestUnresponsivePluginIsRestarted(t *testing.T) {
	psp := newFakePSP(t)
	th := startHost(t, payments.Options{
		Plugins:      []payments.PluginConfig{pspConfig("psp", psp, nil)},
		PingInterval: 100 * time.Millisecond,
		PingTimeout:  200 * time.Millisecond,
	})
	pid := th.health(t, "psp").Pid
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
	waitFor(t, 15*time.Second, "a replacement", func() bool {
		ph := th.health(t, "psp")
		return ph.Healthy() && ph.Pid != pid
	})
	if ph := th.health(t, "psp"); !strings.Contains(ph.LastError, "ping failed") {
		t.Errorf("LastError = %q", ph.LastError)
	}
	if r, err := th.Pay(t.Context(), authorize("cap-stopped")); err != nil || r.Outcome != pluginsdk.OutcomeApproved {
		t.Errorf("Pay on the replacement: %+v, %v", r, err)
	}
}

func TestCloseKillsPluginsAndIsSafeTwice(t *testing.T) {
	psp := newFakePSP(t)
	th := startHost(t, payments.Options{Plugins: []payments.PluginConfig{pspConfig("psp", psp, nil)}})
	pid := th.health(t, "psp").Pid
	if err := th.Close(); err != nil {
		t.Fatal(err)
	}
	if err := th.Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the plugin to exit", func() bool { return syscall.Kill(pid, 0) != nil })
	if _, err := th.Pay(t.Context(), authorize("cap-closed")); !errors.Is(err, payments.ErrClosed) {
		t.Errorf("Pay after Close: %v", err)
	}
	if err := th.Start(t.Context()); !errors.Is(err, payments.ErrClosed) {
		t.Errorf("Start after Close: %v", err)
	}
	if ph := th.Health()[0]; ph.State != payments.StateStopped {
		t.Errorf("state %q", ph.State)
	}
}
