package fssim

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sort"
	"strings"
	"sync"
	"time"
)

// CallOptions describes one simulated customer call.
type CallOptions struct {
	// NotFull connects as `socket addr async` without `full`: api, bgapi,
	// event, linger and the other privileged commands are refused.
	NotFull bool
	// Variables are channel variables of leg A, set by the dialplan before the
	// socket application (variable_<name> in the connect reply).
	Variables map[string]string
	// Recording, if set, means leg A is already being recorded to this path,
	// as record_session in the dialplan would do.
	Recording string
	// CallerNumber is the customer's caller id; default caller01.
	CallerNumber string
	// Faults are injected into the handling of the controller's commands.
	Faults []Fault

	// Destination is the number the customer dialled; default 7000.
	Destination string
	// AnswerDelay is how long the agent's phone rings before answering a
	// bridge; zero answers at once.
	AnswerDelay time.Duration
	// BridgeFailure, if set, makes every bridge fail with this hangup cause
	// (for example USER_BUSY or NO_ANSWER).
	BridgeFailure string
	// PromptDuration is how long a displaced prompt file plays before it ends
	// by itself; default 1 s. tone_stream with loops=-1 plays until stopped.
	PromptDuration time.Duration
}

// Fault changes how the switch handles a command from the controller.
type Fault struct {
	// Match is a prefix of the command as received (CRLF normalised to LF,
	// headers included), e.g. "api uuid_audio" or "sendmsg".
	Match string
	// Reply is sent instead of the normal reply, and the command is not
	// carried out (e.g. "-ERR boom"). Empty means the normal reply.
	Reply string
	// Delay is waited before the command is handled.
	Delay time.Duration
	// Drop closes the connection instead of handling the command.
	Drop bool
	// Times is how many times the fault fires; 0 means always.
	Times int
}

// Call is one simulated customer call: leg A, controlled by the controller
// over one outbound Event Socket connection, and, once bridged, leg B to the
// agent. All methods are safe for concurrent use.
type Call struct {
	sw      *Switch
	log     *slog.Logger
	conn    net.Conn
	opts    CallOptions
	full    bool
	done    chan struct{} // closed when the socket has closed and the call state settled
	closing chan struct{} // closed as soon as the socket is closed

	mu           sync.Mutex
	a, b         *leg
	bridged      bool
	bridgedCh    chan struct{} // closed at the first bridge
	bridgeUUID   string        // Application-UUID of the running bridge app
	bridgeArg    string
	bridgeFilter bool
	faults       []Fault
	commands     []string
	cmdSignal    chan struct{} // closed and replaced at every command
	presses      []KeyPress
	prompts      []string
	lingerOn     bool
	lingerSecs   int // -1: forever
	lingerTimer  *time.Timer
	answerTimer  *time.Timer
	sockOpen     bool
	finished     bool

	wmu     sync.Mutex // guards writes and the listener; never held while taking another lock
	wclosed bool
	lst     listener
}

func newCall(s *Switch, conn net.Conn, addr string, o CallOptions) *Call {
	if o.CallerNumber == "" {
		o.CallerNumber = DefaultCallerNumber
	}
	if o.Destination == "" {
		o.Destination = DefaultDestination
	}
	if o.PromptDuration <= 0 {
		o.PromptDuration = DefaultPromptDuration
	}
	c := &Call{
		sw:        s,
		conn:      conn,
		opts:      o,
		full:      !o.NotFull,
		done:      make(chan struct{}),
		closing:   make(chan struct{}),
		bridgedCh: make(chan struct{}),
		cmdSignal: make(chan struct{}),
		sockOpen:  true,
		faults:    append([]Fault(nil), o.Faults...),
		lst:       listener{format: "plain"},
	}
	now := micros(time.Now())
	a := &leg{call: c, uuid: newUUID(), isA: true, tmpl: varsA, username: o.CallerNumber, dest: o.Destination, created: now}
	sockData := addr + " async"
	if c.full {
		sockData += " full"
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	a.ph = [numPlaceholders]string{
		phUUID: a.uuid, phCaller: o.CallerNumber, phDest: o.Destination,
		phSession: randNumber(100, 1000), phCallID: newUUID(), phStamp: fmt.Sprint(now),
		phFromTag: randToken(13), phBranch: randToken(16), phSSRC: randNumber(1e8, 2e9),
		phLocalPort: randPort(), phRemotePort: randPort(),
		phSockData: sockData, phSockHost: host,
		phChan: "sofia/internal/" + o.CallerNumber + "@127.0.0.1",
	}
	names := make([]string, 0, len(o.Variables))
	for k := range o.Variables {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		a.setVar(k, o.Variables[k], false)
	}
	if o.Recording != "" {
		a.media.recordings = append(a.media.recordings, &recording{path: o.Recording})
		a.media.nextPos()
	}
	c.a = a
	c.log = s.log.With("call", a.uuid)
	return c
}

// A returns the uuid of leg A, the customer's leg.
func (c *Call) A() string { return c.a.uuid }

// B returns the uuid of leg B, the agent's leg; "" before the bridge.
func (c *Call) B() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.b == nil {
		return ""
	}
	return c.b.uuid
}

