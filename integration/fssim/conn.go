package fssim

import (
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// disconnectBody is what FreeSWITCH says when it closes a socket.
const disconnectBody = "Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"

// replyKind says how a command is answered.
type replyKind int

const (
	replyCommand replyKind = iota // command/reply with Reply-Text
	replyRaw                      // pre-rendered bytes
	replyAPI                      // api/response with a body
	replyNone                     // nothing
)

// reply is the answer to one command, and what to do after sending it.
type reply struct {
	kind  replyKind
	text  string
	after func() // runs once the reply is written, with no lock held
	exit  bool   // close the socket after the reply
}

// serve reads the controller's commands and answers them until the socket
// closes. It runs on the call's own goroutine.
func (c *Call) serve() {
	defer c.socketClosed()
	buf := make([]byte, 0, 512)
	chunk := make([]byte, 512)
	first := true
	c.conn.SetReadDeadline(time.Now().Add(c.sw.opts.ConnectTimeout))
	for {
		f, n, err := parseFrame(buf, true)
		if err != nil {
			c.log.Warn("bad frame from controller", "err", err)
			c.closeSocket(false)
			return
		}
		if n == 0 {
			m, rerr := c.conn.Read(chunk)
			buf = append(buf, chunk[:m]...)
			if rerr != nil {
				if !errors.Is(rerr, io.EOF) && !errors.Is(rerr, net.ErrClosed) {
					c.log.Debug("controller socket read", "err", rerr)
				}
				c.closeSocket(false)
				return
			}
			continue
		}
		rest := copy(buf, buf[n:])
		buf = buf[:rest]
		if cap(buf) > 4096 && rest < 512 {
			buf = append(make([]byte, 0, 512), buf...)
		}
		if first {
			c.conn.SetReadDeadline(time.Time{})
		}
		if !c.handle(&f, first) {
			return
		}
		first = false
	}
}

// handle records, applies faults to and answers one command. It reports
// whether the connection is still open.
func (c *Call) handle(f *frame, first bool) bool {
	text := f.text()
	c.mu.Lock()
	c.commands = append(c.commands, text)
	c.signal()
	c.mu.Unlock()
	c.log.Debug("command", "name", commandName(f.line))

	fault, faulty := c.takeFault(text)
	if faulty && fault.Delay > 0 {
		t := time.NewTimer(fault.Delay)
		select {
		case <-t.C:
		case <-c.closing:
			t.Stop()
			return false
		}
	}
	if faulty && fault.Drop {
		c.Drop()
		return false
	}
	var r reply
	if faulty && fault.Reply != "" {
		r = reply{kind: replyCommand, text: fault.Reply}
		if isAPI(f.line) {
			r = reply{kind: replyAPI, text: withNewline(fault.Reply)}
		}
	} else {
		r = c.dispatch(f)
	}
	// FreeSWITCH answers the first packet of an outbound socket only if the
	// command writes to the socket itself (connect, api).
	if first && r.kind == replyCommand {
		r.kind = replyNone
	}
	if err := c.writeReply(r); err != nil {
		return false
	}
	if r.after != nil {
		r.after()
	}
	if r.exit {
		c.closeSocket(true)
		return false
	}
	return true
}

// commandName is the first word of a command line, or the api command name:
// safe to log, unlike the arguments.
func commandName(line string) string {
	w := strings.Fields(line)
	switch {
	case len(w) == 0:
		return ""
	case len(w) > 1 && (strings.EqualFold(w[0], "api") || strings.EqualFold(w[0], "bgapi")):
		return w[0] + " " + w[1]
	}
	return w[0]
}

func isAPI(line string) bool { return len(line) >= 4 && strings.EqualFold(line[:4], "api ") }

func withNewline(s string) string {
	if strings.HasSuffix(s, "\n") {
		return s
	}
	return s + "\n"
}

// writeReply sends a reply in its wire form.
func (c *Call) writeReply(r reply) error {
	var out string
	switch r.kind {
	case replyNone:
		return nil
	case replyRaw:
		out = r.text
	case replyAPI:
		body := r.text
		if body == "" {
			body = "-ERR no reply\n"
		}
		out = "Content-Type: api/response\nContent-Length: " + strconv.Itoa(len(body)) + "\n\n" + body
	default:
		out = "Content-Type: command/reply\nReply-Text: " + r.text + "\n\n"
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.wclosed {
		return net.ErrClosed
	}
	return c.writeLocked([]byte(out))
}

// writeLocked writes parts to the socket, in one system call where the
// platform allows, with the switch's write timeout; a failed write closes the
// socket. The caller holds c.wmu.
func (c *Call) writeLocked(parts ...[]byte) error {
	if c.wclosed {
		return net.ErrClosed
	}
	c.conn.SetWriteDeadline(time.Now().Add(c.sw.opts.WriteTimeout))
	var err error
	if len(parts) == 1 {
		_, err = c.conn.Write(parts[0])
	} else {
		bufs := net.Buffers(parts)
		_, err = bufs.WriteTo(c.conn)
	}
	if err != nil {
		c.log.Debug("controller socket write", "err", err)
		c.markClosedLocked()
		return err
	}
	return nil
}

// markClosedLocked closes the socket and wakes anything waiting on it. The
// caller holds c.wmu.
func (c *Call) markClosedLocked() {
	if c.wclosed {
		return
	}
	c.wclosed = true
	c.conn.Close()
	close(c.closing)
}

// closeSocket closes the socket, first sending the disconnect notice
// FreeSWITCH sends when notice is true. It never takes c.mu.
func (c *Call) closeSocket(notice bool) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.wclosed {
		return
	}
	if notice {
		c.writeLocked([]byte("Content-Type: text/disconnect-notice\nControlled-Session-UUID: " + c.a.uuid +
			"\nContent-Disposition: disconnect\nContent-Length: " + strconv.Itoa(len(disconnectBody)) + "\n\n" + disconnectBody))
	}
	c.markClosedLocked()
}

// socketClosed runs when the serving goroutine ends. As on the real switch,
// a call whose socket closes before the bridge ends (the dialplan has nothing
// after `socket`); a bridged call carries on, masking included.
func (c *Call) socketClosed() {
	c.closeSocket(false)
	c.sw.setOpen(c, false)
	c.mu.Lock()
	c.sockOpen = false
	if c.a.state == legUp && !c.bridged && c.answerTimer == nil {
		c.hangupA("NORMAL_CLEARING")
	}
	c.maybeFinish()
	c.signal()
	c.mu.Unlock()
	close(c.done)
}

// dispatch answers one command, following mod_event_socket's parse_command:
// the same order of checks and the same reply texts.
func (c *Call) dispatch(f *frame) reply {
	cmd := f.line
	lower := strings.ToLower(cmd)
	has := func(p string) bool { return strings.HasPrefix(lower, p) }
	switch {
	case has("exit"), has("..."):
		return reply{text: "+OK bye", exit: true}
	case has("filter "):
		return reply{text: c.filterCommand(strings.TrimLeft(cmd[7:], " "))}
	case has("resume"):
		c.mu.Lock()
		c.a.setVar("socket_resume", "true", false)
		c.mu.Unlock()
		return reply{text: "+OK"}
	case has("connect"):
		return reply{kind: replyRaw, text: c.connectReply()}
	case has("getvar"):
		_, name, _ := strings.Cut(cmd, " ")
		c.mu.Lock()
		v, _ := c.a.getVar(name)
		c.mu.Unlock()
		return reply{text: v}
	case has("myevents"):
		text := c.myevents(lower)
		c.sw.setOpen(c, false)
		return reply{text: text}
	case has("divert_events"):
		v := strings.TrimSpace(cmd[13:])
		switch {
		case v == "":
			return reply{text: "-ERR missing value."}
		case strings.EqualFold(v, "on"):
			return reply{text: "+OK events diverted"}
		}
		return reply{text: "+OK events not diverted"}
	case has("sendmsg"):
		return c.sendmsg(f)
	}
	if !c.full {
		return reply{text: "-ERR command not found"}
	}
	switch {
	case has("sendevent"):
		return reply{text: "+OK " + newUUID()}
	case has("api "):
		name, arg, _ := strings.Cut(strings.TrimSpace(cmd[4:]), " ")
		body, after := c.api(name, arg)
		return reply{kind: replyAPI, text: body, after: after}
	case has("bgapi "):
		return c.bgapi(f)
	case has("log"):
		level := strings.TrimSpace(cmd[3:])
		if level == "" {
			level = "debug"
		}
		return reply{text: "+OK log level " + level + " [7]"}
	case has("linger"):
		return reply{text: c.linger(cmd)}
	case has("nolinger"):
		c.mu.Lock()
		c.lingerOn = false
		c.mu.Unlock()
		return reply{text: "+OK will not linger"}
	case has("nolog"):
		return reply{text: "-ERR not loging"}
	case has("event"):
		return reply{text: c.eventCommand(cmd, true)}
	case has("nixevent"):
		return reply{text: c.eventCommand(cmd, false)}
	case has("noevents"):
		c.wmu.Lock()
		was := c.lst.enabled
		c.lst.enabled = false
		c.lst.events = eventSet{}
		c.wmu.Unlock()
		c.sw.setOpen(c, false)
		if !was {
			return reply{text: "-ERR not listening for events"}
		}
		return reply{text: "+OK no longer listening for events"}
	}
	return reply{text: "-ERR command not found"}
}

// linger handles `linger [seconds]`.
func (c *Call) linger(cmd string) string {
	secs := -1
	if len(cmd) > 7 && cmd[6] == ' ' {
		// atoi into a C int: "linger 10000000000" (as eslgo sends for 10 s)
		// wraps the way it does on the real switch.
		v, _ := strconv.ParseInt(leadingInt(cmd[7:]), 10, 64)
		secs = int(int32(v))
	}
	c.mu.Lock()
	c.lingerOn, c.lingerSecs = true, secs
	c.mu.Unlock()
	if secs != -1 {
		return "+OK will linger " + strconv.Itoa(secs) + " seconds"
	}
	return "+OK will linger"
}

// leadingInt returns the optionally signed decimal prefix of s, as atoi reads it.
func leadingInt(s string) string {
	s = strings.TrimLeft(s, " ")
	i := 0
	if i < len(s) && (s[i] == '-' || s[i] == '+') {
		i++
	}
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i > 19 {
		i = 19
	}
	return s[:i]
}

// filterCommand handles `filter [add|delete] <header> [value]`.
func (c *Call) filterCommand(args string) string {
	name, val, hasVal := strings.Cut(args, " ")
	c.wmu.Lock()
	defer func() {
		open := c.lst.open()
		c.wmu.Unlock()
		c.sw.setOpen(c, open)
	}()
	if strings.EqualFold(name, "delete") && hasVal {
		name, val, hasVal = strings.Cut(val, " ")
		if strings.EqualFold(name, "all") {
			c.lst.filters = nil
		} else {
			kept := c.lst.filters[:0]
			for _, h := range c.lst.filters {
				if !(strings.EqualFold(h.name, name) && (!hasVal || h.value == val)) {
					kept = append(kept, h)
				}
			}
			c.lst.filters = kept
		}
		return "+OK filter deleted. [" + name + "][" + val + "]"
	}
	if !hasVal {
		return "-ERR invalid syntax"
	}
	if strings.EqualFold(name, "add") {
		name, val, _ = strings.Cut(val, " ")
	}
	c.lst.filters = append(c.lst.filters, header{name: name, value: val})
	return "+OK filter added. [" + name + "]=[" + val + "]"
}

// eventCommand handles `event <format> <names...>` and `nixevent <names...>`.
func (c *Call) eventCommand(cmd string, subscribe bool) string {
	words := strings.Fields(cmd)[1:]
	c.wmu.Lock()
	keys := 0
	custom := false
	for i, w := range words {
		if subscribe && i == 0 {
			switch strings.ToLower(w) {
			case "plain", "json", "xml":
				c.lst.format = strings.ToLower(w)
				continue
			}
		}
		if custom {
			continue // CUSTOM subclass names
		}
		idx, ok := lookupEvent(w)
		if !ok {
			continue
		}
		keys++
		switch {
		case eventNames[idx] == "CUSTOM":
			custom = true
		case eventNames[idx] == "ALL" && subscribe:
			c.lst.events.setAll()
		case eventNames[idx] == "ALL":
			c.lst.events = eventSet{}
		case subscribe:
			c.lst.events.set(idx)
		default:
			c.lst.events.clear(idx)
		}
	}
	if keys > 0 {
		c.lst.enabled = true
	}
	format := c.lst.format
	open := c.lst.open()
	c.wmu.Unlock()
	if keys == 0 {
		return "-ERR no keywords supplied"
	}
	c.sw.setOpen(c, open)
	if !subscribe {
		return "+OK events nixed"
	}
	return "+OK event listener enabled " + format
}

// myevents handles `myevents [format]`: the controlled leg's events only.
func (c *Call) myevents(lower string) string {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.lst.myevents {
		return "-ERR aready enabled."
	}
	for _, n := range myEventsNames {
		c.lst.events.set(eventIndex[n])
	}
	c.lst.myevents, c.lst.enabled = true, true
	switch {
	case strings.Contains(lower, "xml"):
		c.lst.format = "xml"
	case strings.Contains(lower, "json"):
		c.lst.format = "json"
	}
	return "+OK Events Enabled"
}

// connectReply renders the reply to `connect`: leg A's channel data as a
// CHANNEL_DATA event serialised as headers, then the reply headers.
func (c *Call) connectReply() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	a := c.a
	b := make(wbuf, 0, 8192)
	b.put("Event-Name: CHANNEL_DATA\n")
	b.put(c.sw.static)
	writeDates(&b, time.Now())
	b.put("Event-Calling-File: mod_event_socket.c\nEvent-Calling-Function: parse_command\nEvent-Calling-Line-Number: 2021\nEvent-Sequence: ")
	b.putInt(int64(c.sw.nextSeq()))
	b.putc('\n')
	p := a.ownProfile()
	writeProfile(&b, "Channel-", &p)
	a.writeChannel(&b, false)
	a.writeVars(&b)
	control := "full"
	if !c.full {
		control = "single-channel"
	}
	b.put("Content-Type: command/reply\nReply-Text: %2BOK%0A\nSocket-Mode: async\nControl: ")
	b.put(control)
	b.put("\n\n")
	return string(b)
}
