package integration_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/tonewall/tonewall/controller/api"
	"github.com/tonewall/tonewall/controller/call"
	"github.com/tonewall/tonewall/controller/cluster"
	"github.com/tonewall/tonewall/controller/esl"
	"github.com/tonewall/tonewall/controller/media"
	"github.com/tonewall/tonewall/controller/outbox"
	"github.com/tonewall/tonewall/controller/outbox/outboxtest"
	"github.com/tonewall/tonewall/controller/webhook"
	"github.com/tonewall/tonewall/integration/fssim"
)

// controller is one of the controllers under test: call manager, Event
// Socket listener, API behind the cluster middleware, webhook sender.
type controller struct {
	name   string
	calls  *call.Manager
	esl    *esl.Server
	member *cluster.Cluster
	api    *httptest.Server
	sender *webhook.Sender
	sink   *call.RecordingSink
}

// approvingSink records like RecordingSink and approves every payment.
type approvingSink struct{ call.RecordingSink }

func (s *approvingSink) Submit(ctx context.Context, p call.Payment) (call.PaymentResult, error) {
	res, err := s.RecordingSink.Submit(ctx, p)
	res.Outcome = "approved"
	return res, err
}

// webhookBridge publishes each payment outcome on its controller as a
// webhook, through that controller's sender.
type webhookBridge struct {
	t      testing.TB
	ctx    context.Context
	sender func() *webhook.Sender
	wg     sync.WaitGroup
}

func (b *webhookBridge) Observe(ev call.Event) {
	if ev.Type != call.EventPaymentResult || ev.Outcome != "approved" {
		return
	}
	b.wg.Go(func() {
		// Ids are left out of the payload: a random capture or call id can
		// hold twelve digits in a row, which the sender refuses.
		err := b.sender().Publish(b.ctx, webhook.Event{
			ID: webhook.NewEventID(), Type: webhook.TypePaymentApproved,
			Reference: "order-1001", Amount: 1250, Currency: "GBP",
			Outcome: ev.Outcome, Brand: ev.Brand, Last4: ev.Last4,
		})
		if err != nil {
			b.t.Errorf("publish webhook: %v", err)
		}
	})
}

// fanout hands each event to every observer.
type fanout []call.Observer

func (f fanout) Observe(ev call.Event) {
	for _, o := range f {
		o.Observe(ev)
	}
}

// crm counts the verified webhooks it gets by webhook-id.
type crm struct {
	srv    *httptest.Server
	secret string
	mu     sync.Mutex
	byID   map[string]int
	bodies []string
	bad    int
}

