package integration_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tonewall/tonewall/controller/call"
	"github.com/tonewall/tonewall/controller/daemon"
	"github.com/tonewall/tonewall/integration/fssim"
)

// agentDest is the agent destination the simulated dialplan hands over.
const agentDest = "sofia/internal/7200@127.0.0.1:5060"

// outputs collects everything the controller says during a test — log
// lines, API response bodies, progress events, sink records — so that the
// canary scan can search all of it.
type outputs struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (o *outputs) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if testing.Verbose() && os.Getenv("TONEWALL_TEST_LOG") != "" {
		os.Stderr.Write(p)
	}
	return o.buf.Write(p)
}

func (o *outputs) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// events records progress events in order.
type events struct {
	mu  sync.Mutex
	evs []call.Event
	out *outputs
}

func (e *events) Observe(ev call.Event) {
	b, _ := json.Marshal(ev)
	e.out.Write(append(b, '\n'))
	e.mu.Lock()
	e.evs = append(e.evs, ev)
	e.mu.Unlock()
}

func (e *events) list() []call.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]call.Event(nil), e.evs...)
}

// env is one controller under test with its simulated switch.
type env struct {
	t    testing.TB
	d    *daemon.Daemon
	sw   *fssim.Switch
	sink *call.RecordingSink
	out  *outputs
	evs  *events
	// token, if set, is sent as the bearer token with every API request.
	token string
}

func newEnv(t testing.TB, mutate func(*daemon.Options)) *env {
	t.Helper()
	out := &outputs{}
	evs := &events{out: out}
	sink := &call.RecordingSink{}
	opts := daemon.Options{
		ESLAddr:         "127.0.0.1:0",
		APIAddr:         "127.0.0.1:0",
		Linger:          1,
		PromptDir:       "/prompts",
		Sink:            sink,
		Observer:        evs,
		ShutdownTimeout: 5 * time.Second,
		Logger:          slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if mutate != nil {
		mutate(&opts)
	}
	d, err := daemon.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	sw := fssim.New(fssim.Options{Logger: slog.New(slog.DiscardHandler)}) // the switch is not the controller: its log is not scanned
	e := &env{t: t, d: d, sw: sw, sink: sink, out: out, evs: evs}
	t.Cleanup(func() {
		sw.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := d.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		scanCanaries(t, out.String())
	})
	return e
}

// dial places a simulated call and waits until the controller bridged it.
func (e *env) dial(o fssim.CallOptions) *fssim.Call {
	e.t.Helper()
	if o.Variables == nil {
		o.Variables = map[string]string{}
	}
	if _, ok := o.Variables["tonewall_agent"]; !ok {
		o.Variables["tonewall_agent"] = agentDest
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := e.sw.Dial(ctx, e.d.ESLAddr(), o)
	if err != nil {
		e.t.Fatalf("dial: %v", err)
	}
	if err := c.WaitBridged(ctx); err != nil {
		e.t.Fatalf("bridge: %v", err)
	}
	// The controller sees the bridge through an event; wait for it too.
	e.poll("call bridged", func() bool {
		v, err := e.d.Calls().Call(c.A())
		return err == nil && v.Bridged
	})
	return c
}

// api sends one request to the controller's HTTP API and decodes the reply.
func (e *env) api(method, path string, body any, into any) int {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, e.d.APIURL()+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if e.token != "" {
		req.Header.Set("Authorization", "Bearer "+e.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	e.out.Write(append(b, '\n'))
	if into != nil {
		if err := json.Unmarshal(b, into); err != nil {
			e.t.Fatalf("%s %s: %d %s: %v", method, path, resp.StatusCode, b, err)
		}
	}
	return resp.StatusCode
}

func (e *env) startCapture(c *fssim.Call, req map[string]any) call.CaptureView {
	e.t.Helper()
	if req == nil {
		req = map[string]any{"amount": 1250, "currency": "GBP", "reference": "order-1001"}
	}
	var v call.CaptureView
	if code := e.api("POST", "/v1/calls/"+c.A()+"/captures", req, &v); code != http.StatusCreated {
		e.t.Fatalf("start capture: status %d", code)
	}
	return v
}

func (e *env) capture(id string) call.CaptureView {
	e.t.Helper()
	var v call.CaptureView
	if code := e.api("GET", "/v1/captures/"+id, nil, &v); code != http.StatusOK {
		e.t.Fatalf("get capture: status %d", code)
	}
	return v
}

// waitCapture polls the capture until pred holds.
func (e *env) waitCapture(id, what string, pred func(call.CaptureView) bool) call.CaptureView {
	e.t.Helper()
	var v call.CaptureView
	e.poll(what, func() bool {
		v = e.capture(id)
		return pred(v)
	})
	return v
}

func (e *env) poll(what string, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitPrompt waits until the customer has been asked for field's prompt
// the n-th time.
func (e *env) waitPrompt(c *fssim.Call, contains string, n int) {
	e.t.Helper()
	e.poll(fmt.Sprintf("prompt %q #%d", contains, n), func() bool {
		k := 0
		for _, p := range c.Prompts() {
			if strings.Contains(p, contains) {
				k++
			}
		}
		return k >= n
	})
}

// key presses each digit with the given mode, spaced like a person.
func key(t testing.TB, c *fssim.Call, digits string, mode fssim.DTMFMode, gap time.Duration) []fssim.KeyPress {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out []fssim.KeyPress
	for i := 0; i < len(digits); i++ {
		kp, err := c.Press(ctx, digits[i], mode)
		if err != nil {
			t.Fatalf("press %d: %v", i, err)
		}
		out = append(out, kp)
		if gap > 0 {
			time.Sleep(gap)
		}
	}
	return out
}

// Canary cards planted by the tests. Their digits must never appear in any
// output: logs, API responses, progress events, sink records.
var canaries = []string{
	"4242424242424242", "424242424242", // PAN and its first 12 digits
	"378282246310005", "37828224631",
	"5555555555554444", "555555555555",
	"4242424242424241",
}

// canaryShort are CVVs and expiries; they are matched only as stand-alone
// numbers, so timestamps and ids do not trip them.
var canaryShort = []string{"7391", "0731", "982", "0120"}

func scanCanaries(t testing.TB, s string) {
	t.Helper()
	for _, c := range canaries {
		if i := strings.Index(s, c); i >= 0 {
			t.Errorf("canary card %s… found in output: %q", c[:4], excerpt(s, i))
		}
	}
	for _, c := range canaryShort {
		re := regexp.MustCompile(`(^|[^0-9A-Za-z.:_/-])` + c + `($|[^0-9A-Za-zµ.:_/-])`)
		if loc := re.FindStringIndex(s); loc != nil {
			t.Errorf("canary %s found in output: %q", c, excerpt(s, loc[0]))
		}
	}
}

func excerpt(s string, i int) string {
	lo, hi := max(0, i-60), min(len(s), i+60)
	return s[lo:hi]
}
