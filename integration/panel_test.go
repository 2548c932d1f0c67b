package integration_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/tonewall/tonewall/integration/fssim"
)

const chromiumPath = "/usr/bin/chromium"

// browser starts headless Chromium for one test. Without Chromium the
// test fails in CI and is skipped, saying why, elsewhere.
func browser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is missing: CI must install Debian's chromium package (apt-get install -y chromium)", chromiumPath)
		}
		t.Skipf("%s is missing: install Debian's chromium package to run the browser tests", chromiumPath)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.NoSandbox,
		chromedp.NoFirstRun,
		chromedp.Headless,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1024, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	return ctx
}

// pageRecord collects what the page sends and receives and what it logs.
type pageRecord struct {
	mu       sync.Mutex
	requests map[network.RequestID]string // fetch/XHR request id → URL
	finished []network.RequestID
	sse      []string
	console  []string
	errors   []string
	postIDs  []network.RequestID
}

func (p *pageRecord) listen(ev any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		if ev.Type == network.ResourceTypeFetch || ev.Type == network.ResourceTypeXHR {
			p.requests[ev.RequestID] = ev.Request.Method + " " + ev.Request.URL
			if ev.Request.HasPostData {
				p.postIDs = append(p.postIDs, ev.RequestID)
			}
		}
	case *network.EventLoadingFinished:
		if _, ok := p.requests[ev.RequestID]; ok {
			p.finished = append(p.finished, ev.RequestID)
		}
	case *network.EventEventSourceMessageReceived:
		p.sse = append(p.sse, ev.EventName+" "+ev.Data)
	case *runtime.EventConsoleAPICalled:
		for _, a := range ev.Args {
			p.console = append(p.console, fmt.Sprintf("console.%s %s %s", ev.Type, a.Value, a.Description))
		}
	case *runtime.EventExceptionThrown:
		p.errors = append(p.errors, ev.ExceptionDetails.Text+" "+exceptionText(ev.ExceptionDetails))
	case *cdplog.EventEntryAdded:
		p.console = append(p.console, fmt.Sprintf("log.%s %s %s", ev.Entry.Level, ev.Entry.Text, ev.Entry.URL))
	}
}

func exceptionText(d *runtime.ExceptionDetails) string {
	if d.Exception != nil {
		return d.Exception.Description
	}
	return ""
}

// bodies fetches the request and response bodies of the page's API calls.
func (p *pageRecord) bodies(ctx context.Context, t *testing.T) []string {
	t.Helper()
	p.mu.Lock()
	finished := append([]network.RequestID(nil), p.finished...)
	posts := append([]network.RequestID(nil), p.postIDs...)
	urls := make(map[network.RequestID]string, len(p.requests))
	for k, v := range p.requests {
		urls[k] = v
	}
	p.mu.Unlock()
	var out []string
	for _, id := range posts {
		pd, err := chromedp.Call(ctx, network.GetRequestPostData, network.GetRequestPostDataParams{RequestID: id})
		if err != nil {
			t.Errorf("post data of %s: %v", urls[id], err)
			continue
		}
		out = append(out, "request "+urls[id]+" "+decodeBody(pd.PostData, pd.Base64encoded))
	}
	for _, id := range finished {
		rb, err := chromedp.Call(ctx, network.GetResponseBody, network.GetResponseBodyParams{RequestID: id})
		if err != nil {
			t.Errorf("response body of %s: %v", urls[id], err)
			continue
		}
		out = append(out, "response "+urls[id]+" "+decodeBody(rb.Body, rb.Base64encoded))
	}
	return out
}

func decodeBody(b []byte, b64 bool) string {
	if !b64 {
		return string(b)
	}
	d, err := base64.StdEncoding.DecodeString(string(b))
	if err != nil {
		return string(b)
	}
	return string(d)
}

