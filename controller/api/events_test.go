package api

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tonewall/tonewall/controller/call"
	"github.com/tonewall/tonewall/controller/stream"
)

// sseEvent is one parsed server-sent event (or comment).
type sseEvent struct {
	id, event, data, comment string
}

// sseClient reads a live event stream.
type sseClient struct {
	t    testing.TB
	resp *http.Response
	rd   *bufio.Reader
	evs  chan sseEvent
}

// openSSE connects to path on ts. header may set Last-Event-ID.
func openSSE(t testing.TB, ts *httptest.Server, path, token string, header map[string]string) *sseClient {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", ts.URL+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := ts.Client().Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	c := &sseClient{t: t, resp: resp, rd: bufio.NewReader(resp.Body), evs: make(chan sseEvent, 100)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(c.evs)
		var ev sseEvent
		for {
			line, err := c.rd.ReadString('\n')
			if err != nil {
				return
			}
			line = strings.TrimSuffix(line, "\n")
			switch {
			case line == "":
				if ev != (sseEvent{}) {
					c.evs <- ev
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, ":"):
				ev.comment = strings.TrimSpace(line[1:])
			default:
				k, v, _ := strings.Cut(line, ": ")
				switch k {
				case "id":
					ev.id = v
				case "event":
					ev.event = v
				case "data":
					ev.data += v
				}
			}
		}
	}()
	t.Cleanup(func() { cancel(); resp.Body.Close(); <-done })
	return c
}

// next returns the next event, skipping retry-only blocks.
func (c *sseClient) next() sseEvent {
	c.t.Helper()
	select {
	case ev, ok := <-c.evs:
		if !ok {
			c.t.Fatal("stream ended")
		}
		return ev
	case <-time.After(5 * time.Second):
		c.t.Fatal("no event within 5s")
	}
	return sseEvent{}
}

func (c *sseClient) nextEvent(typ string) sseEvent {
	c.t.Helper()
	for {
		if ev := c.next(); ev.event == typ {
			return ev
		}
	}
}

func newSSERig(t *testing.T, mutate func(*Server)) (*rig, *httptest.Server) {
	r := newRig(t, mutate)
	ts := httptest.NewServer(r.h)
	t.Cleanup(func() { r.srv.stopStreams(); ts.Close() })
	return r, ts
}

func TestCallEvents(t *testing.T) {
	r, ts := newSSERig(t, func(s *Server) { s.Heartbeat = 50 * time.Millisecond })
	c := openSSE(t, ts, "/v1/calls/call-X/events", r.agent("call-X"), nil)
	if ct := c.resp.Header.Get("Content-Type"); c.resp.StatusCode != 200 || ct != "text/event-stream" {
		t.Fatalf("status %d, content type %q", c.resp.StatusCode, ct)
	}
	snap := c.nextEvent(stream.TypeSnapshot)
	var s stream.Snapshot
	if err := json.Unmarshal([]byte(snap.data), &s); err != nil || !s.Call.Live || len(s.Captures) != 1 || s.Captures[0].ID != "cap-X" || s.Captures[0].Fields[0].Digits != 4 {
		t.Fatalf("snapshot %s (%v)", snap.data, err)
	}
	if snap.id != "" {
		t.Errorf("snapshot has id %q", snap.id)
	}
	r.hub.Observe(call.Event{Type: call.EventFieldDigit, CallID: "call-X", CaptureID: "cap-X", Field: "pan", Digits: 5})
	r.hub.Observe(call.Event{Type: call.EventFieldDigit, CallID: "call-Y", CaptureID: "cap-Y", Field: "pan", Digits: 1})
	r.hub.Observe(call.Event{Type: call.EventFieldValid, CallID: "call-X", CaptureID: "cap-X", Field: "pan", Digits: 16, Brand: "visa", Last4: "4242"})
	d := c.nextEvent(call.EventFieldDigit)
	v := c.nextEvent(call.EventFieldValid)
	if d.id == "" || v.id == "" || d.id == v.id {
		t.Errorf("ids %q, %q", d.id, v.id)
	}
	var p stream.Progress
	if err := json.Unmarshal([]byte(v.data), &p); err != nil || p.Last4 != "4242" || p.Result != "valid" || p.CallID != "call-X" {
		t.Errorf("field.valid data %s", v.data)
	}
	// Heartbeats keep the connection alive.
	for ev := c.next(); ev.comment != "heartbeat"; ev = c.next() {
		if ev.event != "" {
			t.Fatalf("event %s from call-Y or out of place", ev.event)
		}
	}

	// Reconnecting with Last-Event-ID replays what was missed, without a
	// snapshot.
	r.hub.Observe(call.Event{Type: call.EventFieldPrompted, CallID: "call-X", CaptureID: "cap-X", Field: "expiry"})
	c2 := openSSE(t, ts, "/v1/calls/call-X/events", apiKey, map[string]string{"Last-Event-ID": d.id})
	if ev := c2.next(); ev.event != call.EventFieldValid || ev.id != v.id {
		t.Errorf("first resumed event %+v, want the field.valid after %s", ev, d.id)
	}
	if ev := c2.next(); ev.event != call.EventFieldPrompted {
		t.Errorf("second resumed event %+v", ev)
	}
	// An unknown Last-Event-ID gets a snapshot.
	c3 := openSSE(t, ts, "/v1/calls/call-X/events", apiKey, map[string]string{"Last-Event-ID": "other-7"})
	if ev := c3.next(); ev.event != stream.TypeSnapshot {
		t.Errorf("unknown Last-Event-ID: first event %+v, want a snapshot", ev)
	}
}

