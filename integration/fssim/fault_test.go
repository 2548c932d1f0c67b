package fssim

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestFaultDelay(t *testing.T) {
	sw := newSwitch(t)
	call, ctl := dial(t, sw, CallOptions{Faults: []Fault{{Match: "api uuid_audio", Delay: 150 * time.Millisecond}}})
	ctl.cmd("connect")
	start := time.Now()
	if got := ctl.api("uuid_audio " + call.A() + " start read mute 1"); got != "+OK\n" {
		t.Fatalf("delayed reply %q", got)
	}
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Fatalf("reply after %v, want at least 150ms", d)
	}
	start = time.Now()
	ctl.cmd("linger")
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Fatalf("a command not matching the fault took %v", d)
	}
}

func TestFaultReply(t *testing.T) {
	sw := newSwitch(t)
	call, ctl := dial(t, sw, CallOptions{Faults: []Fault{
		{Match: "api uuid_audio", Reply: "-ERR boom", Times: 1},
		{Match: "linger", Reply: "-ERR nope"},
	}})
	ctl.cmd("connect")
	r := ctl.cmd("api uuid_audio " + call.A() + " start read mute 1")
	if r.contentType() != "api/response" || r.text() != "-ERR boom\n" {
		t.Fatalf("faulted api reply %q %q", r.contentType(), r.text())
	}
	if call.Media().CustomerMuted {
		t.Fatal("a faulted command was carried out")
	}
	if got := ctl.api("uuid_audio " + call.A() + " start read mute 1"); got != "+OK\n" {
		t.Fatalf("second uuid_audio (fault used up): %q", got)
	}
	if !call.Media().CustomerMuted {
		t.Fatal("second uuid_audio did not mute")
	}
	if got := ctl.cmd("linger").text(); got != "-ERR nope" {
		t.Fatalf("faulted linger %q", got)
	}
	call.AddFault(Fault{Match: "sendmsg\ncall-command: execute\nexecute-app-name: bridge", Reply: "-ERR no agents"})
	r = ctl.cmd("sendmsg\ncall-command: execute\nexecute-app-name: bridge\nexecute-app-arg: sofia/internal/7200@127.0.0.1")
	if r.text() != "-ERR no agents" || call.Bridged() {
		t.Fatalf("bridge fault: %q, bridged %v", r.text(), call.Bridged())
	}
	// linger was refused, so the hang-up closes the socket at once.
	if err := call.HangUp(ctxT(t), LegA); err != nil {
		t.Fatal(err)
	}
	if n := ctl.waitNotice(0); n.get("Content-Disposition") != "disconnect" {
		t.Fatalf("notice %q", n.get("Content-Disposition"))
	}
	ctl.waitClosed()
}

func TestFaultDropBeforeBridge(t *testing.T) {
	sw := newSwitch(t)
	call, ctl := dial(t, sw, CallOptions{Faults: []Fault{{Match: "sendmsg", Drop: true}}})
	ctl.cmd("connect")
	ctl.send("sendmsg\ncall-command: execute\nexecute-app-name: spandsp_start_dtmf\n\n")
	ctl.waitClosed()
	waitDone(t, call)
	if call.Up(LegA) {
		t.Fatal("the customer leg survived a socket closed before the bridge")
	}
	waitCalls(t, sw, 0)
	if got := call.Commands(); len(got) != 2 || !strings.HasPrefix(got[1], "sendmsg\ncall-command: execute") {
		t.Fatalf("Commands() = %q", got)
	}
}

func TestFaultDropWhileBridged(t *testing.T) {
	sw := newSwitch(t)
	call, ctl := dial(t, sw, CallOptions{})
	ctl.setup(call)
	call.AddFault(Fault{Match: "api uuid_audio", Drop: true})
	ctl.send("api uuid_audio " + call.A() + " start read mute 1\n\n")
	ctl.waitClosed()
	waitDone(t, call)
	if !call.Bridged() || sw.Calls() != 1 {
		t.Fatalf("bridged %v, calls %d: a bridged call outlives its socket", call.Bridged(), sw.Calls())
	}
	if kp := press(t, call, "5", Inband)[0]; !kp.AgentHeardTone || kp.ControllerEvents != 0 {
		t.Fatalf("press after the drop: %+v", kp)
	}
}

