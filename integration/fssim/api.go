package fssim

import (
	"strconv"
	"strings"
	"time"
)

// Usage texts of the API commands, as mod_commands prints them.
const (
	usageAudio    = "-USAGE: <uuid> [start [read|write] [mute|level <level>]|stop]\n"
	usageDropDTMF = "-USAGE: <uuid> [on | off ] [ mask_digits <digits> | mask_file <file>]\n"
	usageDisplace = "-USAGE: <uuid> [start|stop] <path> [<limit>] [mux]\n"
	usageRecord   = "-USAGE: <uuid> [start|stop|mask|unmask|pause|resume] <path> [<limit>] [<recording_vars>]\n"
	usageKill     = "-USAGE: <uuid> [cause]\n"
	usageSetVar   = "-USAGE: <uuid> <var> [value]\n"
	usageGetVar   = "-USAGE: <uuid> <var>\n"
	usageRecvDTMF = "-USAGE: <uuid> <dtmf_data>\n"
	noSuchChannel = "-ERR No such channel!\n"
	cannotLocate  = "-ERR Cannot locate session!\n"
)

// api runs an API command and returns the api/response body. Work that
// FreeSWITCH does after answering (a hang-up, injected digits) is returned as
// after.
func (c *Call) api(name, arg string) (body string, after func()) {
	switch strings.ToLower(name) {
	case "uuid_audio":
		return c.sw.apiAudio(arg), nil
	case "uuid_drop_dtmf":
		return c.sw.apiDropDTMF(arg), nil
	case "uuid_displace":
		return c.sw.apiDisplace(arg), nil
	case "uuid_record":
		return c.sw.apiRecord(arg), nil
	case "uuid_kill":
		return c.sw.apiKill(arg)
	case "uuid_setvar":
		return c.sw.apiSetVar(arg), nil
	case "uuid_getvar":
		return c.sw.apiGetVar(arg), nil
	case "uuid_recv_dtmf":
		return c.sw.apiRecvDTMF(arg)
	case "uuid_exists":
		if l := c.sw.lookup(strings.TrimSpace(arg)); l != nil {
			return "true", nil
		}
		return "false", nil
	case "status":
		return c.sw.statusText(), nil
	case "version":
		return "FreeSWITCH Version 1.10.12-release~64bit ( 64bit)\n", nil
	case "hostname":
		return c.sw.opts.Hostname, nil
	case "echo":
		return arg, nil
	}
	return "-ERR " + name + " Command not found!\n", nil
}

// withLeg runs fn on the live leg with that uuid while holding its call's
// lock. It reports false if there is no such live leg.
func (s *Switch) withLeg(uuid string, fn func(c *Call, l *leg) string) (string, bool) {
	l := s.lookup(uuid)
	if l == nil {
		return "", false
	}
	c := l.call
	c.mu.Lock()
	defer c.mu.Unlock()
	if l.state != legUp {
		return "", false
	}
	return fn(c, l), true
}

// apiAudio implements uuid_audio (mod_commands session_audio_function).
func (s *Switch) apiAudio(arg string) string {
	argv := strings.Fields(arg)
	if len(argv) < 2 {
		return usageAudio
	}
	out, ok := s.withLeg(argv[0], func(c *Call, l *leg) string {
		if strings.EqualFold(argv[1], "stop") {
			l.media.audio = nil
			return "+OK\n"
		}
		if !strings.EqualFold(argv[1], "start") || len(argv) < 5 ||
			(!strings.EqualFold(argv[2], "read") && !strings.EqualFold(argv[2], "write")) {
			return usageAudio
		}
		level, _ := strconv.Atoi(argv[4])
		read := strings.EqualFold(argv[2], "read")
		switch strings.ToLower(argv[3]) {
		case "mute":
		case "level":
			// A gain change never silences the audio completely.
			level = 0
		default:
			return usageAudio
		}
		if l.media.audio == nil {
			l.media.audio = &audioBug{pos: l.media.nextPos()}
		}
		if read {
			l.media.audio.readMute = level != 0
		} else {
			l.media.audio.writeMute = level != 0
		}
		return "+OK\n"
	})
	if !ok {
		return noSuchChannel
	}
	return out
}

// apiDropDTMF implements uuid_drop_dtmf <uuid> on|off mask_digits|mask_file <x>.
func (s *Switch) apiDropDTMF(arg string) string {
	argv := strings.Fields(arg)
	if len(argv) < 4 {
		return usageDropDTMF
	}
	on := strings.EqualFold(argv[1], "on")
	if !on && !strings.EqualFold(argv[1], "off") {
		return usageDropDTMF
	}
	file, digits := "NONE", "NONE"
	switch strings.ToLower(argv[2]) {
	case "mask_digits":
		digits = argv[3]
	case "mask_file":
		file = argv[3]
	default:
		return usageDropDTMF
	}
	out, ok := s.withLeg(argv[0], func(c *Call, l *leg) string {
		l.media.dropDTMF = on
		not := ""
		if !on {
			not = "not "
		}
		return "+OK " + l.uuid + " is " + not + "dropping DTMF. mask_file: " + file + " mask_digits: " + digits + "\n"
	})
	if !ok {
		return "-ERR No such channel " + argv[0] + "!\n"
	}
	return out
}

