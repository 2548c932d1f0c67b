package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/tonewall/tonewall/controller/outbox"
	"github.com/tonewall/tonewall/controller/outbox/outboxtest"
)

func TestDeliverSigned(t *testing.T) {
	secret := newSecret(t)
	rc := newReceiver(t, secret)
	ob := outboxtest.Open(t, outbox.Options{})
	s := newSender(t, ob, Options{
		Endpoints: []Endpoint{
			{ID: "crm", URL: rc.url("/all")},
			{ID: "billing", URL: rc.url("/payments"), Events: []string{TypePaymentApproved}, SecretName: "shared"},
		},
		Secrets: StaticSecrets{"crm": {secret}, "shared": {secret}},
	})
	started := testEvent("evt", 1)
	started.Type = TypeCaptureStarted
	approved := testEvent("evt", 2)
	before := time.Now()
	publishAll(t, s, started, approved)

	waitFor(t, 10*time.Second, "three deliveries", func() bool { hits, _, _ := rc.snapshot(); return len(hits) == 3 })
	hits, ok, bad := rc.snapshot()
	if bad != 0 {
		t.Fatalf("%d requests failed signature verification", bad)
	}
	if ok["evt-0001"] != 1 || ok["evt-0002"] != 2 {
		t.Fatalf("deliveries per id = %v, want evt-0001 once (crm only) and evt-0002 twice", ok)
	}
	for _, h := range hits {
		ts, err := strconv.ParseInt(h.Header.Get(standardwebhooks.HeaderWebhookTimestamp), 10, 64)
		if err != nil || ts < before.Unix()-1 || ts > time.Now().Unix()+1 {
			t.Errorf("webhook-timestamp %q not the attempt time", h.Header.Get(standardwebhooks.HeaderWebhookTimestamp))
		}
		if got := h.Header.Get("Content-Type"); got != "application/json" {
			t.Errorf("Content-Type = %q", got)
		}
		if sig := h.Header.Get(standardwebhooks.HeaderWebhookSignature); !strings.HasPrefix(sig, "v1,") || strings.Contains(sig, " ") {
			t.Errorf("signature %q, want one v1 entry", sig)
		}
		var p struct {
			Type      string         `json:"type"`
			Timestamp time.Time      `json:"timestamp"`
			Data      map[string]any `json:"data"`
		}
		if err := json.Unmarshal(h.Body, &p); err != nil {
			t.Fatal(err)
		}
		if (h.ID == "evt-0001") != (p.Type == TypeCaptureStarted) || p.Data["last4"] != "4242" || p.Timestamp.IsZero() {
			t.Errorf("payload of %s: %+v", h.ID, p)
		}
	}
	for _, ep := range []string{"crm", "billing"} {
		d := waitState(t, s, "evt-0002", ep, StateDelivered, 5*time.Second)
		if d.Attempts != 1 || d.LastStatus != http.StatusNoContent || d.EventType != TypePaymentApproved || len(d.History) != 1 {
			t.Errorf("delivery %s: %+v", ep, d)
		}
	}
	if ds, _ := s.Deliveries(context.Background(), Filter{EventID: "evt-0001", EndpointID: "billing"}); len(ds) != 0 {
		t.Errorf("billing got a record for an event type it does not want: %+v", ds)
	}
	waitFor(t, 5*time.Second, "empty outbox", func() bool { n, err := ob.Pending(context.Background()); return err == nil && n == 0 })
}

