package fssim

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults for Options and CallOptions fields left at their zero value.
const (
	DefaultHostname       = "fssim"
	DefaultIPv4           = "127.0.0.1"
	DefaultIPv6           = "::1"
	DefaultWriteTimeout   = 5 * time.Second
	DefaultConnectTimeout = 25 * time.Second
	DefaultCallerNumber   = "caller01"
	DefaultDestination    = "7000"
	DefaultPromptDuration = time.Second
)

// ErrClosed is returned by Dial once the switch has been closed.
var ErrClosed = errors.New("fssim: switch closed")

// Options configures a Switch. Zero values mean the defaults above.
type Options struct {
	// Logger receives the simulator's own log lines (commands by name, never
	// their arguments or any digit). Nil discards them.
	Logger *slog.Logger
	// Hostname is reported as FreeSWITCH-Hostname and FreeSWITCH-Switchname.
	Hostname string
	// IPv4 and IPv6 are reported as FreeSWITCH-IPv4 and FreeSWITCH-IPv6.
	IPv4, IPv6 string
	// WriteTimeout bounds every write to a controller socket; a controller that
	// stops reading for longer loses its connection.
	WriteTimeout time.Duration
	// ConnectTimeout is how long the switch waits for the controller's first
	// command before giving up on the socket, as FreeSWITCH waits 25 s.
	ConnectTimeout time.Duration
}

// Switch is a simulated FreeSWITCH. Each Dial places one customer call whose
// leg A is handed to a controller over the outbound Event Socket. Events carry
// one Event-Sequence counter per Switch and, as on the real switch, a listener
// without any filter receives the events of every call on the Switch.
type Switch struct {
	log     *slog.Logger
	opts    Options
	coreID  string
	started time.Time
	static  string // pre-rendered Core-UUID..FreeSWITCH-IPv6 headers

	seq      atomic.Uint64
	sessions atomic.Uint64 // legs created since start, for `status`
	wg       sync.WaitGroup

	mu     sync.Mutex
	closed bool
	calls  map[*Call]struct{}
	legs   map[string]*leg
	open   map[*Call]struct{} // listeners with event subscriptions and no filter
}

// New returns a Switch ready to Dial.
func New(opts Options) *Switch {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.Hostname == "" {
		opts.Hostname = DefaultHostname
	}
	if opts.IPv4 == "" {
		opts.IPv4 = DefaultIPv4
	}
	if opts.IPv6 == "" {
		opts.IPv6 = DefaultIPv6
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = DefaultWriteTimeout
	}
	if opts.ConnectTimeout <= 0 {
		opts.ConnectTimeout = DefaultConnectTimeout
	}
	s := &Switch{
		log:     opts.Logger,
		opts:    opts,
		coreID:  newUUID(),
		started: time.Now(),
		calls:   make(map[*Call]struct{}),
		legs:    make(map[string]*leg),
		open:    make(map[*Call]struct{}),
	}
	// Start where a switch that has been up for a while would be, so that
	// nothing relies on sequence numbers being small.
	s.seq.Store(7000)
	s.static = "Core-UUID: " + s.coreID + "\n" +
		"FreeSWITCH-Hostname: " + urlEncode(opts.Hostname) + "\n" +
		"FreeSWITCH-Switchname: " + urlEncode(opts.Hostname) + "\n" +
		"FreeSWITCH-IPv4: " + urlEncode(opts.IPv4) + "\n" +
		"FreeSWITCH-IPv6: " + urlEncode(opts.IPv6) + "\n"
	return s
}

// Dial places a new customer call: it connects to the controller at addr, as
// FreeSWITCH's `socket addr async full` does, and serves that connection until
// it closes. The returned Call is live (leg A answered, not yet bridged).
func (s *Switch) Dial(ctx context.Context, addr string, o CallOptions) (*Call, error) {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("fssim: dial controller %s: %w", addr, err)
	}
	c := newCall(s, conn, addr, o)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		conn.Close()
		return nil, ErrClosed
	}
	s.calls[c] = struct{}{}
	s.legs[c.a.uuid] = c.a
	s.wg.Add(1)
	s.mu.Unlock()
	s.sessions.Add(1)
	go func() {
		defer s.wg.Done()
		c.serve()
	}()
	return c, nil
}

// Calls returns the number of live calls: calls whose customer leg is up or
// whose controller socket is still open.
func (s *Switch) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.calls)
}

