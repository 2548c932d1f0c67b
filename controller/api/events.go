package api

import (
	"bufio"
	"fmt"
	"net/http"
	"time"

	"github.com/tonewall/tonewall/controller/call"
	"github.com/tonewall/tonewall/controller/stream"
)

// writeTimeout bounds each write to an event stream: a client that stops
// reading is cut off rather than holding the handler forever.
const writeTimeout = 30 * time.Second

// callEvents streams a call's progress: GET /v1/calls/{call_id}/events.
func (s *Server) callEvents(w http.ResponseWriter, r *http.Request) {
	callID := r.PathValue("call_id")
	if err := s.allowCall(r, callID); err != nil {
		s.fail(w, r, err)
		return
	}
	if _, err := s.Captures.Call(callID); err != nil && len(s.Captures.Captures(callID)) == 0 {
		s.fail(w, r, err)
		return
	}
	s.serveEvents(w, r, stream.Filter{CallID: callID})
}

// captureEvents streams one capture's progress (and its call's own
// events): GET /v1/captures/{id}/events.
func (s *Server) captureEvents(w http.ResponseWriter, r *http.Request) {
	v, err := s.capture(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.serveEvents(w, r, stream.Filter{CallID: v.CallID, CaptureID: v.ID})
}

// snapshot reads the current state for a stream.
func (s *Server) snapshot(f stream.Filter) (stream.Message, error) {
	snap := stream.Snapshot{CallID: f.CallID, Call: stream.CallStatus{ID: f.CallID}}
	if c, err := s.Captures.Call(f.CallID); err == nil {
		snap.Call = stream.CallStatus{ID: c.ID, Live: true, Bridged: c.Bridged, CaptureID: c.Capture}
	}
	if f.CaptureID != "" {
		v, err := s.Captures.Capture(f.CaptureID)
		if err != nil {
			return stream.Message{}, err
		}
		snap.Captures = []call.CaptureView{v}
	} else {
		snap.Captures = s.Captures.Captures(f.CallID)
	}
	return stream.EncodeSnapshot(snap)
}

// serveEvents writes the server-sent event stream: a snapshot first
// (unless Last-Event-ID resumes without a gap), then each event as
// "id:", "event:" and "data:" lines, with a comment every Heartbeat.
func (s *Server) serveEvents(w http.ResponseWriter, r *http.Request, f stream.Filter) {
	if s.Events == nil {
		s.fail(w, r, fmt.Errorf("%w: no progress hub", errNotConfigured))
		return
	}
	rc := http.NewResponseController(w)
	sub, resumed := s.Events.Subscribe(f, r.Header.Get("Last-Event-ID"))
	defer sub.Close()

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriter(w)
	send := func(msgs ...stream.Message) error {
		_ = rc.SetWriteDeadline(time.Now().Add(writeTimeout))
		for _, m := range msgs {
			writeEvent(bw, m)
		}
		if err := bw.Flush(); err != nil {
			return err
		}
		return rc.Flush()
	}
	// fresh sends the current state; a snapshot that cannot be encoded
	// (the digit guard) is logged and left out.
	fresh := func() stream.Message {
		m, err := s.snapshot(f)
		if err != nil {
			s.log.ErrorContext(r.Context(), "snapshot withheld", "call", f.CallID, "capture", f.CaptureID, "err", err)
			return stream.Message{}
		}
		return m
	}

	first := []stream.Message{{Type: "retry"}}
	if !resumed {
		first = append(first, fresh())
	}
	if err := send(first...); err != nil {
		return
	}
	tick := time.NewTicker(s.Heartbeat)
	defer tick.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-s.quit:
			return
		case <-tick.C:
			if err := send(stream.Message{Type: "heartbeat"}); err != nil {
				return
			}
		case <-sub.Ready():
			var out []stream.Message
			for _, m := range sub.Take() {
				out = append(out, m)
				if m.Type == stream.TypeDropped {
					out = append(out, fresh())
				}
			}
			if err := send(out...); err != nil {
				s.log.DebugContext(r.Context(), "event stream ended", "call", f.CallID, "err", err)
				return
			}
		}
	}
}

// writeEvent writes one message in the text/event-stream format. Data is
// one line of JSON, so it needs one data: line.
func writeEvent(w *bufio.Writer, m stream.Message) {
	switch m.Type {
	case "":
		return // a withheld snapshot
	case "retry":
		w.WriteString("retry: 3000\n\n")
		return
	case "heartbeat":
		w.WriteString(": heartbeat\n\n")
		return
	}
	if m.ID != "" {
		w.WriteString("id: " + m.ID + "\n")
	}
	w.WriteString("event: " + m.Type + "\n")
	w.WriteString("data: ")
	w.Write(m.Data)
	w.WriteString("\n\n")
}
