package fssim

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// transcriptDir holds the byte-exact captures from a real FreeSWITCH 1.10.12.
// It lives in the project's shared folder, next to the repository.
const transcriptDir = "../../../shared/fs-transcripts"

// transcript is one capture: the request that produced it (empty when the
// switch sent it unsolicited) and the exact bytes received.
type transcript struct {
	file    string
	request string
	raw     []byte
}

var (
	producedBy = regexp.MustCompile(`(?m)^# produced by: the test controller sent (".*") \(Go-quoted, exact bytes\)$`)
	rawMarker  = regexp.MustCompile(`(?m)^----- raw bytes follow \((\d+)\) -----\n`)
	uuidRE     = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	stampRE    = regexp.MustCompile(`\b\d{16}\b`)
)

// bogusUUID is the uuid the transcripts use for a channel that does not exist.
const bogusUUID = "00000000-0000-4000-8000-000000000000"

func loadTranscript(path string) (transcript, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return transcript{}, err
	}
	tr := transcript{file: filepath.Base(path)}
	if m := producedBy.FindSubmatch(data); m != nil {
		tr.request, err = strconv.Unquote(string(m[1]))
		if err != nil {
			return tr, fmt.Errorf("%s: request: %w", tr.file, err)
		}
	}
	loc := rawMarker.FindSubmatchIndex(data)
	if loc == nil {
		return tr, fmt.Errorf("%s: no raw-bytes marker", tr.file)
	}
	n, _ := strconv.Atoi(string(data[loc[2]:loc[3]]))
	tr.raw = data[loc[1]:]
	if len(tr.raw) != n {
		return tr, fmt.Errorf("%s: %d raw bytes, header says %d", tr.file, len(tr.raw), n)
	}
	return tr, nil
}

// transcriptFiles lists the captures, failing in CI if they are missing and
// skipping, with a message, on a developer machine without them.
func transcriptFiles(t *testing.T) []string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(transcriptDir, "*.txt"))
	if len(files) == 0 {
		if os.Getenv("CI") != "" {
			t.Fatalf("FreeSWITCH transcripts missing at %s (required in CI)", transcriptDir)
		}
		t.Skipf("FreeSWITCH transcripts not found at %s; skipping the replay on this machine", transcriptDir)
	}
	return files
}

// parseRaw parses the captured bytes as one frame from the switch.
func parseRaw(t *testing.T, raw []byte) received {
	t.Helper()
	f, n, err := parseFrame(raw, false)
	if err != nil || n != len(raw) {
		t.Fatalf("captured frame does not parse as one frame: n=%d of %d, err=%v", n, len(raw), err)
	}
	return received{frame: f, raw: raw}
}

// normalize replaces what differs between runs (uuids, microsecond stamps)
// with placeholders.
func normalize(s string) string {
	s = uuidRE.ReplaceAllString(s, "<uuid>")
	return stampRE.ReplaceAllString(s, "<ts>")
}

// headerNames lists header names in order, collapsing each run of
// variable_* headers into one "variable_*" entry.
func headerNames(hs []header) []string {
	var out []string
	for _, h := range hs {
		if strings.HasPrefix(h.name, "variable_") {
			if len(out) > 0 && out[len(out)-1] == "variable_*" {
				continue
			}
			out = append(out, "variable_*")
			continue
		}
		out = append(out, h.name)
	}
	return out
}

func exactNames(hs []header) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = h.name
	}
	return out
}

func diffNames(t *testing.T, what string, want, got []string) {
	t.Helper()
	if strings.Join(want, "\n") == strings.Join(got, "\n") {
		return
	}
	for i := 0; i < len(want) || i < len(got); i++ {
		var w, g string
		if i < len(want) {
			w = want[i]
		}
		if i < len(got) {
			g = got[i]
		}
		if w != g {
			t.Fatalf("%s: header %d: want %q, got %q\nwant %q\ngot  %q", what, i, w, g, want, got)
		}
	}
}

