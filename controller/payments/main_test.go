package payments_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/tonewall/tonewall/controller/card"
	"github.com/tonewall/tonewall/controller/payments"
	"github.com/tonewall/tonewall/pluginsdk"
)

// The test binary is also the plugin (go-plugin's helper-process pattern).
var selfPath, selfSum string

func TestMain(m *testing.M) {
	if os.Getenv(pluginsdk.MagicCookieKey) == pluginsdk.MagicCookieValue {
		servePlugin(os.Args[1:])
		os.Exit(0)
	}
	var err error
	if selfPath, err = os.Executable(); err == nil {
		selfSum, err = pluginsdk.FileSHA256(selfPath)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// fakePSP is a PSP on loopback that records charges by idempotency key.
type fakePSP struct {
	*httptest.Server

	mu       sync.Mutex
	charges  map[string]*pspCharge // idempotency key → charge
	byTx     map[string]*pspCharge
	posts    int      // charge requests, repeats included
	auth     []string // Authorization header of each charge request
	holdNext bool     // hold the next new charge after recording it
	arrived  chan string
}

func newFakePSP(t testing.TB) *fakePSP {
	t.Helper()
	f := &fakePSP{charges: map[string]*pspCharge{}, byTx: map[string]*pspCharge{}, arrived: make(chan string, 4)}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /charges", f.charge)
	mux.HandleFunc("GET /charges", f.lookup)
	mux.HandleFunc("POST /modify", f.modify)
	f.Server = httptest.NewServer(mux)
	t.Cleanup(f.Close)
	return f
}

func (f *fakePSP) charge(w http.ResponseWriter, r *http.Request) {
	var c pspCharge
	if err := json.NewDecoder(r.Body).Decode(&c); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	key := r.Header.Get("Idempotency-Key")
	f.mu.Lock()
	f.posts++
	f.auth = append(f.auth, r.Header.Get("Authorization"))
	existing, seen := f.charges[key]
	hold := false
	if !seen {
		c.ID = fmt.Sprintf("ch_%d", len(f.charges)+1)
		c.Status = "approved"
		if c.Last4 == "0002" {
			c.Status = "declined"
		}
		existing = &c
		f.charges[key] = existing
		f.byTx[c.Tx] = existing
		hold, f.holdNext = f.holdNext, false
	}
	out := *existing
	f.mu.Unlock()
	if hold {
		// The charge is made; the answer never reaches the plugin.
		f.arrived <- c.Tx
		<-r.Context().Done()
		return
	}
	_ = json.NewEncoder(w).Encode(out)
}

func (f *fakePSP) lookup(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	c, ok := f.byTx[r.URL.Query().Get("tx")]
	var out pspCharge
	if ok {
		out = *c
	}
	f.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	_ = json.NewEncoder(w).Encode(out)
}

func (f *fakePSP) modify(w http.ResponseWriter, r *http.Request) {
	var c pspCharge
	if err := json.NewDecoder(r.Body).Decode(&c); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	c.Status = "approved"
	_ = json.NewEncoder(w).Encode(c)
}

func (f *fakePSP) counts() (charges, posts int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.charges), f.posts
}

func (f *fakePSP) lastAuth() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.auth) == 0 {
		return ""
	}
	return f.auth[len(f.auth)-1]
}

func (f *fakePSP) hold() {
	f.mu.Lock()
	f.holdNext = true
	f.mu.Unlock()
}

// lockedBuffer collects output written from several goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// testHost is a started host with its log and the plugins' stderr captured.
type testHost struct {
	*payments.Host
	log    *lockedBuffer
	stderr *lockedBuffer
}

// pspConfig configures the test binary as the PSP plugin.
func pspConfig(name string, psp *fakePSP, settings map[string]string, args ...string) payments.PluginConfig {
	s := map[string]string{"psp_url": psp.URL}
	for k, v := range settings {
		s[k] = v
	}
	return payments.PluginConfig{Name: name, Path: selfPath, SHA256: selfSum, Args: append([]string{"psp"}, args...), Settings: s}
}

// startHost starts a host with fast timings; opts may override them.
func startHost(t testing.TB, opts payments.Options) *testHost {
	t.Helper()
	th := &testHost{log: &lockedBuffer{}, stderr: &lockedBuffer{}}
	opts.Logger = slog.New(slog.NewJSONHandler(th.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	opts.PluginStderr = th.stderr
	if opts.CallTimeout == 0 {
		opts.CallTimeout = 10 * time.Second
	}
	if opts.PingInterval == 0 {
		opts.PingInterval = 200 * time.Millisecond
	}
	h, err := payments.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := h.Close(); err != nil {
			t.Error(err)
		}
		if os.Getenv("TONEWALL_TEST_LOGS") != "" {
			t.Logf("host log:\n%s\nplugin stderr:\n%s", th.log, th.stderr)
		}
	})
	if err := h.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	th.Host = h
	return th
}

func (th *testHost) health(t testing.TB, name string) payments.PluginHealth {
	t.Helper()
	for _, ph := range th.Health() {
		if ph.Name == name {
			return ph
		}
	}
	t.Fatalf("no plugin %q", name)
	return payments.PluginHealth{}
}

// secret makes a card.Secret holding s.
func secret(s string) *card.Secret {
	sec := card.NewSecret(len(s))
	for i := 0; i < len(s); i++ {
		sec.Append(s[i])
	}
	return sec
}

func testCard(pan, cvv string) *card.Card {
	return &card.Card{
		PAN: secret(pan), CVV: secret(cvv), Expiry: secret("1230"),
		Brand: card.DetectBrand([]byte(pan)), Last4: pan[len(pan)-4:], ExpMonth: 12, ExpYear: 2030,
	}
}

// waitFor polls cond until it holds or d passes.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
