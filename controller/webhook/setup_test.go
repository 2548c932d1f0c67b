package webhook

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/tonewall/tonewall/controller/outbox"
	"github.com/tonewall/tonewall/controller/outbox/outboxtest"
)

// newSecret returns a fresh whsec_ signing secret.
func newSecret(tb testing.TB) string {
	tb.Helper()
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		tb.Fatal(err)
	}
	return "whsec_" + base64.StdEncoding.EncodeToString(b[:])
}

// hit is one verified request a receiver got.
type hit struct {
	ID     string
	Path   string
	Body   []byte
	Header http.Header
	At     time.Time
	Status int
}

// receiver is a CRM stand-in: it verifies every request's signature with the
// Standard Webhooks library against any of its secrets, records it, and
// answers as its respond function says.
type receiver struct {
	srv     *httptest.Server
	secrets []string

	mu      sync.Mutex
	hits    []hit
	byID    map[string]int // requests per path and webhook-id
	ok      map[string]int // 2xx answers per webhook-id
	bad     int            // requests whose signature did not verify
	respond func(w http.ResponseWriter, r *http.Request, n int) int
}

// newReceiver starts a receiver that accepts requests signed with any of
// secrets and answers 204 until told otherwise.
func newReceiver(tb testing.TB, secrets ...string) *receiver {
	tb.Helper()
	rc := &receiver{secrets: secrets, byID: map[string]int{}, ok: map[string]int{}}
	rc.srv = httptest.NewServer(http.HandlerFunc(rc.serve))
	tb.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	verified := false
	for _, s := range rc.secrets {
		wh, err := standardwebhooks.NewWebhook(s)
		if err == nil && wh.Verify(body, r.Header) == nil {
			verified = true
			break
		}
	}
	rc.mu.Lock()
	if !verified {
		rc.bad++
		rc.mu.Unlock()
		http.Error(w, "bad signature", http.StatusBadRequest)
		return
	}
	id := r.Header.Get(standardwebhooks.HeaderWebhookID)
	rc.byID[r.URL.Path+" "+id]++
	n, respond := rc.byID[r.URL.Path+" "+id], rc.respond
	rc.mu.Unlock()

	status := http.StatusNoContent
	if respond != nil {
		status = respond(w, r, n)
	}
	if status != 0 {
		w.WriteHeader(status)
	}
	rc.mu.Lock()
	rc.hits = append(rc.hits, hit{ID: id, Path: r.URL.Path, Body: body, Header: r.Header.Clone(), At: time.Now(), Status: status})
	if status >= 200 && status < 300 {
		rc.ok[id]++
	}
	rc.mu.Unlock()
}

// setRespond changes how the receiver answers. f gets the number of
// requests so far for this path and webhook-id, this one included, and
// returns the status to write, or 0 when it has answered (or hung up) itself.
func (rc *receiver) setRespond(f func(w http.ResponseWriter, r *http.Request, n int) int) {
	rc.mu.Lock()
	rc.respond = f
	rc.mu.Unlock()
}

func (rc *receiver) url(path string) string { return rc.srv.URL + path }

// delivered returns how many distinct ids were answered 2xx.
func (rc *receiver) delivered() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.ok)
}

// snapshot returns copies of what the receiver recorded.
func (rc *receiver) snapshot() (hits []hit, ok map[string]int, bad int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	ok = make(map[string]int, len(rc.ok))
	for k, v := range rc.ok {
		ok[k] = v
	}
	return append([]hit(nil), rc.hits...), ok, rc.bad
}

// hitsFor returns the requests to one path for one webhook-id, in arrival order.
func (rc *receiver) hitsFor(path, id string) []hit {
	hits, _, _ := rc.snapshot()
	var out []hit
	for _, h := range hits {
		if h.ID == id && h.Path == path {
			out = append(out, h)
		}
	}
	return out
}

// hangUp answers by closing the connection: the CRM looks down.
func hangUp(w http.ResponseWriter) int {
	if hj, ok := w.(http.Hijacker); ok {
		if c, _, err := hj.Hijack(); err == nil {
			c.Close()
			return 0
		}
	}
	return http.StatusServiceUnavailable
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(tb testing.TB, within time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// fastSchedule returns n attempts spaced by step, for tests.
func fastSchedule(n int, step time.Duration) []time.Duration {
	s := make([]time.Duration, n)
	for i := 1; i < n; i++ {
		s[i] = step
	}
	return s
}

// newSender creates and starts a Sender on ob; it is closed at cleanup.
// Unset options get test values: loopback http allowed, a fast schedule, a
// quiet logger.
func newSender(tb testing.TB, ob *outbox.Outbox, opts Options) *Sender {
	tb.Helper()
	s := newIdleSender(tb, ob, opts)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Start(ctx); err != nil {
		tb.Fatalf("Start: %v", err)
	}
	return s
}

// newIdleSender creates a Sender that is not started.
func newIdleSender(tb testing.TB, ob *outbox.Outbox, opts Options) *Sender {
	tb.Helper()
	opts.AllowLoopbackHTTP = true
	if opts.Schedule == nil {
		opts.Schedule = fastSchedule(10, 50*time.Millisecond)
	}
	if opts.Logger == nil {
		opts.Logger = outboxtest.Logger(tb)
	}
	if opts.Timeout == 0 {
		opts.Timeout = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := New(ctx, ob, opts)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// testEvent returns a valid approved-payment event numbered i.
func testEvent(prefix string, i int) Event {
	return Event{
		ID:                fmt.Sprintf("%s-%04d", prefix, i),
		Type:              TypePaymentApproved,
		CaptureID:         fmt.Sprintf("cap-%d", i),
		CallID:            "2f6c1c4e-6d0b-4b7e-9a51-0c1d2e3f4a5b",
		Reference:         fmt.Sprintf("INV-%d", i),
		Amount:            1999,
		Currency:          "GBP",
		Provider:          "stripe",
		Outcome:           "approved",
		ProviderReference: "pi_3Nabc",
		Token:             "pm_1Nxyz",
		Brand:             "visa",
		Last4:             "4242",
		At:                time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC),
	}
}

// publishAll publishes events, failing the test on any error.
func publishAll(tb testing.TB, s *Sender, evs ...Event) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, ev := range evs {
		if err := s.Publish(ctx, ev); err != nil {
			tb.Fatalf("Publish %s: %v", ev.ID, err)
		}
	}
}

// delivery returns the one record for an event and endpoint.
func delivery(tb testing.TB, s *Sender, eventID, endpointID string) Delivery {
	tb.Helper()
	ds, err := s.Deliveries(context.Background(), Filter{EventID: eventID, EndpointID: endpointID})
	if err != nil {
		tb.Fatalf("Deliveries: %v", err)
	}
	if len(ds) != 1 {
		tb.Fatalf("%d deliveries for %s/%s, want 1", len(ds), eventID, endpointID)
	}
	return ds[0]
}

// waitState polls until the delivery reaches state.
func waitState(tb testing.TB, s *Sender, eventID, endpointID string, state State, within time.Duration) Delivery {
	tb.Helper()
	var d Delivery
	waitFor(tb, within, fmt.Sprintf("%s/%s %s", eventID, endpointID, state), func() bool {
		ds, err := s.Deliveries(context.Background(), Filter{EventID: eventID, EndpointID: endpointID})
		if err != nil || len(ds) != 1 {
			return false
		}
		d = ds[0]
		return d.State == state
	})
	return d
}

// logBuffer collects log lines, safely for many goroutines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
