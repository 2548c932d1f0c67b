package fssim

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// DTMFMode is how a customer's phone sends a key press.
type DTMFMode int

const (
	// Inband sends the key as a tone in the audio.
	Inband DTMFMode = iota
	// RFC2833 sends the key as RTP telephone events; the audio has no tone.
	RFC2833
	// Both sends a tone and RFC 2833 events for the same key press.
	Both
	// DuplicateInband sends a tone the detector reports twice, as happens when
	// masking is armed in the middle of a tone.
	DuplicateInband
	// Injected marks digits injected with `uuid_recv_dtmf`; Press rejects it.
	Injected
)

// String returns the mode's name.
func (m DTMFMode) String() string {
	switch m {
	case Inband:
		return "inband"
	case RFC2833:
		return "rfc2833"
	case Both:
		return "both"
	case DuplicateInband:
		return "duplicate-inband"
	case Injected:
		return "injected"
	}
	return "DTMFMode(" + strconv.Itoa(int(m)) + ")"
}

// ParseDTMFMode parses a mode name as printed by String.
func ParseDTMFMode(s string) (DTMFMode, error) {
	for m := Inband; m <= DuplicateInband; m++ {
		if strings.EqualFold(s, m.String()) {
			return m, nil
		}
	}
	return 0, fmt.Errorf("fssim: unknown DTMF mode %q (want inband, rfc2833, both or duplicate-inband)", s)
}

func (m DTMFMode) inband() bool { return m == Inband || m == Both || m == DuplicateInband }
func (m DTMFMode) rtp() bool    { return m == RFC2833 || m == Both }

// Leg names one side of a call.
type Leg int

const (
	// LegA is the customer's leg, controlled over the socket.
	LegA Leg = iota
	// LegB is the agent's leg, created by the bridge.
	LegB
)

// String returns "A" or "B".
func (l Leg) String() string {
	if l == LegA {
		return "A"
	}
	return "B"
}

// KeyPress is what became of one customer key press.
type KeyPress struct {
	Digit byte
	Mode  DTMFMode
	// SentAt is when the first DTMF event for the press was written to the
	// controller, or when the press happened if none was written.
	SentAt time.Time
	// ControllerEvents counts the DTMF events written to the controller.
	ControllerEvents int
	// AgentHeardTone reports that some of the tone audio reached the agent.
	AgentHeardTone bool
	// AgentGotRFC2833 reports that the bridge relayed the digit to the agent.
	AgentGotRFC2833 bool
	// RecordingHasTone reports that a recording of the call holds the tone.
	RecordingHasTone bool
}

// Leaked reports whether the press reached the agent or a recording in any form.
func (k KeyPress) Leaked() bool { return k.AgentHeardTone || k.AgentGotRFC2833 || k.RecordingHasTone }

// Hearing is what one party hears at a moment. AgentHears fills Customer,
// Tone and Prompt; CustomerHears fills Agent, Tone and Prompt.
type Hearing struct {
	Customer bool   // the customer's voice (and any key tone)
	Agent    bool   // the agent's voice
	Tone     bool   // a tone_stream (the flat masking tone)
	Prompt   string // a file being played to this party, "" if none
}

// RecordingState describes one recording of a leg at a moment.
type RecordingState struct {
	Leg    Leg
	Path   string
	Masked bool
	// Customer and Agent report whose voice the recording captures now.
	// uuid_record mask blanks both directions, not just the customer.
	Customer, Agent bool
}

// MediaState is a snapshot of the masking-relevant media state of a call.
type MediaState struct {
	Bridged bool
	// Detector is true when spandsp_start_dtmf runs on A; DetectorHears when
	// it was added before any read mute, so it hears the tones.
	Detector, CoreDetector, DetectorHears bool
	// CustomerMuted is true when A's audio no longer reaches the agent.
	CustomerMuted bool
	// RelayBlocked is true when digits from A are not relayed to B.
	RelayBlocked bool
	// AgentTone is true when the agent hears a tone_stream.
	AgentTone bool
	// RecordingMasked is true when every recording of A is masked.
	RecordingMasked bool
}

