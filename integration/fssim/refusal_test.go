package fssim

import (
	"strings"
	"testing"
)

// TestReplies checks every refusal and success reply the controller relies
// on, on a bridged call recording A to recPath.
func TestReplies(t *testing.T) {
	call, ctl, b := mediaSetup{detector: true, record: true}.run(t)
	a := call.A()
	tests := []struct {
		name, cmd, want string
	}{
		{"uuid_audio four words", "api uuid_audio " + a + " start read mute", usageAudio},
		{"uuid_audio one word", "api uuid_audio " + a, usageAudio},
		{"uuid_audio bad mode", "api uuid_audio " + a + " start read volume 1", usageAudio},
		{"uuid_audio bad direction", "api uuid_audio " + a + " start both mute 1", usageAudio},
		{"uuid_audio no such channel", "api uuid_audio " + bogusUUID + " start read mute 1", "-ERR No such channel!\n"},
		{"uuid_audio start", "api uuid_audio " + a + " start read mute 1", "+OK\n"},
		{"uuid_audio stop", "api uuid_audio " + a + " stop", "+OK\n"},
		{"uuid_drop_dtmf two words", "api uuid_drop_dtmf " + b + " on", usageDropDTMF},
		{"uuid_drop_dtmf three words", "api uuid_drop_dtmf " + b + " on mask_digits", usageDropDTMF},
		{"uuid_drop_dtmf off without mask", "api uuid_drop_dtmf " + b + " off", usageDropDTMF},
		{"uuid_drop_dtmf no such channel", "api uuid_drop_dtmf " + bogusUUID + " on mask_digits none", "-ERR No such channel " + bogusUUID + "!\n"},
		{"uuid_drop_dtmf on", "api uuid_drop_dtmf " + b + " on mask_digits none", "+OK " + b + " is dropping DTMF. mask_file: NONE mask_digits: none\n"},
		{"uuid_drop_dtmf off", "api uuid_drop_dtmf " + b + " off mask_digits none", "+OK " + b + " is not dropping DTMF. mask_file: NONE mask_digits: none\n"},
		{"uuid_displace no such session", "api uuid_displace " + bogusUUID + " start " + flatTone + " 0 m", "-ERR Cannot locate session!\n"},
		{"uuid_displace stop when not running", "api uuid_displace " + b + " stop " + flatTone, "-ERR Cannot stop displace session!\n"},
		{"uuid_displace start", "api uuid_displace " + b + " start " + flatTone + " 0 m", "+OK Success\n"},
		{"uuid_displace start again", "api uuid_displace " + b + " start " + flatTone + " 0 m", "-ERR Cannot start displace session!\n"},
		{"uuid_displace stop with another string", "api uuid_displace " + b + " stop tone_stream://%(300,700,440)", "-ERR Cannot stop displace session!\n"},
		{"uuid_displace stop", "api uuid_displace " + b + " stop " + flatTone, "+OK Success\n"},
		{"uuid_displace usage", "api uuid_displace " + b + " start", usageDisplace},
		{"uuid_record no such session", "api uuid_record " + bogusUUID + " mask /var/sp/rec/none.wav", "-ERR Cannot locate session!\n"},
		{"uuid_record mask wrong path", "api uuid_record " + a + " mask /var/sp/rec/other.wav", "-ERR Cannot mask recording session!\n"},
		{"uuid_record mask on B (not recording)", "api uuid_record " + b + " mask " + recPath, "-ERR Cannot mask recording session!\n"},
		{"uuid_record mask", "api uuid_record " + a + " mask " + recPath, "+OK Success\n"},
		{"uuid_record unmask", "api uuid_record " + a + " unmask " + recPath, "+OK Success\n"},
		{"uuid_record start twice", "api uuid_record " + a + " start " + recPath, "-ERR Cannot record session!\n"},
		{"uuid_kill no such channel", "api uuid_kill " + bogusUUID, "-ERR No such channel!\n"},
		{"uuid_setvar", "api uuid_setvar " + a + " tonewall_state capturing", "+OK\n"},
		{"uuid_getvar", "api uuid_getvar " + a + " tonewall_state", "capturing"},
		{"uuid_getvar unset", "api uuid_getvar " + a + " no_such_variable", "_undef_"},
		{"uuid_getvar channel variable", "api uuid_getvar " + a + " current_application", "bridge"},
		{"uuid_setvar no such channel", "api uuid_setvar " + bogusUUID + " x y", "-ERR No such channel!\n"},
		{"uuid_exists", "api uuid_exists " + b, "true"},
		{"uuid_exists bogus", "api uuid_exists " + bogusUUID, "false"},
		{"uuid_recv_dtmf no such session", "api uuid_recv_dtmf " + bogusUUID + " 1", "-ERR no such session\n"},
		{"unknown api", "api foo", "-ERR foo Command not found!\n"},
		{"unknown api with args", "api caller_no_such_command foo", "-ERR caller_no_such_command Command not found!\n"},
		{"unknown socket command", "caller_no_such_command", "-ERR command not found"},
		{"sendmsg bogus uuid", "sendmsg " + bogusUUID + "\ncall-command: execute\nexecute-app-name: playback\nexecute-app-arg: silence_stream://100", "-ERR invalid session id [" + bogusUUID + "]"},
		{"sendmsg to B", "sendmsg " + b + "\ncall-command: execute\nexecute-app-name: set\nexecute-app-arg: x=y", "+OK"},
		{"filter without value", "filter Unique-ID", "-ERR invalid syntax"},
		{"filter add", "filter add Event-Name DTMF", "+OK filter added. [Event-Name]=[DTMF]"},
		{"filter delete", "filter delete Event-Name DTMF", "+OK filter deleted. [Event-Name][DTMF]"},
		{"event without names", "event plain", "-ERR no keywords supplied"},
		{"event unknown names only", "event plain NOT_AN_EVENT", "-ERR no keywords supplied"},
		{"event json", "event json DTMF", "+OK event listener enabled json"},
		{"event plain again", "event plain DTMF", "+OK event listener enabled plain"},
		{"nixevent", "nixevent RECORD_START", "+OK events nixed"},
		{"linger seconds", "linger 5", "+OK will linger 5 seconds"},
		{"linger as eslgo sends 10s", "linger 10000000000", "+OK will linger 1410065408 seconds"},
		{"linger", "linger", "+OK will linger"},
		{"nolinger", "nolinger", "+OK will not linger"},
		{"linger again", "linger", "+OK will linger"},
		{"myevents", "myevents", "+OK Events Enabled"},
		{"myevents twice", "myevents plain", "-ERR aready enabled."},
		{"getvar", "getvar current_application", "bridge"},
		{"divert_events", "divert_events on", "+OK events diverted"},
		{"sendevent", "sendevent CUSTOM", "+OK <uuid>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ctl.cmd(tt.cmd).text()
			if strings.Contains(tt.want, "<uuid>") {
				got = normalize(got)
			}
			if got != tt.want {
				t.Fatalf("%s\n got %q\nwant %q", tt.cmd, got, tt.want)
			}
		})
	}
}