// apiDisplace implements uuid_displace <uuid> start|stop <file> [limit] [flags].
func (s *Switch) apiDisplace(arg string) string {
	argv := strings.Fields(arg)
	if len(argv) < 3 {
		return usageDisplace
	}
	out, ok := s.withLeg(argv[0], func(c *Call, l *leg) string {
		action, file := strings.ToLower(argv[1]), argv[2]
		var limit int
		var flags string
		if len(argv) > 3 {
			limit, _ = strconv.Atoi(argv[3])
		}
		if len(argv) > 4 {
			flags = argv[4]
		}
		switch action {
		case "start":
			if !c.startDisplace(l, file, limit, flags) {
				return "-ERR Cannot start displace session!\n"
			}
		case "stop":
			if !c.stopDisplace(l, file) {
				return "-ERR Cannot stop displace session!\n"
			}
		default:
			return usageDisplace
		}
		return "+OK Success\n"
	})
	if !ok {
		return cannotLocate
	}
	return out
}

// startDisplace adds a displace bug; it fails, as FreeSWITCH does, if the
// same file is already displacing on the leg. The caller holds c.mu.
func (c *Call) startDisplace(l *leg, file string, limit int, flags string) bool {
	now := time.Now()
	l.media.prune(now)
	if l.media.findDisplace(file) != nil {
		return false
	}
	d := &displace{
		pos:      l.media.nextPos(),
		file:     file,
		mux:      strings.Contains(flags, "m"),
		readSide: strings.Contains(flags, "r"),
	}
	dur := displaceDuration(file, strings.Contains(flags, "l"), c.opts.PromptDuration)
	if limit > 0 && (dur == 0 || time.Duration(limit)*time.Second < dur) {
		dur = time.Duration(limit) * time.Second
	}
	if dur > 0 {
		d.until = now.Add(dur)
	}
	l.media.displaces = append(l.media.displaces, d)
	if l.isA != d.readSide {
		c.prompts = append(c.prompts, file)
	}
	return true
}

// stopDisplace removes a displace started with exactly that file.
func (c *Call) stopDisplace(l *leg, file string) bool {
	l.media.prune(time.Now())
	for i, d := range l.media.displaces {
		if d.file == file {
			l.media.displaces = append(l.media.displaces[:i], l.media.displaces[i+1:]...)
			return true
		}
	}
	return false
}

// apiRecord implements uuid_record <uuid> start|stop|mask|unmask|pause|resume <path>.
func (s *Switch) apiRecord(arg string) string {
	argv := strings.Fields(arg)
	if len(argv) < 3 {
		return usageRecord
	}
	out, ok := s.withLeg(argv[0], func(c *Call, l *leg) string {
		action, path := strings.ToLower(argv[1]), argv[2]
		switch action {
		case "start":
			if !c.startRecording(l, path) {
				return "-ERR Cannot record session!\n"
			}
		case "stop":
			if !c.stopRecording(l, path) {
				return "-ERR Cannot stop record session!\n"
			}
		case "mask", "unmask":
			r := l.media.findRecording(path)
			if r == nil {
				return "-ERR Cannot " + action + " recording session!\n"
			}
			r.masked = action == "mask"
		case "pause", "resume":
			if l.media.findRecording(path) == nil {
				return "-ERR Cannot " + action + " recording session!\n"
			}
		default:
			return usageRecord
		}
		return "+OK Success\n"
	})
	if !ok {
		return cannotLocate
	}
	return out
}

// startRecording starts recording leg l to path. The caller holds c.mu.
func (c *Call) startRecording(l *leg, path string) bool {
	if path == "" || l.media.findRecording(path) != nil {
		return false
	}
	l.media.recordings = append(l.media.recordings, &recording{path: path})
	e := channelEvent("RECORD_START", l, true)
	e.post = []header{{"Record-File-Path", path}}
	c.fire(e)
	return true
}

// stopRecording stops the recording to path ("all" stops every one).
func (c *Call) stopRecording(l *leg, path string) bool {
	kept := l.media.recordings[:0]
	stopped := false
	for _, r := range l.media.recordings {
		if path == "all" || r.path == path {
			stopped = true
			e := channelEvent("RECORD_STOP", l, true)
			e.post = []header{{"Record-File-Path", r.path}, {"Record-Completion-Cause", "success"}}
			c.fire(e)
			continue
		}
		kept = append(kept, r)
	}
	l.media.recordings = kept
	return stopped
}