// Armed reports whether key presses can no longer reach the agent: the
// relay to B is blocked and the customer is muted towards the agent. The
// flat tone (AgentTone) is feedback, not protection, so it is not required.
func (m MediaState) Armed() bool { return m.Bridged && m.RelayBlocked && m.CustomerMuted }

// audioBug is the uuid_audio media bug of a leg.
type audioBug struct {
	pos                 int
	readMute, writeMute bool
}

// displace is a uuid_displace (or displace_session) media bug.
type displace struct {
	pos      int
	file     string
	mux      bool
	readSide bool      // 'r' flag: replaces what the leg says, not what it hears
	until    time.Time // zero: plays until stopped
}

func (d *displace) tone() bool { return strings.HasPrefix(d.file, "tone_stream://") }

// recording is a recording of a leg (uuid_record, record_session).
type recording struct {
	path   string
	masked bool
}

// legMedia holds a leg's media bugs. Positions record the order bugs were
// added: a detector hears the tone only if no read-silencing bug precedes it.
type legMedia struct {
	next       int
	audio      *audioBug
	spandsp    int // position; 0 when not running
	core       int // core start_dtmf, position; 0 when not running
	displaces  []*displace
	recordings []*recording
	dropDTMF   bool
}

func (m *legMedia) nextPos() int { m.next++; return m.next }

// prune removes displaces whose file has finished playing.
func (m *legMedia) prune(now time.Time) {
	out := m.displaces[:0]
	for _, d := range m.displaces {
		if d.until.IsZero() || now.Before(d.until) {
			out = append(out, d)
		}
	}
	for i := len(out); i < len(m.displaces); i++ {
		m.displaces[i] = nil
	}
	m.displaces = out
}

// readSilencedBefore reports whether a bug added before position pos
// silences what the leg says (uuid_audio read mute, a displace without mux).
func (m *legMedia) readSilencedBefore(pos int) bool {
	if m.audio != nil && m.audio.readMute && m.audio.pos < pos {
		return true
	}
	for _, d := range m.displaces {
		if !d.mux && d.pos < pos {
			return true
		}
	}
	return false
}

func (m *legMedia) readSilenced() bool { return m.readSilencedBefore(math.MaxInt) }

// writeBlocked reports whether the leg hears nothing of the other party.
func (m *legMedia) writeBlocked() bool {
	if m.audio != nil && m.audio.writeMute {
		return true
	}
	for _, d := range m.displaces {
		if !d.mux {
			return true
		}
	}
	return false
}

// writeMuted reports whether the leg hears nothing at all.
func (m *legMedia) writeMuted() bool { return m.audio != nil && m.audio.writeMute }

// detections is the number of DTMF events in-band detectors on the leg
// report for one tone.
func (m *legMedia) detections() int {
	n := 0
	if m.spandsp > 0 && !m.readSilencedBefore(m.spandsp) {
		n++
	}
	if m.core > 0 && !m.readSilencedBefore(m.core) {
		n++
	}
	return n
}

// findDisplace returns the displace playing file, or nil.
func (m *legMedia) findDisplace(file string) *displace {
	for _, d := range m.displaces {
		if d.file == file {
			return d
		}
	}
	return nil
}

// findRecording returns the recording to exactly that path, or nil.
func (m *legMedia) findRecording(path string) *recording {
	for _, r := range m.recordings {
		if r.path == path {
			return r
		}
	}
	return nil
}

// ErrHungUp is returned for an action on a leg that is not up.
var ErrHungUp = errors.New("fssim: leg is not up")

// ErrBadDigit is returned by Press for a character that is not a DTMF digit.
var ErrBadDigit = errors.New("fssim: not a DTMF digit")

// validDigit reports whether d is a DTMF digit: 0-9 * # A-D.
func validDigit(d byte) bool {
	return ('0' <= d && d <= '9') || d == '*' || d == '#' || ('A' <= d && d <= 'D')
}