func newCRM(t testing.TB) *crm {
	t.Helper()
	var key [32]byte
	if _, err := rand.Read(key[:]); err != nil {
		t.Fatal(err)
	}
	c := &crm{secret: "whsec_" + base64.StdEncoding.EncodeToString(key[:]), byID: map[string]int{}}
	wh, err := standardwebhooks.NewWebhook(c.secret)
	if err != nil {
		t.Fatal(err)
	}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		c.mu.Lock()
		defer c.mu.Unlock()
		if wh.Verify(body, r.Header) != nil {
			c.bad++
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		c.byID[r.Header.Get("webhook-id")]++
		c.bodies = append(c.bodies, string(body))
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(c.srv.Close)
	return c
}

func (c *crm) snapshot() (map[string]int, []string, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ids := map[string]int{}
	for k, v := range c.byID {
		ids[k] = v
	}
	return ids, append([]string(nil), c.bodies...), c.bad
}

// newController wires one controller onto its outbox (and so its member
// of the NATS cluster), as the daemon does.
func newController(t *testing.T, i int, ob *outbox.Outbox, rc *crm, out *outputs) *controller {
	t.Helper()
	name := fmt.Sprintf("ctl%d", i+1)
	log := slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: slog.LevelDebug})).With("controller", name)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	nc, err := nats.Connect(ob.ClientURL(), nats.Name("tonewall-cluster-"+name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	sender, err := webhook.New(ctx, ob, webhook.Options{
		Endpoints:         []webhook.Endpoint{{ID: "crm", URL: rc.srv.URL + "/hooks"}},
		Secrets:           webhook.StaticSecrets{"crm": {rc.secret}},
		AllowLoopbackHTTP: true,
		Workers:           2,
		UserAgent:         "tonewall-" + name,
		Logger:            log,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := sender.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sender.Close() })

	sink := &approvingSink{}
	c := &controller{name: name, sink: &sink.RecordingSink, sender: sender}
	bridge := &webhookBridge{t: t, ctx: context.Background(), sender: func() *webhook.Sender { return c.sender }}
	t.Cleanup(bridge.wg.Wait)
	var member *cluster.Cluster // set below, before any call can arrive
	c.calls, err = call.NewManager(call.Options{
		Logger:  log.With("component", "call"),
		Prompts: media.Prompts{Dir: "/prompts", Language: "en"},
		Linger:  1,
		Sink:    sink,
		Observer: fanout{
			call.ObserverFunc(func(ev call.Event) { member.Observe(ev) }),
			&events{out: out},
			bridge,
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c.calls.Close(ctx)
	})
	member, err = cluster.New(ctx, cluster.Options{
		Conn:     nc,
		NodeID:   name,
		Local:    cluster.ManagerLocal(c.calls),
		Replicas: ob.Replicas(),
		Logger:   log,
	})
	if err != nil {
		t.Fatal(err)
	}
	c.member = member
	t.Cleanup(func() {
		if err := member.Close(); err != nil {
			t.Errorf("%s: cluster close: %v", name, err)
		}
	})

	srv := &api.Server{Captures: c.calls, Logger: log.With("component", "api")}
	c.api = httptest.NewServer(member.Middleware(srv.Handler()))
	t.Cleanup(c.api.Close)

	c.esl = esl.NewServer(esl.ServerOptions{Addr: "127.0.0.1:0", Logger: log.With("component", "esl")})
	if err := c.esl.Start(c.calls.Handle); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c.esl.Shutdown(ctx)
	})
	return c
}

// do sends one API request to the controller and decodes the JSON answer.
func (c *controller) do(t testing.TB, out *outputs, method, path string, body any, into any) *http.Response {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.api.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	out.Write(append(b, '\n'))
	if into != nil && len(b) > 0 {
		if err := json.Unmarshal(b, into); err != nil {
			t.Fatalf("%s %s via %s: %d %s: %v", method, path, c.name, resp.StatusCode, b, err)
		}
	}
	return resp
}