// compareReply checks a command/reply or api/response: same Content-Type,
// same header names in the same order, same text after normalisation.
func compareReply(t *testing.T, want, got received, channelData bool) {
	t.Helper()
	if want.contentType() != got.contentType() {
		t.Fatalf("Content-Type: want %q, got %q", want.contentType(), got.contentType())
	}
	diffNames(t, "reply headers", exactNames(want.headers), exactNames(got.headers))
	if channelData {
		for _, h := range []string{"Reply-Text", "Socket-Mode", "Control", "Event-Name"} {
			if want.get(h) != got.get(h) {
				t.Fatalf("%s: want %q, got %q", h, want.get(h), got.get(h))
			}
		}
		return
	}
	for _, h := range want.headers {
		if w, g := normalize(h.value), normalize(got.get(h.name)); w != g {
			t.Fatalf("%s: want %q, got %q", h.name, w, g)
		}
	}
	if w, g := normalize(string(want.body)), normalize(string(got.body)); w != g {
		t.Fatalf("body: want %q, got %q", w, g)
	}
}

// compareEvent checks an event: same outer headers, same body header names in
// the same order (variable_* runs collapsed) and the same key values.
func compareEvent(t *testing.T, want, got received, keys ...string) {
	t.Helper()
	diffNames(t, "outer headers", exactNames(want.headers), exactNames(got.headers))
	if want.contentType() != got.contentType() {
		t.Fatalf("Content-Type: want %q, got %q", want.contentType(), got.contentType())
	}
	wh, _ := splitPlain(string(want.body))
	gh, _ := splitPlain(string(got.body))
	diffNames(t, "event headers", headerNames(wh), headerNames(gh))
	w, g := want.event(), got.event()
	for _, k := range append([]string{"Event-Name", "Event-Calling-File", "Event-Calling-Function", "Event-Calling-Line-Number"}, keys...) {
		if normalize(w[k]) != normalize(g[k]) {
			t.Fatalf("%s: want %q, got %q", k, w[k], g[k])
		}
	}
}

// compareNotice checks a disconnect notice byte for byte, uuids aside.
func compareNotice(t *testing.T, want, got received) {
	t.Helper()
	diffNames(t, "notice headers", exactNames(want.headers), exactNames(got.headers))
	for _, h := range []string{"Content-Type", "Content-Disposition", "Linger-Time", "Content-Length"} {
		if want.get(h) != got.get(h) {
			t.Fatalf("%s: want %q, got %q", h, want.get(h), got.get(h))
		}
	}
	if !bytes.Equal(want.body, got.body) {
		t.Fatalf("body: want %q, got %q", want.body, got.body)
	}
}

// prep names how a call is brought to the state a capture was made in.
type prep int

const (
	prepNone      prep = iota // nothing sent yet (the request is connect)
	prepConnected             // connect sent
	prepBridged               // connect, linger, events, filters, detection, bridge
	prepDisplaced             // bridged, flat tone displacing on B
	prepRecording             // connected, A recording to the path in the request
	prepMasked                // recording and masked
	prepHungUp                // bridged with linger, then A hung up
)

// replayCase maps one capture to the scenario that reproduces it.
type replayCase struct {
	prep    prep
	notFull bool
	leg     string // whose uuid replaces the capture's uuid in the request: "A", "B" or ""
}

