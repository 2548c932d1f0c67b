package call

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/tonewall/tonewall/controller/capture"
	"github.com/tonewall/tonewall/controller/esl"
	"github.com/tonewall/tonewall/controller/media"
)

// The events a call subscribes to. Plain format only: the client library
// does not parse the others.
const subscribedEvents = "event plain DTMF CHANNEL_EXECUTE_COMPLETE CHANNEL_HANGUP_COMPLETE CHANNEL_BRIDGE CHANNEL_UNBRIDGE BACKGROUND_JOB"

// agentGoneGrace is how long a capture outlives the agent leg's hang-up
// before it is cancelled, so that a caller's hang-up reported just after is
// recorded as the caller's.
const agentGoneGrace = 500 * time.Millisecond

// Call is one live call: the customer leg A controlled by the session, and
// the agent leg B the controller bridged it to.
type Call struct {
	m       *Manager
	s       *esl.Session
	log     *slog.Logger
	id      string // A's uuid; the call's id in the API
	agent   string // B's uuid, chosen up front
	dest    string
	recPath string
	lang    string
	agentID string
	caller  string
	started time.Time

	reqs   chan request
	timers chan capture.TimerFired

	// Owned by the run loop.
	bridged    bool
	eng        *capture.Engine
	rec        *record
	armed      []media.Step // masking steps applied, in order
	prompt     string       // file playing to the customer
	timerFor   map[capture.Timer]*time.Timer
	spandspApp string

	viewMu     sync.Mutex
	bridgedPub bool
	captureID  string
}

type request struct {
	fn    func(*Call) (CaptureView, error)
	reply chan result
}

type result struct {
	v   CaptureView
	err error
}

func newCall(m *Manager, s *esl.Session) *Call {
	d := s.ChannelData()
	return &Call{
		m:        m,
		s:        s,
		log:      m.log.With("call", d.UniqueID),
		id:       d.UniqueID,
		agent:    uuid.NewString(),
		dest:     d.Get("Variable_" + m.opts.AgentVariable),
		recPath:  d.Get("Variable_" + m.opts.RecordVariable),
		lang:     d.Get("Variable_" + DefaultLangVariable),
		agentID:  d.Get("Variable_" + DefaultAgentIDVariable),
		caller:   d.Get("Caller-Caller-Id-Number"),
		started:  m.opts.Now(),
		reqs:     make(chan request),
		timers:   make(chan capture.TimerFired, 4),
		timerFor: make(map[capture.Timer]*time.Timer),
	}
}

// setup runs the call's opening sequence: linger, events filtered to both
// legs, in-band detection on A (before anything can mute it), and the bridge
// to the agent with B's uuid chosen up front.
func (c *Call) setup(ctx context.Context) error {
	if c.dest == "" {
		return fmt.Errorf("channel variable %s is not set: no agent to bridge to", c.m.opts.AgentVariable)
	}
	if strings.ContainsAny(c.dest, "\n\r") {
		return fmt.Errorf("channel variable %s holds a line break", c.m.opts.AgentVariable)
	}
	ctx, cancel := context.WithTimeout(ctx, c.m.opts.SetupTimeout)
	defer cancel()
	if err := c.s.Linger(ctx, c.m.opts.Linger); err != nil {
		return err
	}
	for _, cmd := range []string{
		subscribedEvents,
		"filter Unique-ID " + c.id,
		"filter Unique-ID " + c.agent,
	} {
		if _, err := c.s.Command(ctx, cmd); err != nil {
			return err
		}
	}
	app, err := c.s.Execute(ctx, "spandsp_start_dtmf", "", true)
	if err != nil {
		return err
	}
	c.spandspApp = app
	dial := fmt.Sprintf("{origination_uuid=%s}%s", c.agent, c.dest)
	if _, err := c.s.Execute(ctx, "bridge", dial, false); err != nil {
		return err
	}
	c.m.publish(Event{Type: EventCallStarted, CallID: c.id})
	c.log.Info("call set up", "agent_leg", c.agent)
	return nil
}

// run is the call's loop: events from the switch, requests from the API,
// and timer fires, one at a time.
func (c *Call) run(ctx context.Context) {
	defer c.stopTimers()
	defer c.m.publish(Event{Type: EventCallEnded, CallID: c.id})
	held := time.NewTimer(time.Hour) // fires when a held event is due
	held.Stop()
	defer held.Stop()
	var evs []esl.Event
	for {
		select {
		case <-c.s.Ready():
		case <-held.C:
		case r := <-c.reqs:
			v, err := r.fn(c)
			r.reply <- result{v, err}
			continue
		case tf := <-c.timers:
			c.step(tf)
			continue
		case <-c.s.Done():
			evs, _, _ = c.s.Take(evs[:0]) // everything still held
			for _, ev := range evs {
				if c.handleEvent(ev) {
					return
				}
			}
			c.hangup("connection closed")
			return
		case <-ctx.Done():
			c.hangup("controller stopping")
			return
		}
		var next time.Time
		var pending bool
		evs, next, pending = c.s.Take(evs[:0])
		for i, ev := range evs {
			evs[i] = esl.Event{}
			if c.handleEvent(ev) {
				return
			}
		}
		if pending {
			held.Reset(time.Until(next))
		}
		evs = evs[:0]
		if cap(evs) > 8 {
			evs = nil // an idle call keeps no buffer
		}
	}
}

// do runs fn on the call's loop and waits for its answer.
func (c *Call) do(ctx context.Context, fn func(*Call) (CaptureView, error)) (CaptureView, error) {
	r := request{fn: fn, reply: make(chan result, 1)}
	select {
	case c.reqs <- r:
	case <-c.s.Done():
		return CaptureView{}, fmt.Errorf("call %s: %w", c.id, ErrCallEnded)
	case <-ctx.Done():
		return CaptureView{}, ctx.Err()
	}
	select {
	case res := <-r.reply:
		return res.v, res.err
	case <-ctx.Done():
		return CaptureView{}, ctx.Err()
	}
}