// TestNotFull checks the socket without `full`: the privileged commands are
// refused exactly as FreeSWITCH refuses them, the rest work.
func TestNotFull(t *testing.T) {
	sw := newSwitch(t)
	call, ctl := dial(t, sw, CallOptions{NotFull: true})
	r := ctl.cmd("connect")
	if r.get("Control") != "single-channel" || !strings.HasSuffix(r.get("variable_current_application_data"), "async") {
		t.Fatalf("connect reply Control %q, socket data %q", r.get("Control"), r.get("variable_current_application_data"))
	}
	for _, cmd := range []string{
		"api status", "api uuid_audio " + call.A() + " start read mute 1", "bgapi status",
		"event plain DTMF", "linger", "nolinger", "nixevent DTMF", "noevents", "sendevent CUSTOM", "log 7",
	} {
		if got := ctl.cmd(cmd).text(); got != "-ERR command not found" {
			t.Errorf("%s without full: %q", commandName(cmd), got)
		}
	}
	if m := call.Media(); m.CustomerMuted {
		t.Error("a refused uuid_audio muted the customer")
	}
	for cmd, want := range map[string]string{
		"filter Unique-ID " + call.A(): "+OK filter added. [Unique-ID]=[" + call.A() + "]",
		"myevents plain":               "+OK Events Enabled",
		"getvar current_application":   "socket",
	} {
		if got := ctl.cmd(cmd).text(); got != want {
			t.Errorf("%s without full: %q, want %q", commandName(cmd), got, want)
		}
	}
	ctl.execute("playback", "silence_stream://200")
	e := ctl.waitEvent("CHANNEL_EXECUTE_COMPLETE", nil)
	if e.event()["Application-Response"] != "FILE PLAYED" {
		t.Errorf("playback completion %v", e.event())
	}
	if got := ctl.cmd("exit").text(); got != "+OK bye" {
		t.Errorf("exit: %q", got)
	}
	ctl.waitClosed()
}

func TestUnknownApplicationHangsUp(t *testing.T) {
	sw := newSwitch(t)
	call, ctl := dial(t, sw, CallOptions{})
	ctl.cmd("connect")
	ctl.cmd("linger")
	ctl.cmd("event plain CHANNEL_HANGUP_COMPLETE")
	ctl.execute("no_such_app", "")
	e := ctl.waitEvent("CHANNEL_HANGUP_COMPLETE", nil)
	if c := e.event()["Hangup-Cause"]; c != "DESTINATION_OUT_OF_ORDER" {
		t.Fatalf("Hangup-Cause %q", c)
	}
	if call.Up(LegA) {
		t.Fatal("A still up")
	}
}