func TestPanelTakesAPaymentWithoutSeeingTheCard(t *testing.T) {
	ctx := browser(t)
	s := newSecuredEnv(t)
	c := s.dial(fssim.CallOptions{Variables: map[string]string{"tonewall_agent": "user/1001"}})
	tok := s.agentToken(c.A())
	if !strings.HasPrefix(tok.PanelURL, s.srv.URL()+"/panel/?call=") || !strings.Contains(tok.PanelURL, "#token=") {
		t.Fatalf("panel_url %q", tok.PanelURL)
	}

	rec := &pageRecord{requests: map[network.RequestID]string{}}
	if err := chromedp.Listen(ctx, rec.listen); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, runtime.Enable, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}
	var doms []string
	snapDOM := func(when string) {
		t.Helper()
		html, err := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("html")))
		if err != nil {
			t.Fatalf("DOM %s: %v", when, err)
		}
		doms = append(doms, "DOM "+when+"\n"+html)
	}
	waitJS := func(what, expr string) { t.Helper(); pollJS(ctx, t, what, expr) }

	openPanel(ctx, t, tok.PanelURL, tok.Token)
	snapDOM("at load")
	startFromKeyboard(ctx, t, "12.50", "order-1001")
	caps := s.d.Calls().Captures(c.A())
	if len(caps) != 1 || caps[0].Amount != 1250 || caps[0].Currency != "GBP" || caps[0].Reference != "order-1001" {
		t.Fatalf("capture started from the panel: %+v", caps)
	}
	if focused, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.activeElement.id`)); focused != "capture-title" {
		t.Errorf("focus after start on %q, want the capture heading", focused)
	}
	snapDOM("after start")

	s.waitPrompt(c, "enter-card-number", 1)
	key(t, c, visaPAN[:8], fssim.RFC2833, keyGap)
	waitJS("8 digits shown", `(document.querySelector('[data-field="pan"] .dots')||{}).textContent === "●●●● ●●●●"`)
	snapDOM("mid PAN")
	key(t, c, visaPAN[8:]+"#", fssim.RFC2833, keyGap)
	waitJS("the PAN ticked", `document.querySelector('[data-field="pan"]').dataset.status === "valid"`)
	snapDOM("after PAN")
	s.waitPrompt(c, "enter-expiry", 1)
	key(t, c, goodExp, fssim.RFC2833, keyGap)
	s.waitPrompt(c, "enter-security-code", 1)
	key(t, c, visaCVV, fssim.RFC2833, keyGap)
	waitJS("brand, last four and outcome",
		`document.getElementById("brand").textContent === "VISA" && document.getElementById("last4").textContent.includes("4242") && document.getElementById("outcome").dataset.outcome === "recorded"`)
	snapDOM("at the end")

	ticks, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](
		`[...document.querySelectorAll("#fields li")].map(li => li.dataset.field + ":" + li.dataset.status + ":" + li.querySelector(".mark").textContent)`))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(ticks, ",") != "pan:valid:✓,expiry:valid:✓,cvv:valid:✓" {
		t.Errorf("fields %v, want every one ticked", ticks)
	}
	if text, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#outcome-text"))); !strings.Contains(text, "accepted") {
		t.Errorf("outcome text %q", text)
	}
	waitJS("the outcome announced", `document.getElementById("announcer").textContent === "Card details accepted."`)

	// 320 px wide: nothing overflows sideways.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(320, 800)); err != nil {
		t.Fatal(err)
	}
	if w, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`)); err != nil || w > 320 {
		t.Errorf("at 320 px the page is %d px wide (%v)", w, err)
	}
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(t.TempDir(), "panel.png")
	if err := os.WriteFile(shot, png, 0o600); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(shot); err != nil || st.Size() < 1000 || !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
		t.Errorf("screenshot %s: %v, %d bytes, not a PNG", shot, err, len(png))
	}

	bodies := rec.bodies(ctx, t)
	rec.mu.Lock()
	sse, console, jsErrors := append([]string(nil), rec.sse...), append([]string(nil), rec.console...), append([]string(nil), rec.errors...)
	rec.mu.Unlock()
	if len(jsErrors) > 0 {
		t.Errorf("JavaScript errors: %v", jsErrors)
	}
	for _, l := range console {
		if strings.HasPrefix(l, "log.error") || strings.HasPrefix(l, "console.") {
			t.Errorf("the page logged: %s", l) // a CSP refusal shows here too
		}
	}
	seen := strings.Join(sse, "\n")
	for _, want := range []string{"snapshot ", "field.digit ", "field.valid ", "payment.result "} {
		if !strings.Contains(seen, want) {
			t.Errorf("no %q among the page's server-sent events", want)
		}
	}
	if !strings.Contains(strings.Join(bodies, "\n"), `"amount":1250`) {
		t.Errorf("the capture request was not recorded: %v", bodies)
	}
	// The card never reached the page: not in the DOM, the network traffic
	// or the console.
	everything := strings.Join(doms, "\n") + "\n" + strings.Join(bodies, "\n") + "\n" + seen + "\n" + strings.Join(console, "\n")
	scanCanaries(t, everything)
	if !strings.Contains(everything, "4242") {
		t.Error("the scan saw no last four: it would not see a card either")
	}
}

