package fssim

import (
	"testing"

	"github.com/percipia/eslgo/command"
	eslcall "github.com/percipia/eslgo/command/call"
)

// eslgoEnd is what eslgo appends to every command (eslgo.EndOfMessage).
const eslgoEnd = "\r\n\r\n"

// TestESLGoCommands sends commands exactly as the controller's ESL library
// builds them: CRLF line ends, headers in map order, set/export as a
// text/plain body followed by a further blank line.
func TestESLGoCommands(t *testing.T) {
	sw := newSwitch(t)
	call, ctl := dial(t, sw, CallOptions{})
	send := func(cmd command.Command) received {
		t.Helper()
		ctl.mu.Lock()
		n := len(ctl.replies)
		ctl.mu.Unlock()
		ctl.send(cmd.BuildMessage() + eslgoEnd)
		var r received
		ctl.waitFor("reply", func() bool {
			if len(ctl.replies) > n {
				r = ctl.replies[n]
				return true
			}
			return false
		})
		return r
	}
	if r := send(command.Connect{}); r.get("Unique-ID") != call.A() || r.get("Reply-Text") != "%2BOK%0A" {
		t.Fatalf("connect reply Unique-ID %q Reply-Text %q", r.get("Unique-ID"), r.get("Reply-Text"))
	}
	checks := []struct {
		cmd  command.Command
		want string
	}{
		{command.Linger{Enabled: true}, "+OK will linger"},
		{command.Event{Format: "plain", Listen: []string{"DTMF", "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_BRIDGE"}}, "+OK event listener enabled plain"},
		{command.Filter{EventHeader: "Unique-ID", FilterValue: call.A()}, "+OK filter added. [Unique-ID]=[" + call.A() + "]"},
		{eslcall.Set{UUID: call.A(), Key: "playback_terminators", Value: "none", Sync: true}, "+OK"},
	}
	for _, c := range checks {
		if got := send(c.cmd).text(); got != c.want {
			t.Fatalf("%q: %q, want %q", c.cmd.BuildMessage(), got, c.want)
		}
	}
	ctl.waitEvent("CHANNEL_EXECUTE_COMPLETE", func(h map[string]string) bool { return h["Application"] == "set" })
	if v, _ := call.Var(LegA, "playback_terminators"); v != "none" {
		t.Fatalf("set through a body: playback_terminators = %q", v)
	}
	appUUID := newUUID()
	b := newUUID()
	bridge := &eslcall.Execute{
		UUID: call.A(), AppName: "bridge", AppUUID: appUUID, Sync: true,
		AppArgs: "{origination_uuid=" + b + ",absolute_codec_string=PCMU}sofia/internal/7200@127.0.0.1:5060",
	}
	if got := send(bridge).text(); got != "+OK" {
		t.Fatalf("bridge: %q", got)
	}
	if err := call.WaitBridged(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if call.B() != b {
		t.Fatalf("B = %q, want the origination_uuid %q", call.B(), b)
	}
	if got := send(command.API{Command: "uuid_audio", Arguments: call.A() + " start read mute 1"}).text(); got != "+OK\n" {
		t.Fatalf("uuid_audio: %q", got)
	}
	if err := call.HangUp(ctxT(t), LegA); err != nil {
		t.Fatal(err)
	}
	e := ctl.waitEvent("CHANNEL_EXECUTE_COMPLETE", func(h map[string]string) bool { return h["Application"] == "bridge" })
	if e.event()["Application-UUID"] != appUUID {
		t.Fatalf("bridge Application-UUID %q, want the Event-UUID sent", e.event()["Application-UUID"])
	}
	if got := send(command.Exit{}).text(); got != "+OK bye" {
		t.Fatalf("exit: %q", got)
	}
	ctl.waitClosed()
	for _, cmd := range call.Commands() {
		for i := 0; i < len(cmd); i++ {
			if cmd[i] == '\r' {
				t.Fatalf("Commands() keeps a CR: %q", cmd)
			}
		}
	}
}