func TestSwitchDrop(t *testing.T) {
	sw := newSwitch(t)
	call, ctl := dial(t, sw, CallOptions{})
	ctl.setup(call)
	if err := call.Drop(); err != nil {
		t.Fatal(err)
	}
	ctl.waitClosed()
	waitDone(t, call)
	ctl.mu.Lock()
	notices := len(ctl.notices)
	ctl.mu.Unlock()
	if notices != 0 {
		t.Fatalf("an abrupt close sent %d notices", notices)
	}
	if !call.Up(LegA) || !call.Up(LegB) {
		t.Fatal("Drop hung up a leg")
	}
}

func TestHangUpAgent(t *testing.T) {
	sw := newSwitch(t)
	call, ctl := dial(t, sw, CallOptions{})
	b := ctl.setup(call)
	if err := call.HangUp(ctxT(t), LegB); err != nil {
		t.Fatal(err)
	}
	e := ctl.waitEvent("CHANNEL_HANGUP_COMPLETE", nil)
	if e.event()["Unique-ID"] != b {
		t.Fatalf("first hang-up event is for %q, want B", e.event()["Unique-ID"])
	}
	ctl.waitEvent("CHANNEL_UNBRIDGE", nil)
	ctl.waitEvent("CHANNEL_EXECUTE_COMPLETE", func(h map[string]string) bool { return h["Application"] == "bridge" })
	if !call.Up(LegA) || call.Bridged() {
		t.Fatalf("after the agent hung up: A up %v, bridged %v", call.Up(LegA), call.Bridged())
	}
	if h := call.AgentHears(); h != (Hearing{}) {
		t.Fatalf("agent hears %+v after hanging up", h)
	}
	if got := ctl.api("uuid_audio " + b + " start read mute 1"); got != "-ERR No such channel!\n" {
		t.Fatalf("command on a hung-up B: %q", got)
	}
	if err := call.HangUp(ctxT(t), LegB); !errors.Is(err, ErrHungUp) {
		t.Fatalf("second HangUp(B): %v", err)
	}
}