// TestCRMOutage: the CRM hangs up on every request for a while, then comes
// back. Every webhook arrives, with the same id it had while failing.
func TestCRMOutage(t *testing.T) {
	secret := newSecret(t)
	rc := newReceiver(t, secret)
	rc.setRespond(func(w http.ResponseWriter, _ *http.Request, _ int) int { return hangUp(w) })
	ob := outboxtest.Open(t, outbox.Options{})
	s := newSender(t, ob, Options{
		Endpoints: []Endpoint{{ID: "crm", URL: rc.url("/hook")}},
		Secrets:   StaticSecrets{"crm": {secret}},
		Schedule:  fastSchedule(50, 100*time.Millisecond),
		Workers:   8,
	})
	const n = 40
	var evs []Event
	for i := range n {
		evs = append(evs, testEvent("outage", i))
	}
	publishAll(t, s, evs...)
	waitFor(t, 20*time.Second, "every webhook tried twice while down", func() bool {
		ds, err := s.Deliveries(context.Background(), Filter{EndpointID: "crm"})
		if err != nil || len(ds) != n {
			return false
		}
		for _, d := range ds {
			if d.Attempts < 2 || d.State != StatePending {
				return false
			}
		}
		return true
	})
	rc.setRespond(func(http.ResponseWriter, *http.Request, int) int { return http.StatusOK })
	waitFor(t, 30*time.Second, "every webhook delivered", func() bool { return rc.delivered() == n })

	_, ok, bad := rc.snapshot()
	if bad != 0 {
		t.Fatalf("%d requests failed verification", bad)
	}
	dups := 0
	for _, ev := range evs {
		if ok[ev.ID] < 1 {
			t.Errorf("%s never delivered", ev.ID)
		}
		dups += ok[ev.ID] - 1
	}
	t.Logf("%d webhooks, %d delivered more than once", n, dups)
	for _, ev := range evs {
		d := waitState(t, s, ev.ID, "crm", StateDelivered, 5*time.Second)
		if d.Attempts < 3 || d.LastStatus != http.StatusOK || d.History[0].Error == "" {
			t.Errorf("%s: %+v", ev.ID, d)
		}
	}
}

func TestSecretRotation(t *testing.T) {
	oldSecret, newSecretValue := newSecret(t), newSecret(t)
	onlyOld := newReceiver(t, oldSecret)
	onlyNew := newReceiver(t, newSecretValue)
	ob := outboxtest.Open(t, outbox.Options{})
	s := newSender(t, ob, Options{
		Endpoints: []Endpoint{
			{ID: "old", URL: onlyOld.url("/"), SecretName: "crm"},
			{ID: "new", URL: onlyNew.url("/"), SecretName: "crm"},
		},
		Secrets: StaticSecrets{"crm": {newSecretValue, oldSecret}},
	})
	publishAll(t, s, testEvent("rot", 1))
	waitFor(t, 10*time.Second, "both receivers", func() bool { return onlyOld.delivered() == 1 && onlyNew.delivered() == 1 })
	for _, rc := range []*receiver{onlyOld, onlyNew} {
		hits, _, bad := rc.snapshot()
		if bad != 0 {
			t.Fatalf("%d requests failed verification", bad)
		}
		sig := hits[0].Header.Get(standardwebhooks.HeaderWebhookSignature)
		if parts := strings.Split(sig, " "); len(parts) != 2 || !strings.HasPrefix(parts[0], "v1,") || !strings.HasPrefix(parts[1], "v1,") {
			t.Fatalf("signature header %q, want two v1 entries", sig)
		}
	}
}