// Press makes the customer press a key. It fires the DTMF event(s) the switch
// would send the controller and records, from the media state at that moment,
// whether the key reached the agent (as audio or relayed RFC 2833) or a
// recording. It returns once the events are written.
func (c *Call) Press(ctx context.Context, digit byte, mode DTMFMode) (KeyPress, error) {
	if err := ctx.Err(); err != nil {
		return KeyPress{}, err
	}
	if 'a' <= digit && digit <= 'd' {
		digit -= 'a' - 'A'
	}
	if !validDigit(digit) {
		return KeyPress{}, ErrBadDigit
	}
	if mode < Inband || mode > DuplicateInband {
		return KeyPress{}, fmt.Errorf("fssim: press mode %v not allowed", mode)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.a.state != legUp {
		return KeyPress{}, ErrHungUp
	}
	now := time.Now()
	c.a.media.prune(now)
	if b := c.peer(); b != nil {
		b.media.prune(now)
	}
	kp := KeyPress{Digit: digit, Mode: mode}
	detected := 0
	if mode.inband() {
		detected = c.a.media.detections()
		if mode == DuplicateInband {
			detected *= 2
		}
		kp.AgentHeardTone = c.agentHearsCustomer()
		kp.RecordingHasTone = c.recordingsHoldCustomer()
	}
	if (detected > 0 || mode.rtp()) && c.relays(c.a) {
		kp.AgentGotRFC2833 = true
	}
	for i := 0; i < detected; i++ {
		c.fireDTMF(c.a, digit, "INBAND_AUDIO", 2000, &kp)
	}
	if mode.rtp() {
		c.fireDTMF(c.a, digit, "RTP", 2080, &kp)
	}
	if kp.SentAt.IsZero() {
		kp.SentAt = now
	}
	c.presses = append(c.presses, kp)
	c.log.Debug("key press", "call", c.a.uuid, "mode", mode.String(), "events", kp.ControllerEvents, "leaked", kp.Leaked())
	return kp, nil
}

// fireDTMF fires one DTMF event for leg l and accounts for it in kp.
func (c *Call) fireDTMF(l *leg, digit byte, source string, duration int, kp *KeyPress) {
	e := channelEvent("DTMF", l, false)
	e.post = []header{{"DTMF-Digit", string(digit)}, {"DTMF-Duration", strconv.Itoa(duration)}, {"DTMF-Source", source}}
	if c.fire(e) && kp != nil {
		kp.ControllerEvents++
		if kp.SentAt.IsZero() {
			kp.SentAt = time.Now()
		}
	}
}

// peer returns the bridged B leg if it is up, else nil. The caller holds c.mu.
func (c *Call) peer() *leg {
	if c.bridged && c.b != nil && c.b.state == legUp {
		return c.b
	}
	return nil
}

// relays reports whether a digit arriving on leg from is re-sent by the bridge
// to the other leg.
func (c *Call) relays(from *leg) bool {
	b := c.peer()
	if b == nil || c.a.state != legUp {
		return false
	}
	if from == c.a {
		return !b.media.dropDTMF && !c.bridgeFilter
	}
	return !c.a.media.dropDTMF
}

// agentHearsCustomer reports whether A's audio reaches the agent now.
func (c *Call) agentHearsCustomer() bool {
	b := c.peer()
	return b != nil && !c.a.media.readSilenced() && !b.media.writeBlocked()
}

// customerHearsAgent reports whether B's audio reaches the customer now.
func (c *Call) customerHearsAgent() bool {
	b := c.peer()
	return b != nil && !b.media.readSilenced() && !c.a.media.writeBlocked()
}

// recordingsHoldCustomer reports whether an unmasked recording captures the
// customer's audio now: recordings of A get A's audio after any mute, so a
// read mute keeps tones out of them whatever the order the bugs were added.
func (c *Call) recordingsHoldCustomer() bool {
	for _, r := range c.a.media.recordings {
		if !r.masked && !c.a.media.readSilenced() {
			return true
		}
	}
	if b := c.peer(); b != nil && c.agentHearsCustomer() {
		for _, r := range b.media.recordings {
			if !r.masked {
				return true
			}
		}
	}
	return false
}

// hearingOf reports the tone and prompt a leg hears from its own displaces
// and from read-side displaces on the other leg.
func hearingOf(l, other *leg, h *Hearing) {
	if l.media.writeMuted() {
		return
	}
	add := func(d *displace) {
		if d.tone() {
			h.Tone = true
		} else if h.Prompt == "" {
			h.Prompt = d.file
		}
	}
	for _, d := range l.media.displaces {
		if !d.readSide {
			add(d)
		}
	}
	if other != nil && !l.media.writeBlocked() {
		for _, d := range other.media.displaces {
			if d.readSide {
				add(d)
			}
		}
	}
}

// AgentHears reports what the agent hears now: the customer, a tone, a prompt.
func (c *Call) AgentHears() Hearing {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	c.a.media.prune(now)
	b := c.peer()
	if b == nil {
		return Hearing{}
	}
	b.media.prune(now)
	h := Hearing{Customer: c.agentHearsCustomer()}
	hearingOf(b, c.a, &h)
	return h
}

// CustomerHears reports what the customer hears now: the agent, a prompt.
func (c *Call) CustomerHears() Hearing {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.a.state != legUp {
		return Hearing{}
	}
	now := time.Now()
	c.a.media.prune(now)
	b := c.peer()
	if b != nil {
		b.media.prune(now)
	}
	h := Hearing{Agent: c.customerHearsAgent()}
	hearingOf(c.a, b, &h)
	return h
}

// Media returns a snapshot of the call's masking-relevant media state.
func (c *Call) Media() MediaState {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	m := &c.a.media
	m.prune(now)
	s := MediaState{
		Detector:      m.spandsp > 0,
		CoreDetector:  m.core > 0,
		DetectorHears: m.spandsp > 0 && !m.readSilencedBefore(m.spandsp),
		CustomerMuted: m.readSilenced(),
	}
	if b := c.peer(); b != nil {
		b.media.prune(now)
		s.Bridged = true
		s.CustomerMuted = !c.agentHearsCustomer()
		s.RelayBlocked = !c.relays(c.a)
		var h Hearing
		hearingOf(b, c.a, &h)
		s.AgentTone = h.Tone
	}
	s.RecordingMasked = len(m.recordings) > 0
	for _, r := range m.recordings {
		s.RecordingMasked = s.RecordingMasked && r.masked
	}
	return s
}

// Recordings returns the recordings running on the call's legs.
func (c *Call) Recordings() []RecordingState {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []RecordingState
	b := c.peer()
	for _, r := range c.a.media.recordings {
		out = append(out, RecordingState{
			Leg: LegA, Path: r.path, Masked: r.masked,
			Customer: !r.masked && !c.a.media.readSilenced(),
			Agent:    !r.masked && c.customerHearsAgent(),
		})
	}
	if b != nil {
		for _, r := range b.media.recordings {
			out = append(out, RecordingState{
				Leg: LegB, Path: r.path, Masked: r.masked,
				Customer: !r.masked && c.agentHearsCustomer(),
				Agent:    !r.masked && !b.media.readSilenced(),
			})
		}
	}
	return out
}

// Presses returns every key press so far, in order.
func (c *Call) Presses() []KeyPress {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]KeyPress(nil), c.presses...)
}

// Prompts returns the files played to the customer, in order.
func (c *Call) Prompts() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.prompts...)
}

// displaceDuration is how long a displaced file plays: tone streams with
// loops=-1 and the 'l' flag play until stopped, silence_stream://N for N ms,
// any other file for the call's prompt duration.
func displaceDuration(file string, loop bool, prompt time.Duration) time.Duration {
	switch {
	case loop, strings.Contains(file, "loops=-1"):
		return 0
	case strings.HasPrefix(file, "silence_stream://"):
		n, err := strconv.Atoi(strings.TrimPrefix(file, "silence_stream://"))
		if err != nil || n <= 0 {
			return 0
		}
		return time.Duration(n) * time.Millisecond
	}
	return prompt
}