func TestHangUpAgentUnfiltered(t *testing.T) {
	sw := newSwitch(t)
	call, ctl := dial(t, sw, CallOptions{Variables: map[string]string{"hangup_after_bridge": "true"}})
	ctl.cmd("connect")
	ctl.cmd("linger")
	ctl.cmd("event plain CHANNEL_HANGUP_COMPLETE CHANNEL_UNBRIDGE")
	ctl.cmd("filter Unique-ID " + call.A())
	ctl.execute("bridge", "sofia/internal/7200@127.0.0.1")
	if err := call.WaitBridged(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	b := call.B()
	if err := call.HangUp(ctxT(t), LegB); err != nil {
		t.Fatal(err)
	}
	ctl.waitEvent("CHANNEL_HANGUP_COMPLETE", func(h map[string]string) bool { return h["Unique-ID"] == call.A() })
	for _, e := range ctl.eventsNamed("CHANNEL_HANGUP_COMPLETE") {
		if e["Unique-ID"] == b {
			t.Fatal("B's hang-up was delivered without a filter for B")
		}
	}
	if call.Up(LegA) {
		t.Fatal("hangup_after_bridge=true left A up")
	}
}

func TestHangUpWithoutLinger(t *testing.T) {
	sw := newSwitch(t)
	call, ctl := dial(t, sw, CallOptions{})
	ctl.cmd("connect")
	ctl.cmd("event plain CHANNEL_HANGUP_COMPLETE")
	if err := call.HangUp(ctxT(t), LegA); err != nil {
		t.Fatal(err)
	}
	n := ctl.waitNotice(0)
	ctl.waitClosed()
	if n.get("Content-Disposition") != "disconnect" || string(n.body) != disconnectBody {
		t.Fatalf("notice %q %q", n.get("Content-Disposition"), n.body)
	}
	if got := ctl.eventsNamed("CHANNEL_HANGUP_COMPLETE"); len(got) != 0 {
		t.Fatalf("%d late events arrived without linger", len(got))
	}
	waitCalls(t, sw, 0)
}

func TestLingerTimeout(t *testing.T) {
	sw := newSwitch(t)
	call, ctl := dial(t, sw, CallOptions{})
	ctl.cmd("connect")
	if got := ctl.cmd("linger 1").text(); got != "+OK will linger 1 seconds" {
		t.Fatalf("linger 1: %q", got)
	}
	ctl.cmd("event plain CHANNEL_HANGUP_COMPLETE")
	start := time.Now()
	if err := call.HangUp(ctxT(t), LegA); err != nil {
		t.Fatal(err)
	}
	if n := ctl.waitNotice(0); n.get("Linger-Time") != "1" {
		t.Fatalf("Linger-Time %q", n.get("Linger-Time"))
	}
	ctl.waitEvent("CHANNEL_HANGUP_COMPLETE", nil)
	if n := ctl.waitNotice(1); n.get("Content-Disposition") != "disconnect" {
		t.Fatalf("second notice %q", n.get("Content-Disposition"))
	}
	ctl.waitClosed()
	if d := time.Since(start); d < 900*time.Millisecond {
		t.Fatalf("closed after %v, before the linger time", d)
	}
	waitCalls(t, sw, 0)
}

func TestKillFromController(t *testing.T) {
	sw := newSwitch(t)
	call, ctl := dial(t, sw, CallOptions{})
	ctl.setup(call)
	ctl.mu.Lock()
	before := len(ctl.order)
	ctl.mu.Unlock()
	if got := ctl.api("uuid_kill " + call.A() + " USER_BUSY"); got != "+OK\n" {
		t.Fatalf("uuid_kill: %q", got)
	}
	e := ctl.waitEvent("CHANNEL_HANGUP_COMPLETE", func(h map[string]string) bool { return h["Unique-ID"] == call.A() })
	if e.event()["Hangup-Cause"] != "USER_BUSY" {
		t.Fatalf("cause %q", e.event()["Hangup-Cause"])
	}
	ctl.mu.Lock()
	defer ctl.mu.Unlock()
	// The reply comes first, then the hang-up: linger notice and events.
	if after := ctl.order[before:]; len(after) < 3 || after[0] != "reply" || after[1] != "notice" {
		t.Fatalf("frames after uuid_kill: %q", after)
	}
}

func TestConnectTimeout(t *testing.T) {
	sw := New(Options{ConnectTimeout: 100 * time.Millisecond})
	t.Cleanup(func() { sw.Close() })
	call, ctl := dial(t, sw, CallOptions{})
	ctl.waitClosed()
	waitDone(t, call)
	if call.Up(LegA) {
		t.Fatal("A still up after the controller never spoke")
	}
	waitCalls(t, sw, 0)
}

func TestFirstCommandIsNotAnswered(t *testing.T) {
	sw := newSwitch(t)
	_, ctl := dial(t, sw, CallOptions{})
	ctl.send("linger\n\n")
	// FreeSWITCH answers the first packet only if it writes itself; the next
	// command's reply is the first frame to arrive.
	if got := ctl.cmd("event plain DTMF").text(); got != "+OK event listener enabled plain" {
		t.Fatalf("reply %q", got)
	}
	ctl.mu.Lock()
	n := len(ctl.replies)
	ctl.mu.Unlock()
	if n != 1 {
		t.Fatalf("%d replies, want 1", n)
	}
}

func TestBridgeFailureAndDelay(t *testing.T) {
	t.Run("failure", func(t *testing.T) {
		sw := newSwitch(t)
		call, ctl := dial(t, sw, CallOptions{BridgeFailure: "USER_BUSY"})
		ctl.cmd("connect")
		ctl.cmd("event plain CHANNEL_EXECUTE_COMPLETE CHANNEL_BRIDGE")
		ctl.execute("bridge", "sofia/internal/7200@127.0.0.1")
		ctl.waitEvent("CHANNEL_EXECUTE_COMPLETE", func(h map[string]string) bool { return h["Application"] == "bridge" })
		if v, _ := call.Var(LegA, "originate_disposition"); v != "USER_BUSY" || call.Bridged() {
			t.Fatalf("originate_disposition %q, bridged %v", v, call.Bridged())
		}
		if got := ctl.eventsNamed("CHANNEL_BRIDGE"); len(got) != 0 {
			t.Fatal("CHANNEL_BRIDGE after a failed bridge")
		}
	})
	t.Run("answer delay", func(t *testing.T) {
		sw := newSwitch(t)
		call, ctl := dial(t, sw, CallOptions{AnswerDelay: 100 * time.Millisecond})
		ctl.cmd("connect")
		start := time.Now()
		ctl.execute("bridge", "{origination_uuid="+newUUID()+"}sofia/internal/7200@127.0.0.1")
		if call.Bridged() {
			t.Fatal("bridged before the agent answered")
		}
		if err := call.WaitBridged(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d < 100*time.Millisecond {
			t.Fatalf("bridged after %v", d)
		}
	})
	t.Run("hang-up while ringing", func(t *testing.T) {
		sw := newSwitch(t)
		call, ctl := dial(t, sw, CallOptions{AnswerDelay: time.Hour})
		ctl.cmd("connect")
		ctl.execute("bridge", "sofia/internal/7200@127.0.0.1")
		if err := call.HangUp(ctxT(t), LegA); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := call.WaitBridged(ctx); !errors.Is(err, ErrHungUp) {
			t.Fatalf("WaitBridged after hang-up: %v", err)
		}
	})
}

// TestUnfilteredListenerSeesEveryCall checks the real switch's behaviour
// that a listener without filters receives other calls' events, and that
// Event-Sequence increases across calls.
func TestUnfilteredListenerSeesEveryCall(t *testing.T) {
	sw := newSwitch(t)
	_, ctl1 := dial(t, sw, CallOptions{})
	ctl1.cmd("connect")
	ctl1.cmd("event plain DTMF")
	call2, ctl2 := dial(t, sw, CallOptions{})
	ctl2.cmd("connect")
	ctl2.cmd("event plain DTMF")
	ctl2.cmd("filter Unique-ID " + call2.A())
	press(t, call2, "7", RFC2833)
	e1 := ctl1.waitEvent("DTMF", nil)
	e2 := ctl2.waitEvent("DTMF", nil)
	if e1.event()["Unique-ID"] != call2.A() || e1.event()["Event-Sequence"] != e2.event()["Event-Sequence"] {
		t.Fatalf("listener 1 got %v", e1.event())
	}
	ctl1.cmd("filter Unique-ID " + newUUID())
	press(t, call2, "8", RFC2833)
	ctl2.waitFor("second DTMF", func() bool { return len(ctl2.events) == 2 })
	if got := ctl1.eventsNamed("DTMF"); len(got) != 1 {
		t.Fatalf("filtered listener 1 got %d DTMF events", len(got))
	}
	s1 := ctl2.eventsNamed("DTMF")
	first, _ := strconv.Atoi(s1[0]["Event-Sequence"])
	second, _ := strconv.Atoi(s1[1]["Event-Sequence"])
	if first <= 0 || second <= first {
		t.Fatalf("Event-Sequence not increasing: %d then %d", first, second)
	}
}

func TestCloseEndsEverything(t *testing.T) {
	sw := New(Options{})
	call, ctl := dial(t, sw, CallOptions{})
	ctl.setup(call)
	_, ctl2 := dial(t, sw, CallOptions{})
	ctl2.cmd("connect")
	if sw.Calls() != 2 {
		t.Fatalf("Calls() = %d", sw.Calls())
	}
	sw.Close()
	sw.Close()
	ctl.waitClosed()
	ctl2.waitClosed()
	if sw.Calls() != 0 || call.Up(LegA) || call.Up(LegB) {
		t.Fatalf("after Close: calls %d, A up %v, B up %v", sw.Calls(), call.Up(LegA), call.Up(LegB))
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if _, err := sw.Dial(ctxT(t), ln.Addr().String(), CallOptions{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Dial after Close: %v", err)
	}
}

func TestWaitCommand(t *testing.T) {
	sw := newSwitch(t)
	call, ctl := dial(t, sw, CallOptions{})
	done := make(chan error, 1)
	go func() { done <- call.WaitCommand(context.Background(), "api uuid_audio") }()
	ctl.cmd("connect")
	ctl.api("uuid_audio " + call.A() + " start read mute 1")
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(testTimeout):
		t.Fatal("WaitCommand did not return")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := call.WaitCommand(ctx, "api uuid_kill"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitCommand for a command never sent: %v", err)
	}
}
