package webhook

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tonewall/tonewall/controller/outbox"
	"github.com/tonewall/tonewall/controller/outbox/outboxtest"
)

// canaryPAN is a Luhn-valid test card number planted to prove it leaks nowhere.
const canaryPAN = "4000056655665556"

// TestCanaryPAN plants a card number in every string field of an event. No
// such event is accepted; ordinary events with the card's last four go out.
// Afterwards the number is in no payload, header, log line, delivery record,
// error, or file of the outbox's data directory.
func TestCanaryPAN(t *testing.T) {
	secret := newSecret(t)
	rc := newReceiver(t, secret)
	var logs logBuffer
	dir := t.TempDir()
	ob := outboxtest.Open(t, outbox.Options{DataDir: dir, Logger: logs.logger()})
	rc.setRespond(func(w http.ResponseWriter, r *http.Request, _ int) int {
		if r.URL.Path == "/slow" {
			w.Header().Set("Retry-After", "3600")
			return http.StatusServiceUnavailable
		}
		return http.StatusNoContent
	})
	s := newSender(t, ob, Options{
		Endpoints: []Endpoint{
			{ID: "crm", URL: rc.url("/hook"), Events: []string{TypePaymentApproved}},
			{ID: "slow", URL: rc.url("/slow"), Events: []string{TypeCaptureStarted}},
		},
		Secrets: StaticSecrets{"crm": {secret}, "slow": {secret}},
		Logger:  logs.logger(),
	})
	ctx := context.Background()

	// A large webhook waits for an hour in the outbox, so the stream's file
	// is not compacted away under the messages refused below: refusing them
	// must erase their bytes by itself.
	big := testEvent("waiting", 1)
	big.Type, big.Reference = TypeCaptureStarted, strings.Repeat("r", 16<<10)
	publishAll(t, s, big)
	waitState(t, s, big.ID, "slow", StatePending, 10*time.Second)

	plant := []func(*Event){
		func(e *Event) { e.ID = canaryPAN },
		func(e *Event) { e.CaptureID = canaryPAN },
		func(e *Event) { e.CallID = "call-" + canaryPAN },
		func(e *Event) { e.Reference = canaryPAN },
		func(e *Event) { e.Currency = canaryPAN },
		func(e *Event) { e.Provider = canaryPAN },
		func(e *Event) { e.Outcome = canaryPAN },
		func(e *Event) { e.Reason = "card " + canaryPAN + " declined" },
		func(e *Event) { e.ProviderReference = canaryPAN },
		func(e *Event) { e.Token = "tok_" + canaryPAN },
		func(e *Event) { e.Brand = canaryPAN },
		func(e *Event) { e.Last4 = canaryPAN },
	}
	var errTexts []string
	for i, p := range plant {
		ev := testEvent("canary", i)
		p(&ev)
		err := s.Publish(ctx, ev)
		if err == nil {
			t.Fatalf("field %d: an event carrying a card number was accepted", i)
		}
		if !errors.Is(err, ErrCardData) && !errors.Is(err, ErrInvalidEvent) {
			t.Fatalf("field %d: %v", i, err)
		}
		errTexts = append(errTexts, err.Error())
	}

	// Defence in depth: a payload that reached the outbox some other way is
	// refused at send time and marked failed.
	if _, err := ob.Publish(ctx, outbox.Message{
		ID:     "smuggled.crm",
		Key:    "crm",
		Header: map[string]string{headerEventID: "smuggled", headerEventType: TypePaymentApproved, headerReplay: "0"},
		Data:   []byte(`{"type":"payment.approved","data":{"pan":"` + canaryPAN + `"}}`),
	}); err != nil {
		t.Fatal(err)
	}
	// The same with the card number as the event id.
	if _, err := ob.Publish(ctx, outbox.Message{
		ID:     "smuggled-id.crm",
		Key:    "crm",
		Header: map[string]string{headerEventID: canaryPAN, headerEventType: canaryPAN, headerReplay: "0"},
		Data:   []byte(`{}`),
	}); err != nil {
		t.Fatal(err)
	}

	var evs []Event
	for i := range 5 {
		ev := testEvent("clean", i)
		ev.Last4 = canaryPAN[len(canaryPAN)-4:]
		ev.Brand = "visa"
		evs = append(evs, ev)
	}
	publishAll(t, s, evs...)
	waitFor(t, 10*time.Second, "clean events", func() bool { return rc.delivered() == len(evs) })
	if d := delivery(t, s, big.ID, "slow"); d.State != StatePending || d.Attempts != 1 {
		t.Fatalf("the waiting webhook: %+v", d)
	}
	d := waitState(t, s, "smuggled", "crm", StateFailed, 10*time.Second)
	if d.Attempts != 0 || d.LastError != ErrCardData.Error() {
		t.Fatalf("smuggled payload: %+v", d)
	}
	waitFor(t, 10*time.Second, "only the waiting webhook left", func() bool { n, err := ob.Pending(ctx); return err == nil && n == 1 })

	hits, _, _ := rc.snapshot()
	for _, h := range hits {
		if h.Path == "/slow" {
			continue
		}
		for _, v := range []string{string(h.Body), h.ID, strings.Join(flatten(h.Header), " ")} {
			if strings.Contains(v, canaryPAN) {
				t.Fatalf("card number in a request to the CRM: %s", v)
			}
		}
		if !strings.Contains(string(h.Body), `"last4":"5556"`) {
			t.Fatalf("last four missing from %s", h.Body)
		}
	}
	if !containsCard([]byte(`{"body":"` + base64.StdEncoding.EncodeToString([]byte(`x{"pan":"`+canaryPAN+`"}`)) + `"}`)) {
		t.Fatal("containsCard misses a base64-encoded card number")
	}
	for _, e := range errTexts {
		if strings.Contains(e, canaryPAN) {
			t.Fatalf("card number in an error: %s", e)
		}
	}
	ds, err := s.Deliveries(ctx, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 2+len(evs) {
		t.Fatalf("%d delivery records, want %d", len(ds), 2+len(evs))
	}
	recs, _ := json.Marshal(ds)
	if containsCard(recs) {
		t.Fatalf("card number in the delivery records")
	}
	if logs.String() == "" {
		t.Fatal("no log lines captured")
	}
	if containsCard([]byte(logs.String())) {
		t.Fatalf("card number in the logs")
	}

	// The smuggled messages were in the outbox's files while they waited;
	// once refused they must not stay readable on disk, plain or in base64.
	s.Close()
	ob.Close()
	err = filepath.WalkDir(dir, func(path string, de fs.DirEntry, err error) error {
		if err != nil || de.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if containsCard(b) {
			t.Errorf("card number on disk in %s", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// containsCard reports whether b holds the canary card number, as text or
// inside base64 at any alignment.
func containsCard(b []byte) bool {
	if strings.Contains(string(b), canaryPAN) {
		return true
	}
	for pad := range 3 {
		enc := base64.StdEncoding.EncodeToString(append(make([]byte, pad), canaryPAN...))
		// Drop the characters that mix in padding bytes, and the last, partial group.
		core := enc[(pad*4+2)/3 : len(enc)-4]
		if strings.Contains(string(b), core) {
			return true
		}
	}
	return false
}

func flatten(h map[string][]string) []string {
	var out []string
	for k, vs := range h {
		out = append(out, k+": "+strings.Join(vs, ","))
	}
	return out
}
