package fssim

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// eventNames are FreeSWITCH's event type names (switch_event.c), which
// `event` and `nixevent` accept; unknown names are ignored, as FreeSWITCH does.
var eventNames = []string{
	"CUSTOM", "CLONE", "CHANNEL_CREATE", "CHANNEL_DESTROY", "CHANNEL_STATE", "CHANNEL_CALLSTATE",
	"CHANNEL_ANSWER", "CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE", "CHANNEL_EXECUTE",
	"CHANNEL_EXECUTE_COMPLETE", "CHANNEL_HOLD", "CHANNEL_UNHOLD", "CHANNEL_BRIDGE", "CHANNEL_UNBRIDGE",
	"CHANNEL_PROGRESS", "CHANNEL_PROGRESS_MEDIA", "CHANNEL_OUTGOING", "CHANNEL_PARK", "CHANNEL_UNPARK",
	"CHANNEL_APPLICATION", "CHANNEL_ORIGINATE", "CHANNEL_UUID", "API", "LOG", "INBOUND_CHAN",
	"OUTBOUND_CHAN", "STARTUP", "SHUTDOWN", "PUBLISH", "UNPUBLISH", "TALK", "NOTALK", "SESSION_CRASH",
	"MODULE_LOAD", "MODULE_UNLOAD", "DTMF", "MESSAGE", "PRESENCE_IN", "NOTIFY_IN", "PRESENCE_OUT",
	"PRESENCE_PROBE", "MESSAGE_WAITING", "MESSAGE_QUERY", "ROSTER", "CODEC", "BACKGROUND_JOB",
	"DETECTED_SPEECH", "DETECTED_TONE", "PRIVATE_COMMAND", "HEARTBEAT", "TRAP", "ADD_SCHEDULE",
	"DEL_SCHEDULE", "EXE_SCHEDULE", "RE_SCHEDULE", "RELOADXML", "NOTIFY", "PHONE_FEATURE",
	"PHONE_FEATURE_SUBSCRIBE", "SEND_MESSAGE", "RECV_MESSAGE", "REQUEST_PARAMS", "CHANNEL_DATA",
	"GENERAL", "COMMAND", "SESSION_HEARTBEAT", "CLIENT_DISCONNECTED", "SERVER_DISCONNECTED",
	"SEND_INFO", "RECV_INFO", "RECV_RTCP_MESSAGE", "SEND_RTCP_MESSAGE", "CALL_SECURE", "NAT",
	"RECORD_START", "RECORD_STOP", "PLAYBACK_START", "PLAYBACK_STOP", "CALL_UPDATE", "FAILURE",
	"SOCKET_DATA", "MEDIA_BUG_START", "MEDIA_BUG_STOP", "CONFERENCE_DATA_QUERY", "CONFERENCE_DATA",
	"CALL_SETUP_REQ", "CALL_SETUP_RESULT", "CALL_DETAIL", "DEVICE_STATE", "TEXT",
	"SHUTDOWN_REQUESTED", "ALL",
}

// eventIndex maps an event name to its bit in a listener's subscription set.
var eventIndex = func() map[string]int {
	m := make(map[string]int, len(eventNames))
	for i, n := range eventNames {
		m[n] = i
	}
	return m
}()

// lookupEvent resolves a name as switch_name_event does: case-insensitive,
// with or without the SWITCH_EVENT_ prefix.
func lookupEvent(name string) (int, bool) {
	n := strings.ToUpper(name)
	n = strings.TrimPrefix(n, "SWITCH_EVENT_")
	i, ok := eventIndex[n]
	return i, ok
}

// myEventsNames are the events `myevents` subscribes to (mod_event_socket.c).
var myEventsNames = []string{
	"CHANNEL_ANSWER", "CHANNEL_APPLICATION", "CHANNEL_BRIDGE", "CHANNEL_CREATE", "CHANNEL_DATA",
	"CHANNEL_DESTROY", "CHANNEL_EXECUTE", "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_HANGUP",
	"CHANNEL_HANGUP_COMPLETE", "CHANNEL_ORIGINATE", "CHANNEL_UUID", "CHANNEL_OUTGOING", "CHANNEL_PARK",
	"CHANNEL_PROGRESS", "CHANNEL_PROGRESS_MEDIA", "CHANNEL_STATE", "CHANNEL_UNBRIDGE", "CHANNEL_UNPARK",
	"DETECTED_SPEECH", "DTMF", "NOTALK", "TALK",
}