// replies is the table of captures answered to a request.
var replies = map[string]replayCase{
	"api-bogus-uuid-uuid_audio.txt":          {prep: prepConnected},
	"api-bogus-uuid-uuid_displace.txt":       {prep: prepConnected},
	"api-bogus-uuid-uuid_drop_dtmf.txt":      {prep: prepConnected},
	"api-bogus-uuid-uuid_kill.txt":           {prep: prepConnected},
	"api-bogus-uuid-uuid_record.txt":         {prep: prepConnected},
	"api-displace-stop-not-running.txt":      {prep: prepBridged, leg: "B"},
	"api-not-recording-uuid_record-mask.txt": {prep: prepConnected, leg: "A"},
	"api-success-reply.txt":                  {prep: prepConnected, leg: "A"},
	"api-unknown-command.txt":                {prep: prepConnected},
	"api-usage-uuid_audio-4-words.txt":       {prep: prepConnected, leg: "A"},
	"api-usage-uuid_drop_dtmf-2-words.txt":   {prep: prepBridged, leg: "B"},
	"api-uuid_audio-stop-reply.txt":          {prep: prepConnected, leg: "A"},
	"api-uuid_displace-start-reply.txt":      {prep: prepBridged, leg: "B"},
	"api-uuid_displace-stop-reply.txt":       {prep: prepDisplaced, leg: "B"},
	"api-uuid_drop_dtmf-off-reply.txt":       {prep: prepBridged, leg: "B"},
	"api-uuid_drop_dtmf-on-reply.txt":        {prep: prepBridged, leg: "B"},
	"api-uuid_record-mask-reply.txt":         {prep: prepRecording, leg: "A"},
	"api-uuid_record-unmask-reply.txt":       {prep: prepMasked, leg: "A"},
	"bgapi-reply.txt":                        {prep: prepConnected},
	"connect-reply.txt":                      {prep: prepNone},
	"event-plain-reply.txt":                  {prep: prepConnected},
	"exit-reply-after-hangup.txt":            {prep: prepHungUp},
	"filter-job-owner-reply.txt":             {prep: prepConnected, leg: "A"},
	"filter-reply-second.txt":                {prep: prepConnected},
	"filter-reply.txt":                       {prep: prepConnected, leg: "A"},
	"linger-reply.txt":                       {prep: prepConnected},
	"not-full-api-reply.txt":                 {prep: prepConnected, notFull: true, leg: "A"},
	"not-full-api-status-reply.txt":          {prep: prepConnected, notFull: true},
	"not-full-bgapi-reply.txt":               {prep: prepConnected, notFull: true},
	"not-full-connect-reply.txt":             {prep: prepNone, notFull: true},
	"not-full-event-plain-reply.txt":         {prep: prepConnected, notFull: true},
	"not-full-filter-reply.txt":              {prep: prepConnected, notFull: true, leg: "A"},
	"not-full-linger-reply.txt":              {prep: prepConnected, notFull: true},
	"not-full-myevents-reply.txt":            {prep: prepConnected, notFull: true},
	"not-full-sendmsg-execute-reply.txt":     {prep: prepConnected, notFull: true},
	"sendmsg-bogus-uuid-reply.txt":           {prep: prepConnected},
	"sendmsg-execute-reply.txt":              {prep: prepConnected},
	"unknown-socket-command.txt":             {prep: prepConnected},
}

// unsolicited is the table of captures the switch sends by itself, with the
// scenario that makes the simulator send the same frame.
var unsolicited = map[string]string{
	"disconnect-notice-after-exit.txt":          "bridged with linger, A hangs up, controller sends exit: second notice",
	"disconnect-notice-with-linger.txt":         "bridged with linger, A hangs up: first notice",
	"disconnect-notice-without-linger.txt":      "events on, no linger, A hangs up",
	"not-full-disconnect-notice.txt":            "socket without full, linger refused, A hangs up",
	"event-background-job.txt":                  "filter Job-Owner-UUID <A>, bgapi status",
	"event-channel-bridge.txt":                  "bridge to a pre-chosen B",
	"event-channel-execute-complete.txt":        "sendmsg spandsp_start_dtmf before the bridge",
	"event-channel-execute-complete-bridge.txt": "bridged, A hangs up: the bridge application returns",
	"event-channel-hangup-complete-A.txt":       "bridged, A hangs up: A's CHANNEL_HANGUP_COMPLETE",
	"event-channel-hangup-complete-B.txt":       "bridged, A hangs up: B's CHANNEL_HANGUP_COMPLETE",
	"event-channel-unbridge.txt":                "bridged, A hangs up: CHANNEL_UNBRIDGE",
	"event-dtmf-inband-audio.txt":               "bridged with spandsp, in-band key press",
	"event-dtmf-rtp.txt":                        "bridged, RFC 2833 key press",
	"event-dtmf-on-agent-phone-leg.txt":         "unmasked RFC 2833 press is relayed to B; the agent phone's own leg is outside the switch, so the relay is asserted on the model",
}

