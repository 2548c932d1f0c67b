package esl

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/textproto"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/percipia/eslgo"
	"github.com/percipia/eslgo/command"
)

// Reply is FreeSWITCH's answer to a command: the Reply-Text of a
// command/reply, or the body of an api/response.
type Reply struct {
	Text string
}

// OK reports whether the reply starts with +OK.
func (r Reply) OK() bool { return strings.HasPrefix(r.Text, "+OK") }

// Session is one call's outbound Event Socket connection. It makes the
// client library safe to use: one command in flight at a time, a deadline on
// every command, events delivered in Event-Sequence order on one channel, and
// an end signal that fires on connection loss whatever the library does.
type Session struct {
	conn    *eslgo.Conn
	log     *slog.Logger
	data    Event
	timeout time.Duration

	cmdMu    sync.Mutex // one command in flight per connection
	desynced bool       // guarded by cmdMu

	ctx  context.Context // cancelled when the connection has ended
	stop context.CancelFunc
	done chan struct{} // closed when the connection has ended
	once sync.Once
	late func() // counts late events (metrics hook)

	evMu    sync.Mutex
	order   reorderer
	lateQ   []Event       // late events, delivered as soon as taken
	ready   chan struct{} // signalled when an event arrives
	timeNow func() time.Time
}

// ChannelData returns what the session keeps of the connect reply (the
// controlled leg's channel data): Unique-ID, Channel-Name, the caller's
// number and name, the destination number and the variable_tonewall_*
// channel variables. The rest (some
// hundred headers) is dropped to keep an idle call small.
func (s *Session) ChannelData() Event { return s.data }

// Ready is signalled when events have arrived. The owner then calls Take.
func (s *Session) Ready() <-chan struct{} { return s.ready }

// Take appends to out the events that may be handled now, in
// Event-Sequence order: each event is held for the reorder window so that
// one the client library delivered late can still be put before it. It
// also reports when the next held event is due, if any is held. After
// Done, Take releases everything held.
func (s *Session) Take(out []Event) (events []Event, next time.Time, held bool) {
	s.evMu.Lock()
	defer s.evMu.Unlock()
	out = append(out, s.lateQ...)
	clear(s.lateQ)
	s.lateQ = s.lateQ[:0]
	select {
	case <-s.done:
		out = s.order.flush(out)
	default:
		out = s.order.pop(s.timeNow(), out)
	}
	next, held = s.order.next()
	return out, next, held
}

// Done is closed when the connection to FreeSWITCH has ended.
func (s *Session) Done() <-chan struct{} { return s.done }

// Command sends one command line (or a multi-line sendmsg) and waits for its
// reply, at most the session's command timeout or ctx's deadline, whichever
// is sooner. A -ERR or -USAGE reply is returned as a *CommandError. After a
// timeout the session refuses every later command with ErrDesynced.
func (s *Session) Command(ctx context.Context, line string) (Reply, error) {
	return s.send(ctx, line, rawCommand(line))
}

// API runs an api command ("api " + cmd) and returns its response body.
func (s *Session) API(ctx context.Context, cmd string) (Reply, error) {
	return s.Command(ctx, "api "+cmd)
}

// Linger asks FreeSWITCH to keep the socket open for seconds after hang-up,
// so that the last events still arrive. The number is sent bare, as the
// library's Linger command only gets right when given a plain count.
func (s *Session) Linger(ctx context.Context, seconds int) error {
	if seconds <= 0 {
		return fmt.Errorf("esl: linger needs a positive number of seconds, got %d", seconds)
	}
	_, err := s.send(ctx, fmt.Sprintf("linger %d", seconds), command.Linger{Enabled: true, Seconds: time.Duration(seconds)})
	return err
}

// Execute runs a dialplan application on the controlled leg with sendmsg and
// returns the Application-UUID that its CHANNEL_EXECUTE_COMPLETE will carry.
// In async mode the reply comes before the application has run.
func (s *Session) Execute(ctx context.Context, app, arg string, lock bool) (string, error) {
	id := uuid.NewString()
	var b strings.Builder
	b.WriteString("sendmsg\ncall-command: execute\nexecute-app-name: ")
	b.WriteString(app)
	if arg != "" {
		b.WriteString("\nexecute-app-arg: ")
		b.WriteString(arg)
	}
	if lock {
		b.WriteString("\nevent-lock: true")
	}
	b.WriteString("\nEvent-UUID: ")
	b.WriteString(id)
	_, err := s.Command(ctx, b.String())
	return id, err
}