// eventSet is a set of event types, one bit per entry of eventNames.
type eventSet [2]uint64

func (s *eventSet) set(i int)      { s[i/64] |= 1 << (uint(i) % 64) }
func (s *eventSet) clear(i int)    { s[i/64] &^= 1 << (uint(i) % 64) }
func (s *eventSet) has(i int) bool { return s[i/64]&(1<<(uint(i)%64)) != 0 }
func (s *eventSet) setAll()        { s[0], s[1] = ^uint64(0), ^uint64(0) }
func (s *eventSet) hasName(n string) bool {
	i, ok := eventIndex[n]
	return ok && s.has(i)
}

// listener is the event side of one controller socket.
type listener struct {
	enabled  bool
	events   eventSet
	format   string // plain, json or xml
	myevents bool
	filters  []header
}

// open reports whether the listener receives the events of every call.
func (l *listener) open() bool { return l.enabled && !l.myevents && len(l.filters) == 0 }

// event is one event about to be delivered.
type event struct {
	name      string
	file, fn  string
	line      int
	leg       *leg     // channel the event is about; nil for BACKGROUND_JOB
	pre       []header // headers between Event-Sequence and the channel data
	reporting bool     // channel in CS_REPORTING (CHANNEL_HANGUP_COMPLETE)
	vars      bool     // include the channel variables
	post      []header // headers after the channel data
	body      string   // inner body (BACKGROUND_JOB)
	seq       uint64
	at        time.Time
	buf       *wbuf // rendered plain body, built at most once
}

// uniqueID is the event's Unique-ID header, "" when it has none.
func (e *event) uniqueID() string {
	if e.leg == nil {
		return ""
	}
	return e.leg.uuid
}

// render builds the plain body of the event once, in a pooled buffer that
// release returns.
func (e *event) render(s *Switch) []byte {
	if e.buf != nil {
		return *e.buf
	}
	e.buf = getBuf()
	b := e.buf
	b.put("Event-Name: ")
	b.put(e.name)
	b.putc('\n')
	b.put(s.static)
	writeDates(b, e.at)
	b.put("Event-Calling-File: ")
	b.put(e.file)
	b.put("\nEvent-Calling-Function: ")
	b.put(e.fn)
	b.put("\nEvent-Calling-Line-Number: ")
	b.putInt(int64(e.line))
	b.put("\nEvent-Sequence: ")
	b.putInt(int64(e.seq))
	b.putc('\n')
	writeHeaders(b, e.pre)
	if e.leg != nil {
		e.leg.writeChannel(b, e.reporting)
		if e.vars {
			e.leg.writeVars(b)
		}
	}
	writeHeaders(b, e.post)
	if e.body != "" {
		b.put("Content-Length: ")
		b.putInt(int64(len(e.body)))
		b.put("\n\n")
		b.put(e.body)
	} else {
		b.putc('\n')
	}
	return *b
}

// release returns the event's buffer to the pool. The caller holds no
// reference to the rendered bytes afterwards.
func (e *event) release() {
	if e.buf != nil {
		putBuf(e.buf)
		e.buf = nil
	}
}

// writeDates appends Event-Date-Local, Event-Date-GMT and Event-Date-Timestamp.
func writeDates(b *wbuf, t time.Time) {
	var tmp [48]byte
	b.put("Event-Date-Local: ")
	appendEncoded(b, t.AppendFormat(tmp[:0], "2006-01-02 15:04:05"))
	b.put("\nEvent-Date-GMT: ")
	appendEncoded(b, t.UTC().AppendFormat(tmp[:0], "Mon, 02 Jan 2006 15:04:05 GMT"))
	b.put("\nEvent-Date-Timestamp: ")
	b.putInt(micros(t))
	b.putc('\n')
}