func TestTranscriptTablesCoverEveryCapture(t *testing.T) {
	for _, path := range transcriptFiles(t) {
		name := filepath.Base(path)
		_, isReply := replies[name]
		_, isEvent := unsolicited[name]
		if isReply == isEvent {
			t.Errorf("%s: in the reply table %v, in the unsolicited table %v; want exactly one", name, isReply, isEvent)
		}
	}
}

// prepare brings a fresh call to the capture's state and returns the uuids
// that replace the capture's.
func prepare(t *testing.T, rc replayCase, tr transcript) (*Call, *controller, map[string]string) {
	t.Helper()
	sw := newSwitch(t)
	call, ctl := dial(t, sw, CallOptions{NotFull: rc.notFull})
	ids := map[string]string{"A": call.A()}
	recPath := ""
	if f := strings.Fields(tr.request); len(f) >= 5 {
		recPath = f[4]
	}
	switch rc.prep {
	case prepConnected:
		ctl.cmd("connect")
	case prepBridged, prepDisplaced, prepHungUp:
		ids["B"] = ctl.setup(call)
		if rc.prep == prepDisplaced {
			ctl.mustAPI("uuid_displace " + ids["B"] + " start " + flatTone + " 0 m")
		}
		if rc.prep == prepHungUp {
			if err := call.HangUp(context.Background(), LegA); err != nil {
				t.Fatal(err)
			}
			ctl.waitEvent("CHANNEL_HANGUP_COMPLETE", func(h map[string]string) bool { return h["Unique-ID"] == call.A() })
		}
	case prepRecording, prepMasked:
		ctl.cmd("connect")
		ctl.mustAPI("uuid_record " + call.A() + " start " + recPath)
		if rc.prep == prepMasked {
			ctl.mustAPI("uuid_record " + call.A() + " mask " + recPath)
		}
	}
	return call, ctl, ids
}

// substitute puts the simulator's uuid for leg in place of the capture's.
func substitute(req, uuid string) string {
	if uuid == "" {
		return req
	}
	return uuidRE.ReplaceAllStringFunc(req, func(u string) string {
		if u == bogusUUID {
			return u
		}
		return uuid
	})
}

func TestTranscriptReplies(t *testing.T) {
	for _, path := range transcriptFiles(t) {
		name := filepath.Base(path)
		rc, ok := replies[name]
		if !ok {
			continue
		}
		t.Run(strings.TrimSuffix(name, ".txt"), func(t *testing.T) {
			tr, err := loadTranscript(path)
			if err != nil {
				t.Fatal(err)
			}
			if tr.request == "" {
				t.Fatalf("%s has no request line", name)
			}
			want := parseRaw(t, tr.raw)
			_, ctl, ids := prepare(t, rc, tr)
			ctl.mu.Lock()
			n := len(ctl.replies)
			ctl.mu.Unlock()
			ctl.send(substitute(tr.request, ids[rc.leg]))
			var got received
			ctl.waitFor("reply", func() bool {
				if len(ctl.replies) > n {
					got = ctl.replies[n]
					return true
				}
				return false
			})
			compareReply(t, want, got, want.get("Event-Name") == "CHANNEL_DATA")
		})
	}
}