// Close hangs up every call, closes every socket and waits for the
// connection goroutines to finish. It is safe to call more than once.
func (s *Switch) Close() error {
	s.mu.Lock()
	s.closed = true
	calls := make([]*Call, 0, len(s.calls))
	for c := range s.calls {
		calls = append(calls, c)
	}
	s.mu.Unlock()
	for _, c := range calls {
		c.shutdown()
	}
	s.wg.Wait()
	return nil
}

// nextSeq returns the next Event-Sequence value.
func (s *Switch) nextSeq() uint64 { return s.seq.Add(1) }

// lookup returns the live leg with that uuid.
func (s *Switch) lookup(uuid string) *leg {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.legs[uuid]
}

// register records a new leg; it fails if the uuid is taken.
func (s *Switch) register(l *leg) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, taken := s.legs[l.uuid]; taken {
		return false
	}
	s.legs[l.uuid] = l
	s.sessions.Add(1)
	return true
}

// unregister forgets a leg that has hung up.
func (s *Switch) unregister(l *leg) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.legs[l.uuid] == l {
		delete(s.legs, l.uuid)
	}
}

// forget removes a finished call.
func (s *Switch) forget(c *Call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.calls, c)
	delete(s.open, c)
}

// setOpen records whether c listens to events without any filter.
func (s *Switch) setOpen(c *Call, open bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if open {
		s.open[c] = struct{}{}
	} else {
		delete(s.open, c)
	}
}

// openListeners returns the calls, other than except, whose sockets receive
// the events of every call.
func (s *Switch) openListeners(except *Call) []*Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.open) == 0 {
		return nil
	}
	out := make([]*Call, 0, len(s.open))
	for c := range s.open {
		if c != except {
			out = append(out, c)
		}
	}
	return out
}

// liveLegs returns the number of legs up, for `status`.
func (s *Switch) liveLegs() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.legs)
}

// statusText renders the `status` API reply.
func (s *Switch) statusText() string {
	up := time.Since(s.started)
	d := up / (24 * time.Hour)
	up -= d * 24 * time.Hour
	h := up / time.Hour
	up -= h * time.Hour
	m := up / time.Minute
	up -= m * time.Minute
	sec := up / time.Second
	up -= sec * time.Second
	ms := up / time.Millisecond
	us := (up - ms*time.Millisecond) / time.Microsecond
	live := s.liveLegs()
	var b strings.Builder
	fmt.Fprintf(&b, "UP 0 years, %d days, %d hours, %d minutes, %d seconds, %d milliseconds, %d microseconds\n", d, h, m, sec, ms, us)
	b.WriteString("FreeSWITCH (Version 1.10.12-release  64bit) is ready\n")
	fmt.Fprintf(&b, "%d session(s) since startup\n", s.sessions.Load())
	fmt.Fprintf(&b, "%d session(s) - peak %d, last 5min %d \n", live, live, live)
	b.WriteString("0 session(s) per Sec out of max 50, peak 4, last 5min 4 \n")
	b.WriteString("200 session(s) max\nmin idle cpu 0.00/98.57\nCurrent Stack Size/Max 240K/8192K\n")
	return b.String()
}

// newUUID returns a random version 4 UUID.
func newUUID() string {
	var u [16]byte
	if _, err := rand.Read(u[:]); err != nil {
		panic("fssim: crypto/rand: " + err.Error())
	}
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	var buf [36]byte
	hex.Encode(buf[0:8], u[0:4])
	buf[8] = '-'
	hex.Encode(buf[9:13], u[4:6])
	buf[13] = '-'
	hex.Encode(buf[14:18], u[6:8])
	buf[18] = '-'
	hex.Encode(buf[19:23], u[8:10])
	buf[23] = '-'
	hex.Encode(buf[24:], u[10:])
	return string(buf[:])
}

// randToken returns n random alphanumeric characters (SIP tags, branches).
func randToken(n int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("fssim: crypto/rand: " + err.Error())
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// randNumber returns a random number in [lo, hi) as decimal text.
func randNumber(lo, hi int) string {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("fssim: crypto/rand: " + err.Error())
	}
	v := int(b[0])<<24 | int(b[1])<<16 | int(b[2])<<8 | int(b[3])
	return strconv.Itoa(lo + v%(hi-lo))
}

// randPort returns an even RTP port number as FreeSWITCH picks them.
func randPort() string {
	n, _ := strconv.Atoi(randNumber(8192, 16384))
	return strconv.Itoa(2 * n)
}

// micros returns t as microseconds since the epoch, FreeSWITCH's timestamp unit.
func micros(t time.Time) int64 { return t.UnixMicro() }
