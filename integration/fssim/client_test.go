package fssim

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// testTimeout bounds every wait in these tests.
const testTimeout = 5 * time.Second

// newSwitch returns a Switch closed at the end of the test. Its log is quiet
// unless FSSIM_LOG is set.
func newSwitch(t testing.TB) *Switch {
	t.Helper()
	var log *slog.Logger
	if os.Getenv("FSSIM_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	s := New(Options{Logger: log, Hostname: "vm"})
	t.Cleanup(func() { s.Close() })
	return s
}

// received is one frame the test controller got from the switch.
type received struct {
	frame
	raw []byte
}

// contentType returns the frame's Content-Type.
func (r received) contentType() string { return r.get("Content-Type") }

// eventName returns the Event-Name of a plain event body cheaply.
func eventName(body []byte) string {
	line, _, _ := strings.Cut(string(body), "\n")
	return strings.TrimPrefix(line, "Event-Name: ")
}

// event returns the decoded headers of a plain event body.
func (r received) event() map[string]string {
	hs, _ := splitPlain(string(r.body))
	m := make(map[string]string, len(hs))
	for _, h := range hs {
		if _, dup := m[h.name]; !dup {
			m[h.name] = h.value
		}
	}
	return m
}

// controller is a minimal test controller: it owns the listener the switch
// dials, and separates replies from events as they arrive.
type controller struct {
	t    testing.TB
	conn net.Conn

	mu      sync.Mutex
	replies []received
	events  []received
	notices []received
	order   []string // "reply", "notice" or the event name, in arrival order
	closed  bool
	changed chan struct{}
}

// dial places a call from sw to a fresh test controller and returns both.
func dial(t testing.TB, sw *Switch, o CallOptions) (*Call, *controller) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	defer ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	type accepted struct {
		conn net.Conn
		err  error
	}
	ch := make(chan accepted, 1)
	go func() {
		c, err := ln.Accept()
		ch <- accepted{c, err}
	}()
	call, err := sw.Dial(ctx, ln.Addr().String(), o)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	a := <-ch
	if a.err != nil {
		t.Fatalf("accept: %v", a.err)
	}
	ctl := &controller{t: t, conn: a.conn, changed: make(chan struct{})}
	done := make(chan struct{})
	go func() {
		defer close(done)
		ctl.read()
	}()
	t.Cleanup(func() {
		a.conn.Close()
		<-done
	})
	return call, ctl
}

// read parses frames from the switch until the connection closes.
func (c *controller) read() {
	var buf []byte
	chunk := make([]byte, 4096)
	for {
		for {
			f, n, err := parseFrame(buf, false)
			if err != nil {
				c.t.Errorf("switch sent a bad frame: %v", err)
				c.finish()
				return
			}
			if n == 0 {
				break
			}
			r := received{frame: f, raw: append([]byte(nil), buf[:n]...)}
			buf = buf[n:]
			c.mu.Lock()
			switch ct := r.contentType(); {
			case strings.HasPrefix(ct, "text/event-"):
				c.events = append(c.events, r)
				c.order = append(c.order, eventName(r.body))
			case ct == "text/disconnect-notice":
				c.notices = append(c.notices, r)
				c.order = append(c.order, "notice")
			default:
				c.replies = append(c.replies, r)
				c.order = append(c.order, "reply")
			}
			c.wake()
			c.mu.Unlock()
		}
		n, err := c.conn.Read(chunk)
		buf = append(buf, chunk[:n]...)
		if err != nil {
			c.finish()
			return
		}
	}
}

func (c *controller) finish() {
	c.mu.Lock()
	c.closed = true
	c.wake()
	c.mu.Unlock()
}

// wake signals waiters; the caller holds c.mu.
func (c *controller) wake() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// waitFor polls cond (under c.mu) until it holds or the deadline passes.
func (c *controller) waitFor(what string, cond func() bool) {
	c.t.Helper()
	deadline := time.NewTimer(testTimeout)
	defer deadline.Stop()
	for {
		c.mu.Lock()
		ok := cond()
		ch := c.changed
		closed := c.closed
		c.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-deadline.C:
			c.t.Fatalf("timed out waiting for %s (connection closed: %v)", what, closed)
		}
		if closed {
			c.mu.Lock()
			ok = cond()
			c.mu.Unlock()
			if !ok {
				c.t.Fatalf("connection closed while waiting for %s", what)
			}
			return
		}
	}
}

// send writes raw bytes to the switch.
func (c *controller) send(raw string) {
	c.t.Helper()
	if _, err := io.WriteString(c.conn, raw); err != nil {
		c.t.Fatalf("write %q: %v", commandName(raw), err)
	}
}

// cmd sends one command (terminated by a blank line) and returns its reply.
func (c *controller) cmd(line string) received {
	c.t.Helper()
	c.mu.Lock()
	n := len(c.replies)
	c.mu.Unlock()
	c.send(line + "\n\n")
	var r received
	c.waitFor("reply to "+commandName(line), func() bool {
		if len(c.replies) > n {
			r = c.replies[n]
			return true
		}
		return false
	})
	return r
}

// text returns the reply's Reply-Text or api/response body.
func (r received) text() string {
	if r.contentType() == "api/response" {
		return string(r.body)
	}
	return r.get("Reply-Text")
}

// waitEvent waits for the first event with that name (from index from on)
// that satisfies match, and returns it.
func (c *controller) waitEvent(name string, match func(map[string]string) bool) received {
	c.t.Helper()
	var got received
	c.waitFor("event "+name, func() bool {
		for _, e := range c.events {
			h := e.event()
			if h["Event-Name"] == name && (match == nil || match(h)) {
				got = e
				return true
			}
		}
		return false
	})
	return got
}