// Bridged reports whether A is bridged to an agent leg that is up.
func (c *Call) Bridged() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.peer() != nil
}

// Up reports whether the given leg is up.
func (c *Call) Up(l Leg) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if l == LegA {
		return c.a.state == legUp
	}
	return c.b != nil && c.b.state == legUp
}

// Var returns a channel variable of a leg (raw, as uuid_getvar would).
func (c *Call) Var(l Leg, name string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	lg := c.a
	if l == LegB {
		lg = c.b
	}
	if lg == nil {
		return "", false
	}
	return lg.getVar(name)
}

// WaitBridged waits until A has been bridged to the agent. It fails if the
// customer hangs up first or ctx ends.
func (c *Call) WaitBridged(ctx context.Context) error {
	for {
		c.mu.Lock()
		bridged, changed, up := c.bridgedCh, c.cmdSignal, c.a.state == legUp
		c.mu.Unlock()
		select {
		case <-bridged:
			return nil
		default:
		}
		if !up {
			return fmt.Errorf("fssim: waiting for the bridge: %w", ErrHungUp)
		}
		select {
		case <-bridged:
			return nil
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("fssim: waiting for the bridge: %w", ctx.Err())
		}
	}
}

// signal wakes every waiter. The caller holds c.mu.
func (c *Call) signal() {
	close(c.cmdSignal)
	c.cmdSignal = make(chan struct{})
}

// Commands returns every command received, in order, CRLF normalised to LF;
// sendmsg commands include their header lines.
func (c *Call) Commands() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.commands...)
}

// WaitCommand waits until a command starting with prefix has been received.
func (c *Call) WaitCommand(ctx context.Context, prefix string) error {
	for {
		c.mu.Lock()
		for _, cmd := range c.commands {
			if strings.HasPrefix(cmd, prefix) {
				c.mu.Unlock()
				return nil
			}
		}
		ch := c.cmdSignal
		c.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("fssim: waiting for command %q: %w", prefix, ctx.Err())
		}
	}
}

// AddFault adds a fault for the commands that arrive from now on.
func (c *Call) AddFault(f Fault) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.faults = append(c.faults, f)
}

// takeFault returns the first fault matching cmd and consumes one use of it.
func (c *Call) takeFault(cmd string) (Fault, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, f := range c.faults {
		if !strings.HasPrefix(cmd, f.Match) {
			continue
		}
		if f.Times > 0 {
			c.faults[i].Times--
			if c.faults[i].Times == 0 {
				c.faults = append(c.faults[:i], c.faults[i+1:]...)
			}
		}
		return f, true
	}
	return Fault{}, false
}

// Done returns a channel closed when the controller socket has closed, by
// either side.
func (c *Call) Done() <-chan struct{} { return c.done }

// Drop closes the controller socket abruptly from the switch side, with no
// disconnect notice. The call's legs and media state stay as they are.
func (c *Call) Drop() error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.markClosedLocked()
	return nil
}

// HangUp hangs up a leg as if that party put the phone down.
func (c *Call) HangUp(ctx context.Context, l Leg) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	lg := c.a
	if l == LegB {
		lg = c.b
	}
	if lg == nil || lg.state != legUp {
		return ErrHungUp
	}
	c.hangup(lg, "NORMAL_CLEARING")
	return nil
}

// hangup hangs up a leg and fires the events FreeSWITCH fires, in the order
// seen on the real switch. The caller holds c.mu.
func (c *Call) hangup(l *leg, cause string) {
	if l.state != legUp {
		return
	}
	if cause == "" {
		cause = "NORMAL_CLEARING"
	}
	if !l.isA {
		c.hangupB(cause)
		if v, _ := c.a.getVar("hangup_after_bridge"); isTrue(v) && c.a.state == legUp {
			c.hangupA(cause)
		}
		return
	}
	c.hangupA(cause)
}