func (s *Session) send(ctx context.Context, line string, cmd command.Command) (Reply, error) {
	select {
	case <-s.done:
		return Reply{}, fmt.Errorf("%s: %w", verb(line), ErrClosed)
	default:
	}
	s.cmdMu.Lock()
	defer s.cmdMu.Unlock()
	if s.desynced {
		return Reply{}, fmt.Errorf("%s: %w", verb(line), ErrDesynced)
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	defer context.AfterFunc(s.ctx, cancel)() // a lost connection ends the wait
	start := time.Now()
	raw, err := s.conn.SendCommand(ctx, cmd)
	if err != nil {
		if s.ctx.Err() != nil {
			return Reply{}, fmt.Errorf("%s: %w", verb(line), ErrClosed)
		}
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			s.desynced = true
			s.log.Warn("command timed out; refusing further commands on this call", "command", verb(line), "after", time.Since(start))
			return Reply{}, fmt.Errorf("%s: %w", verb(line), err)
		}
		s.end()
		return Reply{}, fmt.Errorf("%s: %w: %v", verb(line), ErrClosed, err)
	}
	r := Reply{Text: replyText(raw)}
	s.log.Debug("command", "command", verb(line), "reply", firstLine(r.Text), "took", time.Since(start))
	if strings.HasPrefix(r.Text, "-") {
		return r, &CommandError{Command: verb(line), Reply: firstLine(r.Text)}
	}
	return r, nil
}

// replyText returns Reply-Text for command/reply and the body for api/response.
func replyText(raw *eslgo.RawResponse) string {
	if raw == nil {
		return ""
	}
	if raw.Headers.Get("Content-Type") == eslgo.TypeAPIResponse {
		return strings.TrimRight(string(raw.Body), "\n")
	}
	return raw.GetHeader("Reply-Text")
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// rawCommand sends its text as-is.
type rawCommand string

func (r rawCommand) BuildMessage() string { return string(r) }

// deliver is the library's event listener: it decodes the event and holds
// it for Take. It runs on one goroutine per event.
func (s *Session) deliver(e *eslgo.Event) {
	ev, err := DecodeEvent(e.Headers, e.Body)
	if err != nil {
		s.log.Warn("dropping undecodable event", "err", err)
		return
	}
	s.evMu.Lock()
	if s.order.push(ev, s.timeNow()) {
		s.lateQ = append(s.lateQ, ev)
		if s.late != nil {
			s.late()
		}
		s.log.Warn("event arrived after a later one was delivered", "event", ev.String())
	}
	s.evMu.Unlock()
	select {
	case s.ready <- struct{}{}:
	default:
	}
}

// end marks the connection as finished. Safe to call many times.
func (s *Session) end() {
	s.once.Do(func() {
		close(s.done)
		s.stop()
	})
}

// Close sends exit (bounded by ctx) and closes the connection.
func (s *Session) Close(ctx context.Context) {
	select {
	case <-s.done:
	default:
		s.cmdMu.Lock()
		ok := !s.desynced
		s.cmdMu.Unlock()
		if ok {
			ctx, cancel := context.WithTimeout(ctx, s.timeout)
			stop := context.AfterFunc(s.ctx, cancel)
			_, _ = s.conn.SendCommand(ctx, command.Exit{})
			stop()
			cancel()
		}
	}
	s.conn.Close()
	s.end()
}

func newSession(conn *eslgo.Conn, connect *eslgo.RawResponse, log *slog.Logger, timeout, window time.Duration) (*Session, error) {
	hdr := textproto.MIMEHeader{}
	if connect != nil {
		hdr = connect.Headers
	}
	if hdr.Get("Event-Name") == "" {
		hdr = withName(hdr)
	}
	data, err := DecodeEvent(keepChannelData(hdr), nil)
	if err != nil {
		return nil, err
	}
	if data.UniqueID == "" {
		return nil, fmt.Errorf("%w: connect reply has no Unique-ID", ErrMalformedEvent)
	}
	s := &Session{
		conn:    conn,
		log:     log.With("call", data.UniqueID),
		data:    data,
		timeout: timeout,
		done:    make(chan struct{}),
		ready:   make(chan struct{}, 1),
		order:   reorderer{window: window},
		timeNow: time.Now,
	}
	s.ctx, s.stop = context.WithCancel(context.Background())
	return s, nil
}

// keepChannelData copies the headers a call needs out of the connect reply,
// so that the reply itself (some hundred headers) can be collected.
func keepChannelData(h textproto.MIMEHeader) textproto.MIMEHeader {
	out := make(textproto.MIMEHeader, 8)
	for k, v := range h {
		switch {
		case k == "Event-Name", k == "Unique-Id", k == "Channel-Name",
			k == "Caller-Caller-Id-Number", k == "Caller-Caller-Id-Name", k == "Caller-Destination-Number",
			strings.HasPrefix(k, "Variable_tonewall_"):
			if len(v) > 0 {
				out[k] = []string{strings.Clone(v[0])}
			}
		}
	}
	return out
}

func withName(h textproto.MIMEHeader) textproto.MIMEHeader {
	c := make(textproto.MIMEHeader, len(h)+1)
	for k, v := range h {
		c[k] = v
	}
	c.Set("Event-Name", "CHANNEL_DATA")
	return c
}