func writeHeaders(b *wbuf, hs []header) {
	for _, h := range hs {
		b.put(h.name)
		b.put(": ")
		b.putValue(h.value)
		b.putc('\n')
	}
}

// header returns the raw value of the named header of the event, as filters
// compare it.
func (e *event) header(s *Switch, name string) (string, bool) {
	switch {
	case strings.EqualFold(name, "Unique-ID"):
		u := e.uniqueID()
		return u, u != ""
	case strings.EqualFold(name, "Event-Name"):
		return e.name, true
	}
	plain := e.render(s)
	if end := bytes.Index(plain, []byte("\n\n")); end >= 0 {
		plain = plain[:end+1]
	}
	for len(plain) > 0 {
		line, rest, _ := bytes.Cut(plain, []byte{'\n'})
		plain = rest
		n, v, ok := bytes.Cut(line, []byte(": "))
		if ok && strings.EqualFold(string(n), name) {
			return urlDecode(string(v)), true
		}
	}
	return "", false
}

// passes applies the listener's myevents restriction and filters, following
// mod_event_socket's event_handler: with filters, an event is sent when a
// filter matches it; a filter value starting with '-' vetoes a match.
func (l *listener) passes(s *Switch, e *event, own string) bool {
	if l.myevents && e.uniqueID() != own {
		return false
	}
	if len(l.filters) == 0 {
		return true
	}
	send := false
	for _, f := range l.filters {
		v, ok := e.header(s, f.name)
		if !ok {
			continue
		}
		want := strings.TrimLeft(f.value, " ")
		pos := true
		for want != "" && (want[0] == '+' || want[0] == '-' || want[0] == ' ') {
			pos = want[0] != '-'
			want = want[1:]
		}
		if send && pos {
			continue
		}
		if strings.EqualFold(v, want) {
			if !pos {
				return false
			}
			send = true
		}
	}
	return send
}

// wire returns the outer headers and the body of the event as sent on a
// socket in the given format.
func (e *event) wire(s *Switch, format string) (head, body []byte) {
	body = e.render(s)
	ctype := "text/event-plain"
	switch format {
	case "json":
		body, ctype = []byte(plainToJSON(string(body))), "text/event-json"
	case "xml":
		body, ctype = []byte(plainToXML(string(body))), "text/event-xml"
	}
	head = make([]byte, 0, 64)
	head = append(head, "Content-Length: "...)
	head = strconv.AppendInt(head, int64(len(body)), 10)
	head = append(head, "\nContent-Type: "...)
	head = append(head, ctype...)
	head = append(head, "\n\n"...)
	return head, body
}

// splitPlain splits a plain event body into decoded headers and inner body.
func splitPlain(plain string) ([]header, string) {
	head, body, _ := strings.Cut(plain, "\n\n")
	var hs []header
	for _, line := range strings.Split(head, "\n") {
		if n, v, ok := strings.Cut(line, ": "); ok && n != "Content-Length" {
			hs = append(hs, header{name: n, value: urlDecode(v)})
		}
	}
	return hs, body
}

// plainToJSON renders an event as FreeSWITCH's text/event-json body.
func plainToJSON(plain string) string {
	hs, body := splitPlain(plain)
	var b strings.Builder
	b.WriteString("{")
	for i, h := range hs {
		if i > 0 {
			b.WriteString(",")
		}
		k, _ := json.Marshal(h.name)
		v, _ := json.Marshal(h.value)
		b.Write(k)
		b.WriteString(":")
		b.Write(v)
	}
	if body != "" {
		v, _ := json.Marshal(body)
		b.WriteString(`,"_body":`)
		b.Write(v)
	}
	b.WriteString("}")
	return b.String()
}

