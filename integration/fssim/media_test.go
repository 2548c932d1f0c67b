package fssim

import (
	"context"
	"testing"
	"time"
)

// sixteen is one press of every DTMF key.
const sixteen = "0123456789*#ABCD"

const recPath = "/var/sp/rec/a.wav"

// mediaSetup brings a call to the bridged state with the options a media
// scenario needs, and returns the call, its controller and B's uuid.
type mediaSetup struct {
	detector     bool // spandsp_start_dtmf before the bridge
	coreDetector bool // core start_dtmf as well
	filterVar    bool // bridge_filter_dtmf=true before the bridge
	record       bool // uuid_record A start
}

func (m mediaSetup) run(t *testing.T) (*Call, *controller, string) {
	t.Helper()
	sw := newSwitch(t)
	call, ctl := dial(t, sw, CallOptions{PromptDuration: time.Hour})
	ctl.cmd("connect")
	ctl.cmd("linger")
	ctl.cmd("event plain DTMF CHANNEL_EXECUTE_COMPLETE CHANNEL_HANGUP_COMPLETE CHANNEL_BRIDGE CHANNEL_UNBRIDGE")
	b := newUUID()
	ctl.cmd("filter Unique-ID " + call.A())
	ctl.cmd("filter Unique-ID " + b)
	if m.detector {
		ctl.execute("spandsp_start_dtmf", "")
	}
	if m.coreDetector {
		ctl.execute("start_dtmf", "")
	}
	if m.filterVar {
		ctl.execute("set", "bridge_filter_dtmf=true")
	}
	ctl.execute("bridge", "{origination_uuid="+b+"}sofia/internal/7200@127.0.0.1:5060")
	if err := call.WaitBridged(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if m.record {
		ctl.mustAPI("uuid_record " + call.A() + " start " + recPath)
	}
	return call, ctl, b
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// tally counts what became of a set of key presses.
type tally struct{ events, audible, relayed, recorded int }

func count(kps []KeyPress) tally {
	var n tally
	for _, k := range kps {
		n.events += k.ControllerEvents
		if k.AgentHeardTone {
			n.audible++
		}
		if k.AgentGotRFC2833 {
			n.relayed++
		}
		if k.RecordingHasTone {
			n.recorded++
		}
	}
	return n
}

// TestVerifiedResults replays the results verified on the real switch
// (notes/FREESWITCH.md): with masking armed before the first key nothing
// reaches the agent or the recording; each ordering mistake and the unmasked
// controls leak as FreeSWITCH leaked.
func TestVerifiedResults(t *testing.T) {
	type arming int
	const (
		none          arming = iota
		armed                // drop_dtmf, read mute, displace with m, record mask
		armedNoRecMsk        // same without uuid_record mask
		armedNoMux           // displace without m
		armedThenDet         // armed, then spandsp_start_dtmf (detector after the mute)
		armedLate            // first key unmasked, then armed
	)
	tests := []struct {
		name  string
		setup mediaSetup
		arm   arming
		mode  DTMFMode
		want  tally
	}{
		{"masked in-band", mediaSetup{detector: true, record: true}, armed, Inband, tally{16, 0, 0, 0}},
		{"masked RFC 2833", mediaSetup{detector: true, record: true}, armed, RFC2833, tally{16, 0, 0, 0}},
		{"masked in-band, recording not masked", mediaSetup{detector: true, record: true}, armedNoRecMsk, Inband, tally{16, 0, 0, 0}},
		{"masked in-band, displace without m", mediaSetup{detector: true, record: true}, armedNoMux, Inband, tally{16, 0, 0, 0}},
		{"detector started after the mute", mediaSetup{record: true}, armedThenDet, Inband, tally{0, 0, 0, 0}},
		{"masked, phone sends both", mediaSetup{detector: true, record: true}, armed, Both, tally{32, 0, 0, 0}},
		{"masked, tone reported twice", mediaSetup{detector: true, record: true}, armed, DuplicateInband, tally{32, 0, 0, 0}},
		{"masked, core start_dtmf with spandsp", mediaSetup{detector: true, coreDetector: true, record: true}, armed, Inband, tally{32, 0, 0, 0}},
		{"armed late", mediaSetup{detector: true, record: true}, armedLate, Inband, tally{16, 1, 1, 1}},
		{"unmasked in-band", mediaSetup{detector: true, record: true}, none, Inband, tally{16, 16, 16, 16}},
		{"unmasked RFC 2833", mediaSetup{detector: true, record: true}, none, RFC2833, tally{16, 0, 16, 0}},
		{"unmasked in-band, no detector", mediaSetup{record: true}, none, Inband, tally{0, 16, 0, 16}},
		{"unmasked RFC 2833, bridge_filter_dtmf", mediaSetup{detector: true, filterVar: true}, none, RFC2833, tally{16, 0, 0, 0}},
		{"unmasked in-band, not recorded", mediaSetup{detector: true}, none, Inband, tally{16, 16, 16, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			call, ctl, b := tt.setup.run(t)
			a := call.A()
			var kps []KeyPress
			switch tt.arm {
			case armed:
				ctl.arm(a, b, recPath, true)
			case armedNoRecMsk:
				ctl.arm(a, b, "", true)
			case armedNoMux:
				ctl.arm(a, b, recPath, false)
				if h := call.CustomerHears(); h.Agent {
					t.Error("displace without m: the customer still hears the agent")
				}
			case armedThenDet:
				ctl.arm(a, b, recPath, true)
				ctl.executeWait("spandsp_start_dtmf", "")
				if m := call.Media(); !m.Detector || m.DetectorHears {
					t.Errorf("media state %+v: want a detector that hears silence", m)
				}
			case armedLate:
				kps = press(t, call, sixteen[:1], tt.mode)
				ctl.arm(a, b, recPath, true)
			}
			kps = append(kps, press(t, call, sixteen[len(kps):], tt.mode)...)
			if got := count(kps); got != tt.want {
				t.Fatalf("events/audible/relayed/recorded = %+v, want %+v", got, tt.want)
			}
			if tt.want.events > 0 {
				ctl.waitFor("all DTMF events", func() bool {
					n := 0
					for _, e := range ctl.events {
						if e.event()["Event-Name"] == "DTMF" {
							n++
						}
					}
					return n == tt.want.events
				})
			}
			if len(call.Presses()) != 16 {
				t.Fatalf("Presses() has %d entries", len(call.Presses()))
			}
		})
	}
}

func TestHearingWhileArmed(t *testing.T) {
	call, ctl, b := mediaSetup{detector: true, record: true}.run(t)
	a := call.A()
	check := func(stage string, agent, customer Hearing) {
		t.Helper()
		if got := call.AgentHears(); got != agent {
			t.Errorf("%s: agent hears %+v, want %+v", stage, got, agent)
		}
		if got := call.CustomerHears(); got != customer {
			t.Errorf("%s: customer hears %+v, want %+v", stage, got, customer)
		}
	}
	check("talking", Hearing{Customer: true}, Hearing{Agent: true})
	ctl.arm(a, b, recPath, true)
	check("armed", Hearing{Tone: true}, Hearing{Agent: true})
	if m := call.Media(); !m.Armed() || !m.RecordingMasked || !m.DetectorHears {
		t.Errorf("armed media state %+v", m)
	}
	rec := call.Recordings()
	if len(rec) != 1 || rec[0].Customer || rec[0].Agent || !rec[0].Masked {
		t.Errorf("masked recording %+v: uuid_record mask blanks both voices", rec)
	}
	prompt := "/var/sp/prompts/enter-card.wav"
	ctl.mustAPI("uuid_displace " + a + " start " + prompt + " 0 m")
	check("prompting", Hearing{Tone: true}, Hearing{Agent: true, Prompt: prompt})
	ctl.disarm(a, b, recPath)
	check("disarmed", Hearing{Customer: true}, Hearing{Agent: true, Prompt: prompt})
	if m := call.Media(); m.Armed() || m.CustomerMuted || m.RelayBlocked {
		t.Errorf("disarmed media state %+v", m)
	}
	rec = call.Recordings()
	if len(rec) != 1 || !rec[0].Customer || !rec[0].Agent {
		t.Errorf("unmasked recording %+v", rec)
	}
	if got := call.Prompts(); len(got) != 1 || got[0] != prompt {
		t.Errorf("Prompts() = %q", got)
	}
}

func TestPromptEndsByItself(t *testing.T) {
	sw := newSwitch(t)
	call, ctl := dial(t, sw, CallOptions{PromptDuration: 50 * time.Millisecond})
	b := ctl.setup(call)
	prompt := "/var/sp/prompts/pan.wav"
	ctl.mustAPI("uuid_displace " + call.A() + " start " + prompt + " 0 m")
	if got := ctl.api("uuid_displace " + call.A() + " start " + prompt + " 0 m"); got != "-ERR Cannot start displace session!\n" {
		t.Fatalf("second start while playing: %q", got)
	}
	deadline := time.Now().Add(testTimeout)
	for call.CustomerHears().Prompt != "" {
		if time.Now().After(deadline) {
			t.Fatal("prompt never ended")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := ctl.api("uuid_displace " + call.A() + " stop " + prompt); got != "-ERR Cannot stop displace session!\n" {
		t.Fatalf("stop after the prompt ended: %q", got)
	}
	ctl.mustAPI("uuid_displace " + call.A() + " start " + prompt + " 0 m")
	ctl.mustAPI("uuid_displace " + b + " start " + flatTone + " 0 m")
	time.Sleep(100 * time.Millisecond)
	if !call.AgentHears().Tone {
		t.Fatal("a looping tone_stream ended by itself")
	}
	if got := call.Prompts(); len(got) != 2 {
		t.Fatalf("Prompts() = %q, want the prompt twice", got)
	}
}

func TestPlaybackIsAPrompt(t *testing.T) {
	sw := newSwitch(t)
	call, ctl := dial(t, sw, CallOptions{})
	ctl.setup(call)
	ctl.execute("playback", "ivr/ivr-please_enter_the.wav")
	e := ctl.waitEvent("CHANNEL_EXECUTE_COMPLETE", func(h map[string]string) bool { return h["Application"] == "playback" })
	if r := e.event()["Application-Response"]; r != "FILE PLAYED" {
		t.Errorf("Application-Response %q", r)
	}
	if got := call.Prompts(); len(got) != 1 || got[0] != "ivr/ivr-please_enter_the.wav" {
		t.Errorf("Prompts() = %q", got)
	}
}

// TestMaskingOutlivesController checks fail-closed behaviour: once armed, a
// controller crash leaves the bridge and the masking in place.
func TestMaskingOutlivesController(t *testing.T) {
	call, ctl, b := mediaSetup{detector: true, record: true}.run(t)
	ctl.arm(call.A(), b, recPath, true)
	ctl.conn.Close()
	waitDone(t, call)
	if !call.Bridged() {
		t.Fatal("bridge ended with the controller's socket")
	}
	if n := count(press(t, call, sixteen, Inband)); n.audible+n.relayed+n.recorded != 0 || n.events != 0 {
		t.Fatalf("after the controller crashed: %+v", n)
	}
	if err := call.HangUp(ctxT(t), LegA); err != nil {
		t.Fatal(err)
	}
	waitCalls(t, call.sw, 0)
}

func TestInjectedDigits(t *testing.T) {
	call, ctl, b := mediaSetup{detector: true}.run(t)
	ctl.mustAPI("uuid_recv_dtmf " + call.A() + " 12")
	ctl.waitFor("two injected digits", func() bool {
		n := 0
		for _, e := range ctl.events {
			if h := e.event(); h["Event-Name"] == "DTMF" && h["DTMF-Source"] == "APP" {
				n++
			}
		}
		return n == 2
	})
	ctl.mustAPI("uuid_drop_dtmf " + b + " on mask_digits none")
	ctl.mustAPI("uuid_recv_dtmf " + call.A() + " 3")
	ctl.waitFor("third press", func() bool { return len(call.Presses()) == 3 })
	p := call.Presses()
	if p[0].Mode != Injected || !p[0].AgentGotRFC2833 || p[2].AgentGotRFC2833 {
		t.Fatalf("injected presses %+v", p)
	}
}

func TestPressRejects(t *testing.T) {
	sw := newSwitch(t)
	call, ctl := dial(t, sw, CallOptions{})
	ctl.cmd("connect")
	if _, err := call.Press(ctxT(t), 'x', Inband); err == nil {
		t.Error("Press accepted 'x'")
	}
	if _, err := call.Press(ctxT(t), '1', Injected); err == nil {
		t.Error("Press accepted the Injected mode")
	}
	if kp, err := call.Press(ctxT(t), 'a', Inband); err != nil || kp.Digit != 'A' {
		t.Errorf("Press('a') = %+v, %v", kp, err)
	}
	if err := call.HangUp(ctxT(t), LegA); err != nil {
		t.Fatal(err)
	}
	if _, err := call.Press(ctxT(t), '1', Inband); err != ErrHungUp {
		t.Errorf("Press after hang-up: %v", err)
	}
}

func TestParseDTMFMode(t *testing.T) {
	for m := Inband; m <= DuplicateInband; m++ {
		got, err := ParseDTMFMode(m.String())
		if err != nil || got != m {
			t.Errorf("ParseDTMFMode(%q) = %v, %v", m.String(), got, err)
		}
	}
	if _, err := ParseDTMFMode("injected"); err == nil {
		t.Error("ParseDTMFMode accepted injected")
	}
}
