package fssim

import (
	"strings"
	"time"
)

// sendmsg handles `sendmsg [uuid]` with call-command execute or hangup. In
// async mode FreeSWITCH answers +OK at once and the application runs after;
// its end is reported by CHANNEL_EXECUTE_COMPLETE.
func (c *Call) sendmsg(f *frame) reply {
	uuid := strings.TrimSpace(f.line[len("sendmsg"):])
	if uuid == "" {
		uuid = f.get("session-id")
	}
	target := c.a
	if uuid != "" && uuid != c.a.uuid {
		target = c.sw.live(uuid)
		if target == nil {
			return reply{text: "-ERR invalid session id [" + uuid + "]"}
		}
	}
	tc := target.call
	switch strings.ToLower(f.get("call-command")) {
	case "execute":
		app := f.get("execute-app-name")
		arg := f.get("execute-app-arg")
		if arg == "" && len(f.body) > 0 {
			arg = string(f.body)
		}
		appUUID := f.get("Event-UUID")
		if appUUID == "" {
			appUUID = newUUID()
		}
		return reply{text: "+OK", after: func() { tc.execute(target, app, arg, appUUID) }}
	case "hangup":
		cause := strings.ToUpper(f.get("hangup-cause"))
		return reply{text: "+OK", after: func() {
			tc.mu.Lock()
			defer tc.mu.Unlock()
			tc.hangup(target, cause)
		}}
	}
	return reply{text: "+OK"}
}

// knownApps are dialplan applications the simulator accepts without
// modelling them: they complete at once and change nothing it tracks.
var knownApps = map[string]bool{
	"answer": true, "pre_answer": true, "ring_ready": true, "park": true, "sleep": true, "log": true,
	"info": true, "event": true, "multiset": true, "hold": true, "unhold": true, "echo": true,
	"sched_hangup": true, "flush_dtmf": true, "send_dtmf": true, "bind_digit_action": true,
	"clear_digit_action": true, "digit_action_set_realm": true, "deflect": true, "respond": true,
}

// execute runs a dialplan application on leg l: CHANNEL_EXECUTE, the
// application's effect, then CHANNEL_EXECUTE_COMPLETE. Unknown applications
// hang the channel up, as FreeSWITCH does ("Invalid Application").
func (c *Call) execute(l *leg, app, arg, appUUID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if l.state != legUp {
		return
	}
	name := strings.ToLower(app)
	if arg != "" {
		l.setVar("current_application_data", arg, false)
	}
	l.setVar("current_application", app, false)
	c.fire(executeEvent(l, false, app, arg, appUUID, ""))
	response := "_none_"
	m := &l.media
	switch name {
	case "spandsp_start_dtmf":
		if m.spandsp == 0 {
			m.spandsp = m.nextPos()
		}
	case "spandsp_stop_dtmf":
		m.spandsp = 0
	case "start_dtmf":
		if m.core == 0 {
			m.core = m.nextPos()
		}
	case "stop_dtmf":
		m.core = 0
	case "bridge":
		c.bridge(l, arg, appUUID)
		return
	case "set", "export":
		k, v, _ := strings.Cut(arg, "=")
		l.setVar(k, v, v == "")
	case "unset":
		l.setVar(arg, "", true)
	case "playback", "endless_playback":
		if l.isA {
			c.prompts = append(c.prompts, arg)
		}
		response = "FILE PLAYED"
	case "record_session":
		path, _, _ := strings.Cut(arg, " ")
		c.startRecording(l, path)
	case "stop_record_session":
		c.stopRecording(l, arg)
	case "displace_session":
		// displace_session <file> [<flags>] [+time_limit_ms]
		w := strings.Fields(arg)
		if len(w) > 0 {
			flags := ""
			if len(w) > 1 && !strings.HasPrefix(w[1], "+") {
				flags = w[1]
			}
			c.startDisplace(l, w[0], 0, flags)
		}
	case "stop_displace_session":
		c.stopDisplace(l, arg)
	case "hangup":
		c.fire(executeEvent(l, true, app, arg, appUUID, response))
		c.hangup(l, strings.ToUpper(arg))
		return
	default:
		if !knownApps[name] {
			c.log.Warn("invalid application; hanging up", "app", app)
			c.hangup(l, "DESTINATION_OUT_OF_ORDER")
			return
		}
	}
	c.fire(executeEvent(l, true, app, arg, appUUID, response))
}

// dialString is a parsed bridge argument.
type dialString struct {
	vars    map[string]string
	dest    string // first destination, without per-leg variables
	user    string // the agent's user (7200 in sofia/internal/7200@host)
	uri     string // user@host[:port]
	channel string // channel name of the B leg
}

