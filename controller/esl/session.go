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

	ctx    context.Context // cancelled when the connection has ended
	stop   context.CancelFunc
	in     chan Event    // unordered, from the library's goroutines
	events chan Event    // ordered, to the owner
	done   chan struct{} // closed when the connection has ended
	once   sync.Once
	wg     sync.WaitGroup
	late   func() // counts late events (metrics hook)
}

// ChannelData returns the connect reply: the controlled leg's channel data
// (Unique-ID, Caller-*, variable_*), URL-decoded.
func (s *Session) ChannelData() Event { return s.data }

// Events delivers the subscribed events in Event-Sequence order. It is
// closed after Done.
func (s *Session) Events() <-chan Event { return s.events }

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

// deliver is the library's event listener: it decodes the event and hands it
// to the reorder goroutine. It runs on one goroutine per event.
func (s *Session) deliver(e *eslgo.Event) {
	ev, err := DecodeEvent(e.Headers, e.Body)
	if err != nil {
		s.log.Warn("dropping undecodable event", "err", err)
		return
	}
	select {
	case s.in <- ev:
	case <-s.done:
	}
}

// reorder runs for the life of the session: it holds events for the reorder
// window and releases them in sequence order.
func (s *Session) reorder(window time.Duration) {
	defer s.wg.Done()
	defer close(s.events)
	r := reorderer{window: window}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var out []Event
	emit := func() bool {
		for i, ev := range out {
			select {
			case s.events <- ev:
			case <-s.done:
				out = out[:0]
				return false
			}
			out[i] = Event{}
		}
		out = out[:0]
		return true
	}
	for {
		select {
		case ev := <-s.in:
			if r.push(ev, time.Now()) {
				if s.late != nil {
					s.late()
				}
				s.log.Warn("event arrived after a later one was delivered", "event", ev.String())
				out = append(out, ev)
			}
		case <-timer.C:
		case <-s.done:
			return
		}
		out = r.pop(time.Now(), out)
		if !emit() {
			return
		}
		if due, ok := r.next(); ok {
			timer.Reset(time.Until(due))
		}
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
	s.wg.Wait()
}

func newSession(conn *eslgo.Conn, connect *eslgo.RawResponse, log *slog.Logger, timeout, window time.Duration) (*Session, error) {
	hdr := textproto.MIMEHeader{}
	if connect != nil {
		hdr = connect.Headers
	}
	if hdr.Get("Event-Name") == "" {
		hdr = withName(hdr)
	}
	data, err := DecodeEvent(hdr, nil)
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
		in:      make(chan Event, 4),
		events:  make(chan Event, 16),
		done:    make(chan struct{}),
	}
	s.ctx, s.stop = context.WithCancel(context.Background())
	s.wg.Add(1)
	go s.reorder(window)
	return s, nil
}

func withName(h textproto.MIMEHeader) textproto.MIMEHeader {
	c := make(textproto.MIMEHeader, len(h)+1)
	for k, v := range h {
		c[k] = v
	}
	c.Set("Event-Name", "CHANNEL_DATA")
	return c
}