func TestTranscriptEvents(t *testing.T) {
	files := transcriptFiles(t)
	load := func(t *testing.T, name string) received {
		t.Helper()
		for _, p := range files {
			if filepath.Base(p) == name {
				tr, err := loadTranscript(p)
				if err != nil {
					t.Fatal(err)
				}
				return parseRaw(t, tr.raw)
			}
		}
		t.Fatalf("capture %s missing", name)
		return received{}
	}
	ctx := context.Background()
	hungUp := func(t *testing.T) (*Call, *controller, string) {
		sw := newSwitch(t)
		call, ctl := dial(t, sw, CallOptions{})
		b := ctl.setup(call)
		if err := call.HangUp(ctx, LegA); err != nil {
			t.Fatal(err)
		}
		ctl.waitEvent("CHANNEL_HANGUP_COMPLETE", func(h map[string]string) bool { return h["Unique-ID"] == call.A() })
		return call, ctl, b
	}

	t.Run("event-channel-bridge", func(t *testing.T) {
		sw := newSwitch(t)
		call, ctl := dial(t, sw, CallOptions{})
		b := ctl.setup(call)
		got := ctl.waitEvent("CHANNEL_BRIDGE", nil)
		compareEvent(t, load(t, "event-channel-bridge.txt"), got, "Other-Type", "Channel-State-Number", "Answer-State")
		if h := got.event(); h["Other-Leg-Unique-ID"] != b || h["Bridge-B-Unique-ID"] != b || h["Unique-ID"] != call.A() {
			t.Fatalf("bridge event legs: %v", h)
		}
	})
	t.Run("event-channel-execute-complete", func(t *testing.T) {
		sw := newSwitch(t)
		_, ctl := dial(t, sw, CallOptions{})
		ctl.cmd("connect")
		ctl.cmd("event plain CHANNEL_EXECUTE_COMPLETE")
		ctl.execute("spandsp_start_dtmf", "")
		got := ctl.waitEvent("CHANNEL_EXECUTE_COMPLETE", nil)
		compareEvent(t, load(t, "event-channel-execute-complete.txt"), got, "Application", "Application-Response")
	})
	t.Run("event-background-job", func(t *testing.T) {
		sw := newSwitch(t)
		call, ctl := dial(t, sw, CallOptions{})
		ctl.cmd("connect")
		ctl.cmd("event plain BACKGROUND_JOB")
		ctl.cmd("filter Job-Owner-UUID " + call.A())
		r := ctl.cmd("bgapi status")
		got := ctl.waitEvent("BACKGROUND_JOB", nil)
		want := load(t, "event-background-job.txt")
		compareEvent(t, want, got, "Job-Command")
		if h := got.event(); h["Job-UUID"] != r.get("Job-UUID") || h["Job-Owner-UUID"] != call.A() {
			t.Fatalf("job headers %v, reply Job-UUID %q", h, r.get("Job-UUID"))
		}
		_, wb := splitPlain(string(want.body))
		_, gb := splitPlain(string(got.body))
		if wl, gl := strings.Split(wb, "\n"), strings.Split(gb, "\n"); len(wl) != len(gl) || wl[1] != gl[1] {
			t.Fatalf("status body: want %q, got %q", wb, gb)
		}
	})
	t.Run("event-channel-unbridge", func(t *testing.T) {
		_, ctl, _ := hungUp(t)
		compareEvent(t, load(t, "event-channel-unbridge.txt"), ctl.waitEvent("CHANNEL_UNBRIDGE", nil), "Channel-State-Number", "Answer-State", "Hangup-Cause")
	})
	t.Run("event-channel-execute-complete-bridge", func(t *testing.T) {
		_, ctl, _ := hungUp(t)
		got := ctl.waitEvent("CHANNEL_EXECUTE_COMPLETE", func(h map[string]string) bool { return h["Application"] == "bridge" })
		compareEvent(t, load(t, "event-channel-execute-complete-bridge.txt"), got, "Application", "Application-Response", "Hangup-Cause")
	})
	t.Run("event-channel-hangup-complete-A", func(t *testing.T) {
		call, ctl, _ := hungUp(t)
		got := ctl.waitEvent("CHANNEL_HANGUP_COMPLETE", func(h map[string]string) bool { return h["Unique-ID"] == call.A() })
		compareEvent(t, load(t, "event-channel-hangup-complete-A.txt"), got, "Channel-State", "Channel-Call-State", "Hangup-Cause", "Other-Type")
	})
	t.Run("event-channel-hangup-complete-B", func(t *testing.T) {
		_, ctl, b := hungUp(t)
		got := ctl.waitEvent("CHANNEL_HANGUP_COMPLETE", func(h map[string]string) bool { return h["Unique-ID"] == b })
		compareEvent(t, load(t, "event-channel-hangup-complete-B.txt"), got, "Channel-State", "Call-Direction", "Other-Type", "Other-Leg-Logical-Direction")
	})
	for _, tc := range []struct {
		file   string
		mode   DTMFMode
		source string
	}{
		{"event-dtmf-inband-audio.txt", Inband, "INBAND_AUDIO"},
		{"event-dtmf-rtp.txt", RFC2833, "RTP"},
	} {
		t.Run(strings.TrimSuffix(tc.file, ".txt"), func(t *testing.T) {
			sw := newSwitch(t)
			call, ctl := dial(t, sw, CallOptions{})
			ctl.setup(call)
			press(t, call, "4", tc.mode)
			got := ctl.waitEvent("DTMF", nil)
			compareEvent(t, load(t, tc.file), got, "DTMF-Digit", "DTMF-Duration", "DTMF-Source")
			if got.event()["DTMF-Source"] != tc.source {
				t.Fatalf("DTMF-Source %q", got.event()["DTMF-Source"])
			}
		})
	}
	t.Run("event-dtmf-on-agent-phone-leg", func(t *testing.T) {
		want := load(t, "event-dtmf-on-agent-phone-leg.txt").event()
		if want["DTMF-Source"] != "RTP" {
			t.Fatalf("capture shows the relay as %q, want RTP", want["DTMF-Source"])
		}
		sw := newSwitch(t)
		call, ctl := dial(t, sw, CallOptions{})
		b := ctl.setup(call)
		kp := press(t, call, "4", RFC2833)[0]
		if !kp.AgentGotRFC2833 {
			t.Fatal("unmasked RFC 2833 digit was not relayed to the agent")
		}
		ctl.waitEvent("DTMF", nil)
		for _, e := range ctl.eventsNamed("DTMF") {
			if e["Unique-ID"] == b {
				t.Fatal("a relayed digit produced a DTMF event on B; FreeSWITCH reports only received digits")
			}
		}
	})
	t.Run("disconnect-notice-with-linger", func(t *testing.T) {
		_, ctl, _ := hungUp(t)
		compareNotice(t, load(t, "disconnect-notice-with-linger.txt"), ctl.waitNotice(0))
	})
	t.Run("disconnect-notice-after-exit", func(t *testing.T) {
		_, ctl, _ := hungUp(t)
		if r := ctl.cmd("exit"); r.text() != "+OK bye" {
			t.Fatalf("exit: %q", r.text())
		}
		compareNotice(t, load(t, "disconnect-notice-after-exit.txt"), ctl.waitNotice(1))
		ctl.waitClosed()
	})
	for _, tc := range []struct {
		file    string
		notFull bool
	}{
		{"disconnect-notice-without-linger.txt", false},
		{"not-full-disconnect-notice.txt", true},
	} {
		t.Run(strings.TrimSuffix(tc.file, ".txt"), func(t *testing.T) {
			sw := newSwitch(t)
			call, ctl := dial(t, sw, CallOptions{NotFull: tc.notFull})
			ctl.cmd("connect")
			if tc.notFull {
				if r := ctl.cmd("linger"); r.text() != "-ERR command not found" {
					t.Fatalf("linger without full: %q", r.text())
				}
			}
			ctl.cmd("myevents")
			if err := call.HangUp(ctx, LegA); err != nil {
				t.Fatal(err)
			}
			compareNotice(t, load(t, tc.file), ctl.waitNotice(0))
			ctl.waitClosed()
		})
	}
}