// eventsNamed returns the events received so far with that name.
func (c *controller) eventsNamed(name string) []map[string]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []map[string]string
	for _, e := range c.events {
		if h := e.event(); h["Event-Name"] == name {
			out = append(out, h)
		}
	}
	return out
}

// waitNotice waits for the n-th disconnect notice (0-based).
func (c *controller) waitNotice(n int) received {
	c.t.Helper()
	var got received
	c.waitFor("disconnect notice", func() bool {
		if len(c.notices) > n {
			got = c.notices[n]
			return true
		}
		return false
	})
	return got
}

// waitClosed waits until the switch closes the connection.
func (c *controller) waitClosed() {
	c.t.Helper()
	c.waitFor("connection close", func() bool { return c.closed })
}

// setup runs the controller's usual opening: connect, linger, plain events
// filtered to A and to a pre-chosen B, in-band detection, bridge. It returns
// B's uuid once CHANNEL_BRIDGE has arrived.
func (c *controller) setup(call *Call) string {
	c.t.Helper()
	c.cmd("connect")
	c.cmd("linger")
	c.cmd("event plain DTMF CHANNEL_EXECUTE_COMPLETE CHANNEL_HANGUP_COMPLETE CHANNEL_BRIDGE CHANNEL_UNBRIDGE BACKGROUND_JOB")
	b := newUUID()
	c.cmd("filter Unique-ID " + call.A())
	c.cmd("filter Unique-ID " + b)
	c.execute("spandsp_start_dtmf", "")
	c.execute("bridge", "{origination_uuid="+b+",absolute_codec_string=PCMU}sofia/internal/7200@127.0.0.1:5060")
	c.waitEvent("CHANNEL_BRIDGE", nil)
	return b
}

// execute sends `sendmsg` executing app on leg A and checks the +OK.
func (c *controller) execute(app, arg string) {
	c.t.Helper()
	msg := "sendmsg\ncall-command: execute\nexecute-app-name: " + app
	if arg != "" {
		msg += "\nexecute-app-arg: " + arg
	}
	if r := c.cmd(msg + "\nevent-lock: true"); r.text() != "+OK" {
		c.t.Fatalf("sendmsg %s: %q", app, r.text())
	}
}

// executeWait executes app on leg A and waits for its
// CHANNEL_EXECUTE_COMPLETE (the controller must be subscribed to it).
func (c *controller) executeWait(app, arg string) {
	c.t.Helper()
	id := newUUID()
	msg := "sendmsg\ncall-command: execute\nexecute-app-name: " + app + "\nEvent-UUID: " + id
	if arg != "" {
		msg += "\nexecute-app-arg: " + arg
	}
	if r := c.cmd(msg); r.text() != "+OK" {
		c.t.Fatalf("sendmsg %s: %q", app, r.text())
	}
	c.waitEvent("CHANNEL_EXECUTE_COMPLETE", func(h map[string]string) bool { return h["Application-UUID"] == id })
}

// api sends `api <cmd>` and returns the response body.
func (c *controller) api(cmd string) string {
	c.t.Helper()
	return c.cmd("api " + cmd).text()
}

// mustAPI sends an api command and fails the test unless it succeeds.
func (c *controller) mustAPI(cmd string) {
	c.t.Helper()
	if r := c.api(cmd); !strings.HasPrefix(r, "+OK") {
		c.t.Fatalf("api %s: %q", commandName("api "+cmd), r)
	}
}

// arm runs the masking sequence in the verified order.
func (c *controller) arm(a, b, recPath string, mux bool) {
	c.t.Helper()
	c.mustAPI("uuid_drop_dtmf " + b + " on mask_digits none")
	c.mustAPI("uuid_audio " + a + " start read mute 1")
	flag := " 0 m"
	if !mux {
		flag = " 0"
	}
	c.mustAPI("uuid_displace " + b + " start " + flatTone + flag)
	if recPath != "" {
		c.mustAPI("uuid_record " + a + " mask " + recPath)
	}
}

// disarm undoes arm in reverse order.
func (c *controller) disarm(a, b, recPath string) {
	c.t.Helper()
	if recPath != "" {
		c.mustAPI("uuid_record " + a + " unmask " + recPath)
	}
	c.mustAPI("uuid_displace " + b + " stop " + flatTone)
	c.mustAPI("uuid_audio " + a + " stop")
	c.mustAPI("uuid_drop_dtmf " + b + " off mask_digits none")
}

const flatTone = "tone_stream://%(300,700,440);loops=-1"

// press presses each digit of s and returns the key presses.
func press(t testing.TB, call *Call, s string, mode DTMFMode) []KeyPress {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	var out []KeyPress
	for i := 0; i < len(s); i++ {
		kp, err := call.Press(ctx, s[i], mode)
		if err != nil {
			t.Fatalf("Press: %v", err)
		}
		out = append(out, kp)
	}
	return out
}

// waitDone waits until the call's socket has closed.
func waitDone(t testing.TB, call *Call) {
	t.Helper()
	select {
	case <-call.Done():
	case <-time.After(testTimeout):
		t.Fatal("socket did not close")
	}
}

// waitCalls polls until the switch has n live calls.
func waitCalls(t testing.TB, sw *Switch, n int) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for sw.Calls() != n {
		if time.Now().After(deadline) {
			t.Fatalf("Calls() = %d, want %d", sw.Calls(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