func TestSign(t *testing.T) {
	a, b := newSecret(t), newSecret(t)
	body := []byte(`{"type":"payment.approved"}`)
	now := time.Now()
	sig, err := sign([]string{a, b}, "evt-1", now, body)
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	h.Set(standardwebhooks.HeaderWebhookID, "evt-1")
	h.Set(standardwebhooks.HeaderWebhookTimestamp, strconv.FormatInt(now.Unix(), 10))
	h.Set(standardwebhooks.HeaderWebhookSignature, sig)
	for _, sec := range []string{a, b} {
		wh, _ := standardwebhooks.NewWebhook(sec)
		if err := wh.Verify(body, h); err != nil {
			t.Errorf("verify with one of the secrets: %v", err)
		}
	}
	wh, _ := standardwebhooks.NewWebhook(newSecret(t))
	if err := wh.Verify(body, h); err == nil {
		t.Error("a third secret verified the signature")
	}

	tests := []struct {
		name    string
		secrets []string
	}{
		{"none", nil},
		{"no prefix", []string{strings.TrimPrefix(a, "whsec_")}},
		{"not base64", []string{"whsec_!!!not-base64!!!"}},
		{"empty key", []string{"whsec_"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := sign(tt.secrets, "evt-1", now, body)
			if err == nil {
				t.Fatal("sign accepted a bad secret")
			}
			for _, s := range tt.secrets {
				if len(s) > 8 && strings.Contains(err.Error(), s[6:]) {
					t.Fatalf("error repeats the secret: %v", err)
				}
			}
		})
	}
}