// handleEvent reacts to one event; it reports whether the call is over.
func (c *Call) handleEvent(ev esl.Event) bool {
	switch ev.Name {
	case "DTMF":
		if ev.UniqueID != c.id || c.eng == nil {
			return false // the agent's keypad, or no capture running
		}
		d := ev.Get("Dtmf-Digit")
		if len(d) != 1 {
			c.log.Warn("DTMF event without a single digit", "event", ev.String())
			return false
		}
		c.step(capture.Digit{Digit: d[0], Source: source(ev.Get("Dtmf-Source")), At: ev.Timestamp})
	case "CHANNEL_BRIDGE":
		if ev.UniqueID == c.id || ev.UniqueID == c.agent {
			c.bridged = true
			c.viewMu.Lock()
			c.bridgedPub = true
			c.viewMu.Unlock()
			c.m.publish(Event{Type: EventCallBridged, CallID: c.id})
		}
	case "CHANNEL_UNBRIDGE":
		c.bridged = false
	case "CHANNEL_HANGUP_COMPLETE":
		switch ev.UniqueID {
		case c.id:
			c.hangup("caller hung up")
			return true
		case c.agent:
			c.bridged = false
			if c.eng != nil {
				// When the caller hangs up, the agent leg's hang-up may come
				// first: give the caller's a moment before calling it the
				// agent's.
				id := c.rec.id
				time.AfterFunc(agentGoneGrace, func() {
					ctx, cancel := context.WithTimeout(context.Background(), c.m.opts.SetupTimeout)
					defer cancel()
					_, _ = c.do(ctx, func(c *Call) (CaptureView, error) {
						if c.rec == nil || c.rec.id != id {
							return CaptureView{}, nil
						}
						c.log.Info("agent leg hung up during a capture: cancelling it", "capture", id)
						return c.command(id, capture.Cancel{})
					})
				})
			}
		}
	case "CHANNEL_EXECUTE_COMPLETE":
		if ev.Get("Application-Uuid") == c.spandspApp && ev.Get("Application-Response") != "" &&
			strings.HasPrefix(ev.Get("Application-Response"), "-ERR") {
			c.log.Error("in-band DTMF detection did not start", "response", ev.Get("Application-Response"))
		}
	}
	return false
}

func source(s string) capture.Source {
	switch s {
	case "INBAND_AUDIO":
		return capture.SourceInband
	case "RTP":
		return capture.SourceRTP
	default:
		return capture.SourceOther
	}
}

// startCapture runs on the loop.
func (c *Call) startCapture(req CaptureRequest) (CaptureView, error) {
	if c.eng != nil {
		return CaptureView{}, fmt.Errorf("call %s: %w", c.id, ErrCaptureActive)
	}
	if !c.bridged {
		return CaptureView{}, fmt.Errorf("call %s: %w", c.id, ErrCallNotReady)
	}
	cfg := c.m.opts.Capture
	if len(req.Fields) > 0 {
		cfg.Fields = req.Fields
	}
	eng, err := capture.New(cfg)
	if err != nil {
		return CaptureView{}, fmt.Errorf("%w: %v", ErrInvalidRequest, err)
	}
	snap := eng.Snapshot()
	fields := make([]capture.Field, 0, len(snap.Fields))
	for _, f := range snap.Fields {
		fields = append(fields, f.Field)
	}
	c.eng = eng
	c.rec = c.m.newRecord(c.id, req, fields)
	c.viewMu.Lock()
	c.captureID = c.rec.id
	c.viewMu.Unlock()
	c.log.Info("capture starting", "capture", c.rec.id, "reference", req.Reference)
	c.step(capture.Start{Today: c.m.opts.Now()})
	if c.rec == nil {
		// finished during start (arming failed); the record is still stored
		return CaptureView{}, fmt.Errorf("call %s: %w", c.id, ErrMaskingFailed)
	}
	return c.rec.view(), nil
}

// command applies an agent command to the capture id, on the loop.
func (c *Call) command(id string, in capture.Input) (CaptureView, error) {
	if c.rec == nil || c.rec.id != id {
		if r := c.lookup(id); r != nil {
			return r.view(), fmt.Errorf("capture %s: %w", id, ErrCaptureFinished)
		}
		return CaptureView{}, fmt.Errorf("capture %s: %w", id, ErrCaptureNotFound)
	}
	rec := c.rec
	c.step(in)
	return rec.view(), nil
}

func (c *Call) lookup(id string) *record {
	c.m.mu.Lock()
	defer c.m.mu.Unlock()
	return c.m.captures[id]
}

// hangup ends any capture as caller-hung-up.
func (c *Call) hangup(why string) {
	c.log.Info("call ended", "why", why)
	if c.eng != nil {
		c.step(capture.HangUp{})
	}
}

func (c *Call) view() CallView {
	c.viewMu.Lock()
	defer c.viewMu.Unlock()
	return CallView{
		ID:        c.id,
		AgentLeg:  c.agent,
		Bridged:   c.bridgedPub,
		Caller:    c.caller,
		AgentID:   c.agentID,
		Capture:   c.captureID,
		StartedAt: c.started,
	}
}

// errorsIsDisplaceNotRunning reports FreeSWITCH's answer to stopping a
// displace that already ended (a prompt that finished playing).
func errorsIsDisplaceNotRunning(err error) bool {
	var ce *esl.CommandError
	return errors.As(err, &ce) && strings.Contains(ce.Reply, "Cannot stop displace session")
}