// plainToXML renders an event as FreeSWITCH's text/event-xml body.
func plainToXML(plain string) string {
	hs, body := splitPlain(plain)
	var b strings.Builder
	b.WriteString("<event>\n  <headers>\n")
	for _, h := range hs {
		b.WriteString("    <")
		b.WriteString(h.name)
		b.WriteString(">")
		b.WriteString(urlEncode(h.value))
		b.WriteString("</")
		b.WriteString(h.name)
		b.WriteString(">\n")
	}
	b.WriteString("  </headers>\n")
	if body != "" {
		b.WriteString("  <body>")
		b.WriteString(urlEncode(body))
		b.WriteString("</body>\n")
	}
	b.WriteString("</event>")
	return b.String()
}

// fire delivers an event of this call to its own controller and to every
// listener on the switch that receives all events. It reports whether the
// call's own controller was sent the event. The caller holds c.mu.
func (c *Call) fire(e *event) bool {
	e.seq = c.sw.nextSeq()
	e.at = time.Now()
	defer e.release()
	own := c.deliver(e)
	for _, o := range c.sw.openListeners(c) {
		o.deliver(e)
	}
	return own
}

// deliver writes the event to this call's socket if its listener wants it.
func (c *Call) deliver(e *event) bool {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.wclosed || !c.lst.enabled || !c.lst.events.hasName(e.name) {
		return false
	}
	if !c.lst.passes(c.sw, e, c.a.uuid) {
		return false
	}
	head, body := e.wire(c.sw, c.lst.format)
	return c.writeLocked(head, body) == nil
}

// Event constructors. Each mirrors the calling file, function and line the
// real switch reports for that event.

func channelEvent(name string, l *leg, vars bool) *event {
	e := &event{name: name, leg: l, vars: vars}
	switch name {
	case "DTMF":
		e.file, e.fn, e.line = "switch_channel.c", "switch_channel_dequeue_dtmf", 677
	case "CHANNEL_EXECUTE":
		e.file, e.fn, e.line = "switch_core_session.c", "switch_core_session_exec", 2944
	case "CHANNEL_EXECUTE_COMPLETE":
		e.file, e.fn, e.line = "switch_core_session.c", "switch_core_session_exec", 2967
	case "CHANNEL_BRIDGE":
		e.file, e.fn, e.line = "switch_ivr_bridge.c", "switch_ivr_multi_threaded_bridge", 1689
	case "CHANNEL_UNBRIDGE":
		e.file, e.fn, e.line = "switch_ivr_bridge.c", "switch_ivr_multi_threaded_bridge", 1879
	case "CHANNEL_HANGUP":
		e.file, e.fn, e.line = "switch_channel.c", "switch_channel_perform_hangup", 3445
	case "CHANNEL_HANGUP_COMPLETE":
		e.file, e.fn, e.line = "switch_core_state_machine.c", "switch_core_session_reporting_state", 943
		e.reporting = true
	case "CHANNEL_ANSWER":
		e.file, e.fn, e.line = "switch_channel.c", "switch_channel_perform_mark_answered", 3846
	case "CHANNEL_CREATE":
		e.file, e.fn, e.line = "switch_core_state_machine.c", "switch_core_session_run", 626
	case "RECORD_START":
		e.file, e.fn, e.line = "switch_ivr_async.c", "record_callback", 1481
	case "RECORD_STOP":
		e.file, e.fn, e.line = "switch_ivr_async.c", "send_record_stop_event", 1240
	default:
		e.file, e.fn, e.line = "switch_channel.c", "switch_channel_event_set_data", 1
	}
	return e
}

// executeEvent is CHANNEL_EXECUTE (complete == false) or
// CHANNEL_EXECUTE_COMPLETE for an application run on leg l.
func executeEvent(l *leg, complete bool, app, arg, appUUID, response string) *event {
	name := "CHANNEL_EXECUTE"
	if complete {
		name = "CHANNEL_EXECUTE_COMPLETE"
	}
	e := channelEvent(name, l, true)
	e.post = append(e.post, header{"Application", app})
	if arg != "" {
		e.post = append(e.post, header{"Application-Data", arg})
	}
	if complete {
		e.post = append(e.post, header{"Application-Response", response})
	}
	e.post = append(e.post, header{"Application-UUID", appUUID})
	return e
}