func TestGoneDisablesEndpoint(t *testing.T) {
	secret := newSecret(t)
	rc := newReceiver(t, secret)
	rc.setRespond(func(_ http.ResponseWriter, r *http.Request, _ int) int {
		if r.URL.Path == "/gone" {
			return http.StatusGone
		}
		return http.StatusOK
	})
	ob := outboxtest.Open(t, outbox.Options{})
	s := newSender(t, ob, Options{
		Endpoints: []Endpoint{{ID: "gone", URL: rc.url("/gone")}, {ID: "ok", URL: rc.url("/ok")}},
		Secrets:   StaticSecrets{"gone": {secret}, "ok": {secret}},
		Workers:   1,
	})
	publishAll(t, s, testEvent("g", 1))
	waitState(t, s, "g-0001", "gone", StateDisabled, 10*time.Second)
	publishAll(t, s, testEvent("g", 2), testEvent("g", 3))
	for _, id := range []string{"g-0002", "g-0003"} {
		d := waitState(t, s, id, "gone", StateFailed, 10*time.Second)
		if d.Attempts != 0 || !strings.Contains(d.LastError, "disabled") {
			t.Errorf("%s: %+v", id, d)
		}
		waitState(t, s, id, "ok", StateDelivered, 10*time.Second)
	}
	goneHits := 0
	hits, _, _ := rc.snapshot()
	for _, h := range hits {
		if h.Status == http.StatusGone {
			goneHits++
		}
	}
	if goneHits != 1 {
		t.Fatalf("the gone endpoint got %d requests, want 1", goneHits)
	}
	off, err := s.DisabledEndpoints(context.Background())
	if err != nil || len(off) != 1 || off[0] != "gone" {
		t.Fatalf("DisabledEndpoints = %v, %v", off, err)
	}
	ctx := context.Background()
	if err := s.Replay(ctx, "g-0002", "gone"); !errors.Is(err, ErrEndpointOff) {
		t.Fatalf("Replay to a disabled endpoint: %v", err)
	}

	// The CRM fixes its endpoint; an operator enables it and replays.
	rc.setRespond(func(http.ResponseWriter, *http.Request, int) int { return http.StatusOK })
	if err := s.EnableEndpoint(ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	if err := s.Replay(ctx, "g-0002", "gone"); err != nil {
		t.Fatal(err)
	}
	d := waitState(t, s, "g-0002", "gone", StateDelivered, 10*time.Second)
	if d.Replays != 1 || d.Attempts != 1 {
		t.Fatalf("after replay: %+v", d)
	}
}

func TestRetryAfter(t *testing.T) {
	secret := newSecret(t)
	rc := newReceiver(t, secret)
	rc.setRespond(func(w http.ResponseWriter, r *http.Request, n int) int {
		if n > 1 {
			return http.StatusOK
		}
		switch r.URL.Path {
		case "/seconds":
			w.Header().Set("Retry-After", "2")
			return http.StatusTooManyRequests
		case "/date":
			w.Header().Set("Retry-After", time.Now().Add(3*time.Second).UTC().Format(http.TimeFormat))
			return http.StatusServiceUnavailable
		default: // "/capped": asks for an hour, capped to 2.5s
			w.Header().Set("Retry-After", "3600")
			return http.StatusServiceUnavailable
		}
	})
	ob := outboxtest.Open(t, outbox.Options{})
	s := newSender(t, ob, Options{
		Endpoints: []Endpoint{
			{ID: "seconds", URL: rc.url("/seconds")},
			{ID: "date", URL: rc.url("/date")},
			{ID: "capped", URL: rc.url("/capped")},
		},
		Secrets:       StaticSecrets{"seconds": {secret}, "date": {secret}, "capped": {secret}},
		Schedule:      fastSchedule(5, 10*time.Millisecond),
		MaxRetryAfter: 2500 * time.Millisecond,
	})
	publishAll(t, s, testEvent("ra", 1))
	waitFor(t, 15*time.Second, "all delivered", func() bool {
		ds, err := s.Deliveries(context.Background(), Filter{EventID: "ra-0001", State: StateDelivered})
		return err == nil && len(ds) == 3
	})
	tests := []struct {
		path     string
		min, max time.Duration
	}{
		{"/seconds", 1900 * time.Millisecond, 10 * time.Second},
		{"/date", 1900 * time.Millisecond, 10 * time.Second}, // the date has one-second resolution
		{"/capped", 2400 * time.Millisecond, 4 * time.Second},
	}
	for _, tt := range tests {
		hits := rc.hitsFor(tt.path, "ra-0001")
		if len(hits) != 2 {
			t.Fatalf("%s: %d requests, want 2", tt.path, len(hits))
		}
		if gap := hits[1].At.Sub(hits[0].At); gap < tt.min || gap > tt.max {
			t.Errorf("%s: retried after %s, want %s to %s", tt.path, gap, tt.min, tt.max)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"", 0, false},
		{"0", 0, true},
		{"120", 2 * time.Minute, true},
		{" 5 ", 5 * time.Second, true},
		{"-3", 0, false},
		{"1.5", 0, false},
		{"soon", 0, false},
		{"Sun, 01 Mar 2026 12:00:30 GMT", 30 * time.Second, true},
		{"Sun, 01 Mar 2026 11:00:00 GMT", 0, true}, // in the past
		{"99999999999", 365 * 24 * time.Hour, true},
	}
	for _, tt := range tests {
		got, ok := parseRetryAfter(tt.in, now)
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseRetryAfter(%q) = %s, %v; want %s, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestRedirectNotFollowed(t *testing.T) {
	secret := newSecret(t)
	rc := newReceiver(t, secret)
	rc.setRespond(func(w http.ResponseWriter, r *http.Request, _ int) int {
		if r.URL.Path == "/moved" {
			w.Header().Set("Location", "/target")
			return http.StatusFound
		}
		return http.StatusOK
	})
	ob := outboxtest.Open(t, outbox.Options{})
	s := newSender(t, ob, Options{
		Endpoints: []Endpoint{{ID: "crm", URL: rc.url("/moved")}},
		Secrets:   StaticSecrets{"crm": {secret}},
		Schedule:  fastSchedule(2, 50*time.Millisecond),
	})
	publishAll(t, s, testEvent("redir", 1))
	d := waitState(t, s, "redir-0001", "crm", StateFailed, 10*time.Second)
	if d.Attempts != 2 || d.LastStatus != http.StatusFound || !strings.Contains(d.LastError, "redirect") {
		t.Fatalf("delivery: %+v", d)
	}
	if hits := rc.hitsFor("/target", "redir-0001"); len(hits) != 0 {
		t.Fatalf("the redirect was followed %d times", len(hits))
	}
}

func TestScheduleExhaustedThenReplay(t *testing.T) {
	secret := newSecret(t)
	rc := newReceiver(t, secret)
	rc.setRespond(func(http.ResponseWriter, *http.Request, int) int { return http.StatusInternalServerError })
	ob := outboxtest.Open(t, outbox.Options{})
	schedule := []time.Duration{0, 100 * time.Millisecond, 300 * time.Millisecond}
	s := newSender(t, ob, Options{
		Endpoints: []Endpoint{{ID: "crm", URL: rc.url("/hook")}},
		Secrets:   StaticSecrets{"crm": {secret}},
		Schedule:  schedule,
	})
	ctx := context.Background()
	publishAll(t, s, testEvent("ex", 1))
	d := waitState(t, s, "ex-0001", "crm", StateFailed, 10*time.Second)
	if d.Attempts != 3 || d.LastStatus != http.StatusInternalServerError || d.LastError != "HTTP 500" || len(d.History) != 3 {
		t.Fatalf("failed delivery: %+v", d)
	}
	hits := rc.hitsFor("/hook", "ex-0001")
	if len(hits) != 3 {
		t.Fatalf("%d requests, want 3", len(hits))
	}
	for i := 1; i < len(hits); i++ {
		if gap := hits[i].At.Sub(hits[i-1].At); gap < schedule[i]-20*time.Millisecond {
			t.Errorf("attempt %d came %s after the one before, want >= %s", i+1, gap, schedule[i])
		}
	}
	waitFor(t, 5*time.Second, "empty outbox", func() bool { n, err := ob.Pending(ctx); return err == nil && n == 0 })

	if err := s.Replay(ctx, "nope", "crm"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Replay of an unknown event: %v", err)
	}
	if err := s.Replay(ctx, "ex-0001", "other"); !errors.Is(err, ErrUnknownEndpoint) {
		t.Fatalf("Replay to an unknown endpoint: %v", err)
	}
	rc.setRespond(func(http.ResponseWriter, *http.Request, int) int { return http.StatusAccepted })
	if err := s.Replay(ctx, "ex-0001", "crm"); err != nil {
		t.Fatal(err)
	}
	d = waitState(t, s, "ex-0001", "crm", StateDelivered, 10*time.Second)
	if d.Replays != 1 || d.Attempts != 4 || d.LastStatus != http.StatusAccepted {
		t.Fatalf("replayed delivery: %+v", d)
	}
	hits = rc.hitsFor("/hook", "ex-0001")
	if len(hits) != 4 || string(hits[3].Body) != string(hits[0].Body) {
		t.Fatalf("replay: %d requests; same body: %v", len(hits), len(hits) == 4 && string(hits[3].Body) == string(hits[0].Body))
	}
	// A delivered webhook can be replayed too; a pending one cannot.
	inFlight, release := make(chan struct{}), make(chan struct{})
	rc.setRespond(func(http.ResponseWriter, *http.Request, int) int {
		close(inFlight)
		<-release
		return http.StatusOK
	})
	if err := s.Replay(ctx, "ex-0001", "crm"); err != nil {
		t.Fatal(err)
	}
	<-inFlight
	err := s.Replay(ctx, "ex-0001", "crm")
	close(release)
	if !errors.Is(err, ErrNotReplayable) {
		t.Fatalf("Replay of a pending delivery: %v", err)
	}
	d = waitState(t, s, "ex-0001", "crm", StateDelivered, 10*time.Second)
	if d.Replays != 2 || d.Attempts != 5 {
		t.Fatalf("second replay: %+v", d)
	}
}

func TestEndpointValidation(t *testing.T) {
	tests := []struct {
		name     string
		url      string
		loopback bool
		ok       bool
	}{
		{"https", "https://crm.example.com/hooks", false, true},
		{"https with port and query", "https://crm.example.com:8443/h?tenant=a", false, true},
		{"http refused", "http://crm.example.com/hooks", true, false},
		{"http loopback without the flag", "http://127.0.0.1:8080/h", false, false},
		{"http loopback", "http://127.0.0.1:8080/h", true, true},
		{"http 127/8", "http://127.1.2.3/h", true, true},
		{"http localhost", "http://localhost:9000/h", true, true},
		{"http ::1", "http://[::1]:9000/h", true, true},
		{"http private address", "http://10.0.0.5/h", true, false},
		{"http lookalike host", "http://localhost.example.com/h", true, false},
		{"userinfo", "https://user:pass@crm.example.com/h", false, false},
		{"user only", "https://user@crm.example.com/h", false, false},
		{"ftp", "ftp://crm.example.com/h", false, false},
		{"javascript", "javascript:alert(1)", false, false},
		{"no scheme", "crm.example.com/h", false, false},
		{"no host", "https:///h", false, false},
		{"fragment", "https://crm.example.com/h#x", false, false},
		{"garbage", "https://[::1", false, false},
		{"empty", "", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateEndpoint(Endpoint{ID: "crm", URL: tt.url}, tt.loopback)
			if (err == nil) != tt.ok {
				t.Fatalf("ValidateEndpoint(%q, %v) = %v, want ok=%v", tt.url, tt.loopback, err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalidEndpoint) {
				t.Fatalf("error %v does not wrap ErrInvalidEndpoint", err)
			}
			if err != nil && strings.Contains(tt.url, "pass") && strings.Contains(err.Error(), "pass") {
				t.Fatalf("error repeats the URL's password: %v", err)
			}
		})
	}
	other := []struct {
		name string
		ep   Endpoint
	}{
		{"bad id", Endpoint{ID: "a.b", URL: "https://x.example/"}},
		{"unknown event type", Endpoint{ID: "a", URL: "https://x.example/", Events: []string{"payment.refunded"}}},
	}
	for _, tt := range other {
		if err := ValidateEndpoint(tt.ep, false); !errors.Is(err, ErrInvalidEndpoint) {
			t.Errorf("%s: %v", tt.name, err)
		}
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	ob := outboxtest.Open(t, outbox.Options{AckWait: 20 * time.Second})
	good := Options{Secrets: StaticSecrets{}, Endpoints: []Endpoint{{ID: "crm", URL: "https://crm.example.com/"}}}
	tests := []struct {
		name   string
		mutate func(*Options)
	}{
		{"no secrets", func(o *Options) { o.Secrets = nil }},
		{"http endpoint", func(o *Options) { o.Endpoints[0].URL = "http://crm.example.com/" }},
		{"duplicate endpoint", func(o *Options) { o.Endpoints = append(o.Endpoints, o.Endpoints[0]) }},
		{"schedule not starting at zero", func(o *Options) { o.Schedule = []time.Duration{time.Second} }},
		{"empty schedule", func(o *Options) { o.Schedule = []time.Duration{} }},
		{"negative delay", func(o *Options) { o.Schedule = []time.Duration{0, -time.Second} }},
		{"timeout beyond ack wait", func(o *Options) { o.Timeout = 30 * time.Second }},
		{"negative workers", func(o *Options) { o.Workers = -1 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := good
			opts.Endpoints = append([]Endpoint(nil), good.Endpoints...)
			tt.mutate(&opts)
			if _, err := New(context.Background(), ob, opts); err == nil {
				t.Fatal("New accepted bad options")
			}
		})
	}
	s, err := New(context.Background(), ob, good)
	if err != nil {
		t.Fatal(err)
	}
	if s.opts.Timeout != DefaultTimeout || s.opts.Workers != DefaultWorkers || len(s.opts.Schedule) != 8 || s.opts.Schedule[7] != 10*time.Hour {
		t.Fatalf("defaults: %+v", s.opts)
	}
	ctx := context.Background()
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(ctx); err == nil {
		t.Fatal("second Start succeeded")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := s.Start(ctx); err == nil {
		t.Fatal("Start after Close succeeded")
	}
}