// hangupB ends the agent leg: B's hang-up events, then A unbridges and its
// bridge application returns.
func (c *Call) hangupB(cause string) {
	b := c.b
	b.state, b.cause, b.hungup = legHangingUp, cause, micros(time.Now())
	c.fire(hangupEvent("CHANNEL_HANGUP", b))
	c.stopRecordings(b)
	b.state = legDown
	c.fire(hangupEvent("CHANNEL_HANGUP_COMPLETE", b))
	c.sw.unregister(b)
	if c.bridged {
		c.bridged = false
		c.a.setVar("bridge_hangup_cause", cause, false)
		e := channelEvent("CHANNEL_UNBRIDGE", c.a, true)
		e.pre = []header{{"Bridge-A-Unique-ID", c.a.uuid}, {"Bridge-B-Unique-ID", b.uuid}}
		c.fire(e)
		c.fire(executeEvent(c.a, true, "bridge", c.bridgeArg, c.bridgeUUID, "_none_"))
	}
	c.signal()
}

// hangupA ends the customer leg (and the agent leg with it) and tells the
// controller: a linger notice, the remaining events, or a disconnect.
func (c *Call) hangupA(cause string) {
	a := c.a
	if c.answerTimer != nil {
		c.answerTimer.Stop()
		c.answerTimer = nil
	}
	a.state, a.cause, a.hungup = legHangingUp, cause, micros(time.Now())
	a.setVar("hangup_cause", cause, false)
	c.fire(hangupEvent("CHANNEL_HANGUP", a))
	if !c.noticeHangup() {
		c.closeSocket(true)
	}
	if b := c.peer(); b != nil {
		b.state, b.cause, b.hungup = legHangingUp, cause, a.hungup
		c.stopRecordings(b)
		b.state = legDown
		c.fire(hangupEvent("CHANNEL_HANGUP_COMPLETE", b))
		c.sw.unregister(b)
		c.bridged = false
		e := channelEvent("CHANNEL_UNBRIDGE", a, true)
		e.pre = []header{{"Bridge-A-Unique-ID", a.uuid}, {"Bridge-B-Unique-ID", b.uuid}}
		c.fire(e)
		c.fire(executeEvent(a, true, "bridge", c.bridgeArg, c.bridgeUUID, "_none_"))
	}
	c.fire(executeEvent(a, true, "socket", a.ph[phSockData], newUUID(), "_none_"))
	c.stopRecordings(a)
	a.setVar("digits_dialed", "none", false)
	a.state = legDown
	c.fire(hangupEvent("CHANNEL_HANGUP_COMPLETE", a))
	c.sw.unregister(a)
	c.signal()
	c.maybeFinish()
}

// noticeHangup sends the linger notice if the controller asked to linger and
// reports whether it did; with a finite linger time it schedules the close.
func (c *Call) noticeHangup() bool {
	if !c.lingerOn {
		return false
	}
	c.wmu.Lock()
	if !c.wclosed {
		notice := "Content-Type: text/disconnect-notice\nControlled-Session-UUID: " + c.a.uuid +
			"\nContent-Disposition: linger\nChannel-Name: " + c.a.chanName() +
			"\nLinger-Time: " + fmt.Sprint(c.lingerSecs) + "\nContent-Length: 0\n\n"
		c.writeLocked([]byte(notice))
	}
	c.wmu.Unlock()
	if c.lingerSecs != -1 {
		c.lingerTimer = time.AfterFunc(time.Duration(max(c.lingerSecs, 0))*time.Second, func() { c.closeSocket(true) })
	}
	return true
}

func hangupEvent(name string, l *leg) *event {
	e := channelEvent(name, l, true)
	e.pre = []header{{"Hangup-Cause", l.cause}}
	return e
}

// stopRecordings fires RECORD_STOP for each recording of l and ends them.
func (c *Call) stopRecordings(l *leg) {
	for _, r := range l.media.recordings {
		e := channelEvent("RECORD_STOP", l, true)
		e.post = []header{{"Record-File-Path", r.path}, {"Record-Completion-Cause", "success-silence"}}
		c.fire(e)
	}
	l.media.recordings = nil
}

// shutdown hangs the call up and closes its socket; used by Switch.Close.
func (c *Call) shutdown() {
	c.mu.Lock()
	if c.a.state == legUp {
		c.hangupA("SYSTEM_SHUTDOWN")
	}
	c.mu.Unlock()
	c.closeSocket(false)
}

// maybeFinish removes the call from the switch once leg A is down and the
// socket closed. The caller holds c.mu.
func (c *Call) maybeFinish() {
	if c.finished || c.sockOpen || c.a.state == legUp {
		return
	}
	c.finished = true
	if c.lingerTimer != nil {
		c.lingerTimer.Stop()
	}
	if c.b != nil && c.b.state == legUp {
		c.hangupB("NORMAL_CLEARING")
	}
	c.sw.forget(c)
}

func isTrue(v string) bool {
	switch strings.ToLower(v) {
	case "true", "yes", "on", "1", "enabled", "active", "allow":
		return true
	}
	return false
}