// parseDialString parses `{k=v,...}[k=v]dest[,|dest2...]`. Only the first
// destination is dialled.
func parseDialString(s string) dialString {
	d := dialString{vars: map[string]string{}}
	s = strings.TrimSpace(s)
	for len(s) > 0 && (s[0] == '{' || s[0] == '<' || s[0] == '[') {
		closer := map[byte]byte{'{': '}', '<': '>', '[': ']'}[s[0]]
		end := strings.IndexByte(s, closer)
		if end < 0 {
			break
		}
		for _, kv := range strings.Split(s[1:end], ",") {
			k, v, ok := strings.Cut(kv, "=")
			if ok {
				d.vars[strings.TrimSpace(k)] = strings.Trim(strings.TrimSpace(v), `'"`)
			}
		}
		s = strings.TrimSpace(s[end+1:])
	}
	if i := strings.IndexAny(s, ",|"); i >= 0 {
		s = s[:i]
	}
	if i := strings.Index(s, ":_:"); i >= 0 {
		s = s[:i]
	}
	d.dest = s
	last := s
	if i := strings.LastIndexByte(s, '/'); i >= 0 {
		last = s[i+1:]
	}
	d.user, _, _ = strings.Cut(last, "@")
	d.uri = last
	if !strings.Contains(last, "@") {
		d.uri = last + "@127.0.0.1"
	}
	d.channel = s
	if !strings.HasPrefix(s, "sofia/") {
		d.channel = "sofia/internal/" + d.uri
	}
	return d
}

// bridge runs the bridge application on A: it originates leg B with the uuid
// chosen in the dial string, answers it (after AnswerDelay) and bridges.
// The application keeps running until the bridge ends. The caller holds c.mu.
func (c *Call) bridge(a *leg, arg, appUUID string) {
	d := parseDialString(arg)
	cause := c.opts.BridgeFailure
	switch {
	case !a.isA || c.peer() != nil || c.answerTimer != nil:
		cause = "CALL_REJECTED"
	case d.dest == "":
		cause = "INVALID_NUMBER_FORMAT"
	case strings.HasPrefix(d.dest, "error/"):
		cause = strings.ToUpper(strings.TrimPrefix(d.dest, "error/"))
	}
	buuid := d.vars["origination_uuid"]
	if buuid == "" {
		buuid = newUUID()
	}
	if cause == "" && c.sw.lookup(buuid) != nil {
		cause = "DESTINATION_OUT_OF_ORDER"
	}
	if cause != "" {
		c.bridgeFailed(a, arg, appUUID, cause)
		return
	}
	answer := func() {
		if c.a.state != legUp {
			return
		}
		if !c.answerBridge(d, buuid, arg, appUUID) {
			c.bridgeFailed(a, arg, appUUID, "DESTINATION_OUT_OF_ORDER")
		}
	}
	if c.opts.AnswerDelay <= 0 {
		answer()
		return
	}
	var t *time.Timer
	t = time.AfterFunc(c.opts.AnswerDelay, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.answerTimer != t {
			return
		}
		c.answerTimer = nil
		answer()
		if !c.sockOpen && c.peer() == nil {
			c.hangupA("NORMAL_CLEARING")
		}
	})
	c.answerTimer = t
}

// bridgeFailed ends a bridge application that could not connect the agent.
func (c *Call) bridgeFailed(a *leg, arg, appUUID, cause string) {
	a.setVar("originate_disposition", cause, false)
	a.setVar("DIALSTATUS", cause, false)
	a.setVar("originate_failed_cause", cause, false)
	c.fire(executeEvent(a, true, "bridge", arg, appUUID, "_none_"))
}

// answerBridge creates and answers leg B and bridges it to A.
func (c *Call) answerBridge(d dialString, buuid, arg, appUUID string) bool {
	a := c.a
	now := micros(time.Now())
	b := &leg{
		call: c, uuid: buuid, tmpl: varsB, username: a.username, dest: d.user,
		created: now, bridged: now, other: a,
	}
	b.ph = [numPlaceholders]string{
		phUUID: buuid, phCaller: a.username, phDest: d.user, phSession: randNumber(100, 1000),
		phCallID: newUUID(), phStamp: a.ph[phStamp], phFromTag: randToken(13), phToTag: randToken(13),
		phBranch: randToken(16), phSSRC: randNumber(1e8, 2e9),
		phLocalPort: randPort(), phRemotePort: randPort(),
		phChan: d.channel, phPeer: a.uuid, phPeerChan: a.chanName(), phURI: d.uri,
	}
	if !c.sw.register(b) {
		return false
	}
	c.b = b
	c.bridged = true
	c.bridgeUUID, c.bridgeArg = appUUID, arg
	a.other, a.callee, a.bridged = b, d.user, now
	v, _ := a.getVar("bridge_filter_dtmf")
	c.bridgeFilter = isTrue(v)
	a.setVar("originated_legs", buuid+";Outbound Call;"+d.user, false)
	a.setVar("originate_disposition", "SUCCESS", false)
	a.setVar("DIALSTATUS", "SUCCESS", false)
	a.setVar("originate_causes", buuid+";NONE", false)
	a.setVar("last_bridge_to", buuid, false)
	a.setVar("bridge_channel", d.channel, false)
	a.setVar("bridge_uuid", buuid, false)
	a.setVar("signal_bond", buuid, false)
	c.fire(channelEvent("CHANNEL_CREATE", b, true))
	c.fire(channelEvent("CHANNEL_ANSWER", b, true))
	e := channelEvent("CHANNEL_BRIDGE", a, true)
	e.pre = []header{{"Bridge-A-Unique-ID", a.uuid}, {"Bridge-B-Unique-ID", b.uuid}}
	c.fire(e)
	select {
	case <-c.bridgedCh:
	default:
		close(c.bridgedCh)
	}
	c.signal()
	return true
}