// spyNATS records every message on the controllers' subjects, the
// directory and the replies, with forwarded bodies decoded, for the scan.
func spyNATS(t *testing.T, url string, out *outputs) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url, nats.Name("spy"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	for _, subj := range []string{"tonewall.>", "$KV.>", "_INBOX.>"} {
		if _, err := nc.Subscribe(subj, func(m *nats.Msg) {
			var wire struct {
				Body []byte `json:"body"`
			}
			_ = json.Unmarshal(m.Data, &wire)
			fmt.Fprintf(out, "nats %s %s body=%s\n", m.Subject, m.Data, wire.Body)
		}); err != nil {
			t.Fatal(err)
		}
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return nc
}

func clusterPoll(t testing.TB, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestThreeControllersActAsOne places a call on controller 1, starts the
// capture through controller 2, reads it through controller 3, keys the
// card, and reads the outcome through controller 2; the webhook is sent
// once although three senders share the outbox.
func TestThreeControllersActAsOne(t *testing.T) {
	out := &outputs{}
	t.Cleanup(func() {
		s := out.String()
		// The scan covers what crossed NATS: forwarded requests, their
		// answers and the directory.
		for _, want := range []string{"nats tonewall.node.ctl1.http ", "nats _INBOX.", "nats $KV.TONEWALL_DIRECTORY.capture."} {
			if !strings.Contains(s, want) {
				t.Errorf("the NATS spy saw no %q", want)
			}
		}
		scanCanaries(t, s)
	})
	rc := newCRM(t)
	obs := outboxtest.Cluster(t, 3)
	ctls := make([]*controller, len(obs))
	for i, ob := range obs {
		if ob.Replicas() != 3 {
			t.Fatalf("outbox %d replicas = %d, want 3", i, ob.Replicas())
		}
		ctls[i] = newController(t, i, ob, rc, out)
	}
	spyNATS(t, obs[1].ClientURL(), out)
	ctl1, ctl2, ctl3 := ctls[0], ctls[1], ctls[2]

	sw := fssim.New(fssim.Options{Logger: slog.New(slog.DiscardHandler)})
	t.Cleanup(func() { sw.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := sw.Dial(ctx, ctl1.esl.Addr(), fssim.CallOptions{Variables: map[string]string{"tonewall_agent": "user/1001"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.WaitBridged(ctx); err != nil {
		t.Fatal(err)
	}
	callID := c.A()

	// Controller 2 learns of the call through the directory.
	var cv call.CallView
	clusterPoll(t, "the call, bridged, through controller 2", 15*time.Second, func() bool {
		resp := ctl2.do(t, out, "GET", "/v1/calls/"+callID, nil, &cv)
		return resp.StatusCode == http.StatusOK && cv.Bridged
	})
	for _, ctl := range ctls[1:] {
		if _, err := ctl.calls.Call(callID); err == nil {
			t.Fatalf("%s holds the call locally", ctl.name)
		}
	}

	// Start the capture through controller 2.
	var v call.CaptureView
	resp := ctl2.do(t, out, "POST", "/v1/calls/"+callID+"/captures",
		map[string]any{"amount": 1250, "currency": "GBP", "reference": "order-1001"}, &v)
	if resp.StatusCode != http.StatusCreated || v.ID == "" || v.Masking != "on" {
		t.Fatalf("start capture via ctl2: %d %+v", resp.StatusCode, v)
	}
	if got := resp.Header.Get(cluster.HeaderController); got != ctl1.name {
		t.Errorf("answered by %q, want %s", got, ctl1.name)
	}
	if resp.Header.Get("Location") != "/v1/captures/"+v.ID {
		t.Errorf("Location = %q", resp.Header.Get("Location"))
	}

	// Read it at once through controller 3.
	var v3 call.CaptureView
	if resp := ctl3.do(t, out, "GET", "/v1/captures/"+v.ID, nil, &v3); resp.StatusCode != http.StatusOK || v3.ID != v.ID || v3.CallID != callID {
		t.Fatalf("read via ctl3: %d %+v", resp.StatusCode, v3)
	}
	// Event streams are not forwarded: controller 3 names the owner.
	var e struct {
		Error api.Error `json:"error"`
	}
	resp = ctl3.do(t, out, "GET", "/v1/captures/"+v.ID+"/events", nil, &e)
	if resp.StatusCode != http.StatusMisdirectedRequest || e.Error.Code != cluster.CodeWrongController || resp.Header.Get(cluster.HeaderController) != ctl1.name {
		t.Errorf("events via ctl3: %d %+v %s=%q", resp.StatusCode, e, cluster.HeaderController, resp.Header.Get(cluster.HeaderController))
	}

	// The customer keys the card on the call held by controller 1.
	waitPromptOn(t, c, "enter-card-number")
	key(t, c, visaPAN+"#", fssim.RFC2833, keyGap)
	waitPromptOn(t, c, "enter-expiry")
	key(t, c, goodExp, fssim.RFC2833, keyGap)
	waitPromptOn(t, c, "enter-security-code")
	key(t, c, visaCVV, fssim.RFC2833, keyGap)

	// The outcome, through controller 2.
	clusterPoll(t, "the outcome through controller 2", 15*time.Second, func() bool {
		v = call.CaptureView{}
		resp := ctl2.do(t, out, "GET", "/v1/captures/"+v3.ID, nil, &v)
		return resp.StatusCode == http.StatusOK && v.Outcome == "approved"
	})
	if v.Brand != "visa" || v.Last4 != "4242" || v.Masking != "off" {
		t.Errorf("outcome via ctl2: brand %s last4 %s masking %s", v.Brand, v.Last4, v.Masking)
	}
	var list struct {
		Captures []call.CaptureView `json:"captures"`
	}
	if resp := ctl3.do(t, out, "GET", "/v1/calls/"+callID+"/captures", nil, &list); resp.StatusCode != http.StatusOK || len(list.Captures) != 1 {
		t.Errorf("list via ctl3: %d %+v", resp.StatusCode, list)
	}
	if subs := ctl1.sink.Submissions(); len(subs) != 1 || subs[0].Last4 != "4242" || subs[0].CaptureID != v.ID {
		t.Errorf("controller 1's sink got %+v", subs)
	}
	for _, ctl := range ctls[1:] {
		if subs := ctl.sink.Submissions(); len(subs) != 0 {
			t.Errorf("%s's sink got %+v", ctl.name, subs)
		}
	}

	// One webhook, delivered once, whichever of the three senders took it.
	clusterPoll(t, "the webhook", 30*time.Second, func() bool {
		ids, _, _ := rc.snapshot()
		return len(ids) >= 1
	})
	time.Sleep(time.Second) // room for a duplicate to show up
	ids, bodies, bad := rc.snapshot()
	if len(ids) != 1 || bad != 0 {
		t.Fatalf("webhooks by id %v (bad %d), want one", ids, bad)
	}
	for id, n := range ids {
		if n != 1 {
			t.Errorf("webhook %s delivered %d times, want once", id, n)
		}
	}
	if !strings.Contains(bodies[0], `"last4":"4242"`) || !strings.Contains(bodies[0], webhook.TypePaymentApproved) {
		t.Errorf("webhook body %s", bodies[0])
	}
	out.Write([]byte(strings.Join(bodies, "\n")))

	// A body that looks like a card is never forwarded.
	e.Error = api.Error{}
	resp = ctl3.do(t, out, "POST", "/v1/calls/"+callID+"/captures",
		map[string]any{"amount": 1250, "currency": "GBP", "reference": "x" + strings.Repeat("4111", 4)}, &e)
	if resp.StatusCode != http.StatusBadRequest || e.Error.Code != cluster.CodeInvalidRequest {
		t.Errorf("card-like body via ctl3: %d %+v", resp.StatusCode, e)
	}

	// The call hangs up: its finished capture stays readable everywhere.
	sw.Close()
	clusterPoll(t, "the call to end on controller 1", 15*time.Second, func() bool {
		_, err := ctl1.calls.Call(callID)
		return err != nil
	})
	v = call.CaptureView{}
	if resp := ctl3.do(t, out, "GET", "/v1/captures/"+v3.ID, nil, &v); resp.StatusCode != http.StatusOK || v.Outcome != "approved" {
		t.Errorf("finished capture via ctl3 after hang-up: %d %+v", resp.StatusCode, v)
	}
	if resp := ctl2.do(t, out, "GET", "/v1/calls/"+callID, nil, &e); resp.StatusCode != http.StatusNotFound {
		t.Errorf("ended call via ctl2: %d", resp.StatusCode)
	}
}

// waitPromptOn waits until the customer has been asked for a prompt.
func waitPromptOn(t testing.TB, c *fssim.Call, contains string) {
	t.Helper()
	clusterPoll(t, "prompt "+contains, 10*time.Second, func() bool {
		for _, p := range c.Prompts() {
			if strings.Contains(p, contains) {
				return true
			}
		}
		return false
	})
}