func TestCaptureEventsWithQueryToken(t *testing.T) {
	r, ts := newSSERig(t, nil)
	tok := r.agent("call-X")
	c := openSSE(t, ts, "/v1/captures/cap-X/events?access_token="+tok, "", nil)
	if c.resp.StatusCode != 200 {
		t.Fatalf("status %d", c.resp.StatusCode)
	}
	snap := c.nextEvent(stream.TypeSnapshot)
	if !strings.Contains(snap.data, `"id":"cap-X"`) {
		t.Errorf("snapshot %s", snap.data)
	}
	r.hub.Observe(call.Event{Type: call.EventFieldDigit, CallID: "call-X", CaptureID: "other", Digits: 1})
	r.hub.Observe(call.Event{Type: call.EventCallEnded, CallID: "call-X"})
	if ev := c.next(); ev.event != call.EventCallEnded {
		t.Errorf("capture stream got %+v, want only its capture's and its call's events", ev)
	}
	if strings.Contains(r.logs.String(), tok) || strings.Contains(r.logs.String(), "access_token") {
		t.Errorf("the query token reached the log:\n%s", r.logs.String())
	}
	// The query token works only on the event streams, and only for its call.
	for _, path := range []string{"/v1/captures/cap-X?access_token=" + tok, "/v1/captures/cap-Y/events?access_token=" + tok} {
		resp, err := ts.Client().Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 401 && resp.StatusCode != 403 {
			t.Errorf("%s: %d", strings.Split(path, "?")[0], resp.StatusCode)
		}
	}
	if strings.Contains(r.logs.String(), tok) {
		t.Error("the query token reached the log")
	}
}

func TestEventsDroppedGetsSnapshot(t *testing.T) {
	r, ts := newSSERig(t, nil)
	c := openSSE(t, ts, "/v1/captures/cap-X/events", apiKey, nil)
	c.nextEvent(stream.TypeSnapshot)
	// An event the digit guard withholds is a loss for the subscriber: it
	// gets a dropped marker and then a fresh snapshot, and never the data.
	r.hub.Observe(call.Event{Type: call.EventFieldInvalid, CallID: "call-X", CaptureID: "cap-X", Reason: "4242424242424242"})
	ev := c.next()
	if ev.event != stream.TypeDropped || ev.id != "" || ev.data != `{"missed":1}` {
		t.Fatalf("after a withheld event: %+v, want a dropped marker", ev)
	}
	if next := c.next(); next.event != stream.TypeSnapshot || !strings.Contains(next.data, "cap-X") {
		t.Errorf("after dropped: %+v, want a snapshot", next)
	}
	r.hub.Observe(call.Event{Type: call.EventFieldDigit, CallID: "call-X", CaptureID: "cap-X", Digits: 5})
	if next := c.next(); next.event != call.EventFieldDigit {
		t.Errorf("stream did not go on: %+v", next)
	}
}

func TestStreamsEndOnClose(t *testing.T) {
	r := newRig(t, nil)
	r.srv.Addr = "127.0.0.1:0"
	if err := r.srv.Open(); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(r.srv.URL() + "/v1/calls/call-X/events?access_token=" + apiKey)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := r.srv.Close(ctx); err != nil {
		t.Errorf("Close with a stream open: %v", err)
	}
	if err := r.srv.Close(ctx); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