// pollJS waits until the JavaScript expression is true in the page.
func pollJS(ctx context.Context, t *testing.T, what, expr string) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		html, _ := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("main")))
		t.Fatalf("waiting for %s: %v\n%s", what, err, html)
	}
}

// openPanel loads the panel link and waits for the start form; the token
// must have left the address bar.
func openPanel(ctx context.Context, t *testing.T, panelURL, token string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Navigate(panelURL)); err != nil {
		t.Fatal(err)
	}
	pollJS(ctx, t, "the start form", `!document.getElementById("start").hidden && document.getElementById("call-status").dataset.state === "live"`)
	if href, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href`)); err != nil || strings.Contains(href, "#") || strings.Contains(href, token) {
		t.Errorf("the token stayed in the address: %q %v", href, err)
	}
}

// startFromKeyboard fills the start form with the keyboard only: Tab into
// the form, type, Tab on, Enter to submit.
func startFromKeyboard(ctx context.Context, t *testing.T, amount, reference string) {
	t.Helper()
	if err := chromedp.Do(ctx,
		chromedp.KeyEvent(kb.Tab),
		chromedp.KeyEvent(amount),
		chromedp.KeyEvent(kb.Tab), // currency: GBP stays
		chromedp.KeyEvent(kb.Tab),
		chromedp.KeyEvent(reference),
		chromedp.KeyEvent(kb.Enter),
	); err != nil {
		t.Fatal(err)
	}
	pollJS(ctx, t, "the capture", `!document.getElementById("capture").hidden && document.getElementById("masking").dataset.masking === "on"`)
}

// tabTo presses Tab until the element with the id has the focus.
func tabTo(ctx context.Context, t *testing.T, id string) {
	t.Helper()
	for range 12 {
		if err := chromedp.Do(ctx, chromedp.KeyEvent(kb.Tab)); err != nil {
			t.Fatal(err)
		}
		if got, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.activeElement.id || document.activeElement.dataset.field || ""`)); got == id {
			return
		}
	}
	t.Fatalf("Tab never reached %q", id)
}

func TestPanelRestartAndCancelFromKeyboard(t *testing.T) {
	ctx := browser(t)
	s := newSecuredEnv(t)
	c := s.dial(fssim.CallOptions{Variables: map[string]string{"tonewall_agent": "user/1001"}})
	tok := s.agentToken(c.A())
	openPanel(ctx, t, tok.PanelURL, tok.Token)
	startFromKeyboard(ctx, t, "7", "order-2002")
	if v := s.d.Calls().Captures(c.A()); len(v) != 1 || v[0].Amount != 700 {
		t.Fatalf("captures %+v, want 7 GBP as 700 pence", v)
	}
	s.waitPrompt(c, "enter-card-number", 1)
	key(t, c, "4242", fssim.RFC2833, keyGap)
	pollJS(ctx, t, "4 digits", `document.querySelector('[data-field="pan"] .dots').textContent === "●●●●"`)

	// Ask again for the card number: the first button after the heading.
	tabTo(ctx, t, "pan")
	if err := chromedp.Do(ctx, chromedp.KeyEvent(kb.Enter)); err != nil {
		t.Fatal(err)
	}
	s.waitPrompt(c, "restart", 1)
	pollJS(ctx, t, "the count reset", `document.querySelector('[data-field="pan"] .dots').textContent === "–"`)

	tabTo(ctx, t, "cancel")
	if err := chromedp.Do(ctx, chromedp.KeyEvent(kb.Enter)); err != nil {
		t.Fatal(err)
	}
	pollJS(ctx, t, "cancelled", `document.getElementById("outcome").dataset.outcome === "cancelled" && document.getElementById("masking").dataset.masking === "off"`)
	if v := s.d.Calls().Captures(c.A()); v[0].Outcome != "cancelled" || v[0].Masking != "off" {
		t.Errorf("capture after cancel: %+v", v[0])
	}
	if h := c.AgentHears(); h.Tone || !h.Customer {
		t.Errorf("after cancel the agent hears %+v", h)
	}
	// Another payment can be started from the same page.
	tabTo(ctx, t, "new-capture")
	if err := chromedp.Do(ctx, chromedp.KeyEvent(kb.Enter)); err != nil {
		t.Fatal(err)
	}
	pollJS(ctx, t, "the form again", `!document.getElementById("start").hidden && document.activeElement.id === "amount"`)
}
