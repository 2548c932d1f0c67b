package integration_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/tonewall/tonewall/controller/call"
	"github.com/tonewall/tonewall/controller/daemon"
	"github.com/tonewall/tonewall/controller/outbox/outboxtest"
	"github.com/tonewall/tonewall/controller/webhook"
	"github.com/tonewall/tonewall/integration/fssim"
)

// apiAt sends one API request to the controller at base.
func apiAt(t *testing.T, out *outputs, base, method, path string, body, into any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, base+path, rd)
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
	b, _ := io.ReadAll(resp.Body)
	out.Write(append(b, '\n'))
	if into != nil {
		if err := json.Unmarshal(b, into); err != nil {
			t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
		}
	}
	return resp.StatusCode
}

// TestThreeDaemonsActAsOne runs three whole controllers whose embedded NATS
// servers form one cluster: the call is held by the first, its capture is
// started through the second and read through the third, and the CRM gets
// each webhook exactly once.
func TestThreeDaemonsActAsOne(t *testing.T) {
	rc := newCRM(t)
	out := &outputs{}
	log := slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: slog.LevelInfo}))
	nats := outboxtest.ClusterOptions(t, 3)
	ds := make([]*daemon.Daemon, 3)
	for i := range ds {
		d, err := daemon.New(daemon.Options{
			ESLAddr:               "127.0.0.1:0",
			APIAddr:               "127.0.0.1:0",
			Linger:                1,
			PromptDir:             "/prompts",
			Sink:                  &approvingSink{},
			DataDir:               t.TempDir(),
			NodeID:                fmt.Sprintf("ctl%d", i+1),
			NATSClusterName:       nats[i].Cluster.Name,
			NATSClusterListen:     nats[i].Cluster.Listen,
			NATSRoutes:            nats[i].Cluster.Routes,
			Webhooks:              []webhook.Endpoint{{ID: "crm", URL: rc.srv.URL, SecretName: "crm"}},
			WebhookSecrets:        webhook.StaticSecrets{"crm": {rc.secret}},
			AllowLoopbackWebhooks: true,
			ShutdownTimeout:       5 * time.Second,
			Logger:                log.With("node", i+1),
		})
		if err != nil {
			t.Fatal(err)
		}
		ds[i] = d
	}
	// JetStream needs a quorum before any controller can finish starting.
	var wg sync.WaitGroup
	errs := make([]error, len(ds))
	for i, d := range ds {
		wg.Go(func() { errs[i] = d.Start() })
	}
	wg.Wait()
	for i, d := range ds {
		if errs[i] != nil {
			t.Fatalf("controller %d: %v", i+1, errs[i])
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			d.Shutdown(ctx)
		})
	}
	t.Cleanup(func() { scanCanaries(t, out.String()) })

	sw := fssim.New(fssim.Options{Logger: slog.New(slog.DiscardHandler)})
	t.Cleanup(func() { sw.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := sw.Dial(ctx, ds[0].ESLAddr(), fssim.CallOptions{Variables: map[string]string{"tonewall_agent": agentDest}})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.WaitBridged(ctx); err != nil {
		t.Fatal(err)
	}
	poll(t, "bridged on controller 1", func() bool {
		v, err := ds[0].Calls().Call(c.A())
		return err == nil && v.Bridged
	})

	var v call.CaptureView
	req := map[string]any{"amount": 1250, "currency": "GBP", "reference": "order-1001"}
	for try := 0; ; try++ { // the directory entry is written as the call starts
		code := apiAt(t, out, ds[1].APIURL(), "POST", "/v1/calls/"+c.A()+"/captures", req, &v)
		if code == http.StatusCreated {
			break
		}
		if try == 50 {
			t.Fatalf("start capture through controller 2: %d", code)
		}
		time.Sleep(100 * time.Millisecond)
	}
	var read call.CaptureView
	if code := apiAt(t, out, ds[2].APIURL(), "GET", "/v1/captures/"+v.ID, nil, &read); code != http.StatusOK || read.CallID != c.A() {
		t.Fatalf("read through controller 3: %d %+v", code, read)
	}

	e := &env{t: t, d: ds[0], sw: sw, out: out}
	keyCard(t, e, c, fssim.RFC2833, visaPAN, goodExp, visaCVV)
	poll(t, "approved, read through controller 2", func() bool {
		var got call.CaptureView
		apiAt(t, out, ds[1].APIURL(), "GET", "/v1/captures/"+v.ID, nil, &got)
		return got.Outcome == "approved" && got.Last4 == "4242"
	})
	poll(t, "both webhooks", func() bool { ids, _, _ := rc.snapshot(); return len(ids) >= 2 })
	time.Sleep(time.Second) // a duplicate would show up by now
	ids, bodies, bad := rc.snapshot()
	if bad != 0 || len(ids) != 2 {
		t.Fatalf("webhooks: %d ids, %d bad: %v", len(ids), bad, bodies)
	}
	for id, n := range ids {
		if n != 1 {
			t.Errorf("webhook %s delivered %d times", id, n)
		}
	}
	for _, b := range bodies {
		out.Write([]byte(b + "\n"))
	}
}

func poll(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestEventStreamThroughAnyController opens a call's event stream on a
// controller that does not hold the call: it is relayed from the one that
// does.
func TestEventStreamThroughAnyController(t *testing.T) {
	out := &outputs{}
	log := slog.New(slog.NewTextHandler(out, nil))
	nats := outboxtest.ClusterOptions(t, 2)
	ds := make([]*daemon.Daemon, 2)
	for i := range ds {
		d, err := daemon.New(daemon.Options{
			ESLAddr: "127.0.0.1:0", APIAddr: "127.0.0.1:0", Linger: 1, PromptDir: "/prompts",
			Sink: &approvingSink{}, DataDir: t.TempDir(), NodeID: fmt.Sprintf("ctl%d", i+1),
			NATSClusterName: nats[i].Cluster.Name, NATSClusterListen: nats[i].Cluster.Listen, NATSRoutes: nats[i].Cluster.Routes,
			ShutdownTimeout: 5 * time.Second, Logger: log.With("node", i+1),
		})
		if err != nil {
			t.Fatal(err)
		}
		ds[i] = d
	}
	var wg sync.WaitGroup
	errs := make([]error, len(ds))
	for i, d := range ds {
		wg.Go(func() { errs[i] = d.Start() })
	}
	wg.Wait()
	for i, d := range ds {
		if errs[i] != nil {
			t.Fatalf("controller %d: %v", i+1, errs[i])
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			d.Shutdown(ctx)
		})
	}
	sw := fssim.New(fssim.Options{Logger: slog.New(slog.DiscardHandler)})
	t.Cleanup(func() { sw.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := sw.Dial(ctx, ds[0].ESLAddr(), fssim.CallOptions{Variables: map[string]string{"tonewall_agent": agentDest}})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.WaitBridged(ctx); err != nil {
		t.Fatal(err)
	}
	var lines []string
	poll(t, "a relayed stream", func() bool {
		req, _ := http.NewRequestWithContext(ctx, "GET", ds[1].APIURL()+"/v1/calls/"+c.A()+"/events", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Tonewall-Controller") != "ctl1" {
			return false
		}
		buf := make([]byte, 4096)
		n, _ := resp.Body.Read(buf)
		lines = append(lines, string(buf[:n]))
		return bytes.Contains(buf[:n], []byte("event: snapshot"))
	})
	if !bytes.Contains([]byte(lines[len(lines)-1]), []byte(c.A())) {
		t.Errorf("relayed snapshot does not name the call: %q", lines[len(lines)-1])
	}
	scanCanaries(t, out.String())
}