// apiKill implements uuid_kill <uuid> [cause]; the hang-up follows the reply.
func (s *Switch) apiKill(arg string) (string, func()) {
	uuid, cause, _ := strings.Cut(strings.TrimSpace(arg), " ")
	if uuid == "" {
		return usageKill, nil
	}
	l := s.live(uuid)
	if l == nil {
		return noSuchChannel, nil
	}
	cause = strings.ToUpper(strings.TrimSpace(cause))
	if cause == "" {
		cause = "NORMAL_CLEARING"
	}
	return "+OK\n", func() {
		c := l.call
		c.mu.Lock()
		defer c.mu.Unlock()
		c.hangup(l, cause)
	}
}

// live returns the leg with that uuid if it is up.
func (s *Switch) live(uuid string) *leg {
	l := s.lookup(uuid)
	if l == nil {
		return nil
	}
	l.call.mu.Lock()
	defer l.call.mu.Unlock()
	if l.state != legUp {
		return nil
	}
	return l
}

// apiSetVar implements uuid_setvar <uuid> <var> [value].
func (s *Switch) apiSetVar(arg string) string {
	uuid, rest, _ := strings.Cut(strings.TrimSpace(arg), " ")
	name, value, hasValue := strings.Cut(strings.TrimSpace(rest), " ")
	if uuid == "" || name == "" {
		return usageSetVar
	}
	out, ok := s.withLeg(uuid, func(c *Call, l *leg) string {
		l.setVar(name, value, !hasValue || value == "")
		return "+OK\n"
	})
	if !ok {
		return noSuchChannel
	}
	return out
}

// apiGetVar implements uuid_getvar <uuid> <var>.
func (s *Switch) apiGetVar(arg string) string {
	argv := strings.Fields(arg)
	if len(argv) < 2 {
		return usageGetVar
	}
	out, ok := s.withLeg(argv[0], func(c *Call, l *leg) string {
		if v, found := l.getVar(argv[1]); found && v != "" {
			return v
		}
		return "_undef_"
	})
	if !ok {
		return noSuchChannel
	}
	return out
}

// apiRecvDTMF implements uuid_recv_dtmf <uuid> <digits>: the digits arrive on
// the leg as if its phone had sent them.
func (s *Switch) apiRecvDTMF(arg string) (string, func()) {
	argv := strings.Fields(arg)
	if len(argv) < 2 {
		return usageRecvDTMF, nil
	}
	l := s.live(argv[0])
	if l == nil {
		return "-ERR no such session\n", nil
	}
	digits, _, _ := strings.Cut(argv[1], "@")
	return "+OK\n", func() {
		c := l.call
		c.mu.Lock()
		defer c.mu.Unlock()
		if l.state != legUp {
			return
		}
		for i := 0; i < len(digits); i++ {
			d := digits[i]
			if 'a' <= d && d <= 'd' {
				d -= 'a' - 'A'
			}
			if !validDigit(d) {
				continue
			}
			if !l.isA {
				c.fireDTMF(l, d, "APP", 2000, nil)
				continue
			}
			kp := KeyPress{Digit: d, Mode: Injected, AgentGotRFC2833: c.relays(l)}
			c.fireDTMF(l, d, "APP", 2000, &kp)
			if kp.SentAt.IsZero() {
				kp.SentAt = time.Now()
			}
			c.presses = append(c.presses, kp)
		}
	}
}

// bgapi answers `bgapi <cmd> <args>` with a Job-UUID, then runs the command
// and fires BACKGROUND_JOB, which carries Job-Owner-UUID and no Unique-ID.
func (c *Call) bgapi(f *frame) reply {
	name, arg, hasArg := strings.Cut(strings.TrimSpace(f.line[6:]), " ")
	job := f.get("Job-UUID")
	if job == "" {
		job = newUUID()
	}
	return reply{
		kind: replyRaw,
		text: "Content-Type: command/reply\nReply-Text: +OK Job-UUID: " + job + "\nJob-UUID: " + job + "\n\n",
		after: func() {
			body, after := c.api(name, arg)
			if body == "" {
				body = "Command returned no output!"
			}
			e := &event{name: "BACKGROUND_JOB", file: "mod_event_socket.c", fn: "api_exec", line: 1572, body: body}
			e.pre = []header{{"Job-UUID", job}, {"Job-Owner-UUID", c.a.uuid}, {"Job-Command", name}}
			if hasArg {
				e.pre = append(e.pre, header{"Job-Command-Arg", arg})
			}
			c.mu.Lock()
			c.fire(e)
			c.mu.Unlock()
			if after != nil {
				after()
			}
		},
	}
}
