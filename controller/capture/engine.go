package capture

import (
	"errors"
	"time"

	"github.com/tonewall/tonewall/controller/card"
)

// historySize is how many recent key presses are kept to recognise a press
// reported a second time by another source.
const historySize = 8

// Engine is one capture. Create it with New and feed it inputs with Step. It
// prints and logs as its state and current field only.
type Engine struct {
	cfg    Config
	state  State
	today  time.Time
	fields []*fieldState // in configured order
	cur    int           // index into fields of the field being collected, or -1

	gen    uint64    // last timer generation handed out
	timers [2]uint64 // running generation per timer (see timerIndex); 0 = stopped

	sens *sensitive // state derived from digits

	brand   card.Brand // of the valid PAN
	last4   string     // of the valid PAN
	outcome Outcome

	out []Action // actions of the Step in progress
}

// fieldState is the engine's view of one field.
type fieldState struct {
	field    Field
	buf      *card.Secret // nil once handed over in CardReady
	count    int          // digits entered (kept after hand-over, for Snapshot)
	done     bool
	valid    bool
	attempts int
	reason   card.Reason
	timedOut bool
	retry    card.Reason // set when another field's result invalidated this one
}

// sensitive is engine state derived from digits. It sits behind a pointer so
// that printing an Engine through reflection (fmt reaching it in an unexported
// field) shows an address, not key values. It is zeroed on every terminal path.
type sensitive struct {
	recent      [historySize]press // recently accepted key presses, a ring
	next        int                // where the next press goes in recent
	month, year int                // of the valid expiry
}

// press is an accepted key press, remembered for duplicate detection.
type press struct {
	used     bool
	key      byte
	src      Source
	at       time.Time
	absorbed uint8 // sources whose second report of this press was dropped
}

// New returns an engine in state idle. It fills in Config's defaults and
// validates it; errors wrap ErrConfig.
func New(cfg Config) (*Engine, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	e := &Engine{cfg: cfg, state: StateIdle, cur: -1, sens: &sensitive{}}
	for _, f := range cfg.Fields {
		e.fields = append(e.fields, &fieldState{field: f, buf: card.NewSecret(e.capacity(f))})
	}
	return e, nil
}

// capacity is the most digits a field can hold, so its buffer never grows.
func (e *Engine) capacity(f Field) int {
	switch f {
	case FieldPAN:
		return card.MaxPANLength
	case FieldExpiry:
		return 4
	case FieldCVV:
		return card.Amex.CVVLength()
	}
	return e.cfg.PostcodeMax
}

// Step feeds one input to the engine and returns the actions to carry out, in
// order. It never blocks. Inputs that do not apply in the current state return
// nil; in a terminal state every input returns nil.
func (e *Engine) Step(in Input) []Action {
	if e.state.Terminal() {
		return nil
	}
	e.out = nil
	switch in := in.(type) {
	case Start:
		if e.state == StateIdle {
			e.start(in)
		}
	case Armed:
		if e.state == StateArming {
			e.armed()
		}
	case ArmFailed:
		if e.state == StateArming {
			// Fail closed: masking stays on, so no Disarm.
			e.finish(OutcomeArmingFailed, in.Reason, false)
		}
	case Digit:
		if e.state == StateCollecting {
			e.digit(in)
		}
	case TimerFired:
		if e.state == StateCollecting {
			e.timerFired(in)
		}
	case RestartField:
		if e.state == StateCollecting {
			if i := e.index(in.Field); i >= 0 {
				e.restart(i)
			}
		}
	case Cancel:
		// Nothing is armed before Start.
		e.finish(OutcomeCancelled, "cancelled by agent", e.state != StateIdle)
	case HangUp:
		// The call is gone: there is nothing left to disarm.
		e.finish(OutcomeCallerHungUp, "", false)
	}
	out := e.out
	e.out = nil
	return out
}

func (e *Engine) emit(a ...Action) { e.out = append(e.out, a...) }

func (e *Engine) progress(ev Event) { e.emit(Progress{Event: ev}) }

func (e *Engine) index(f Field) int {
	for i, fs := range e.fields {
		if fs.field == f {
			return i
		}
	}
	return -1
}

func (e *Engine) start(in Start) {
	e.today = in.Today
	e.state = StateArming
	e.emit(Arm{})
	e.progress(Event{Type: EventStarted, Required: append([]Field(nil), e.cfg.Fields...)})
}

func (e *Engine) armed() {
	e.state = StateCollecting
	e.progress(Event{Type: EventArmed})
	e.promptNext()
}

// timerIndex maps a timer to its slot in Engine.timers, or -1.
func timerIndex(t Timer) int {
	switch t {
	case TimerInterDigit:
		return 0
	case TimerField:
		return 1
	}
	return -1
}

func (e *Engine) startTimer(t Timer) {
	after := e.cfg.FieldTimeout
	if t == TimerInterDigit {
		after = e.cfg.InterDigitTimeout
	}
	e.gen++
	e.timers[timerIndex(t)] = e.gen
	e.emit(StartTimer{Timer: t, After: after, Gen: e.gen})
}

func (e *Engine) stopTimer(t Timer) {
	if i := timerIndex(t); e.timers[i] != 0 {
		e.timers[i] = 0
		e.emit(StopTimer{Timer: t})
	}
}

func (e *Engine) stopTimers() {
	e.stopTimer(TimerInterDigit)
	e.stopTimer(TimerField)
}

// promptNext moves to the first incomplete field in configured order and
// prompts it, or completes the card when every field is done.
func (e *Engine) promptNext() {
	i := -1
	for j, f := range e.fields {
		if !f.done {
			i = j
			break
		}
	}
	if i < 0 {
		e.cardReady()
		return
	}
	e.cur = i
	f := e.fields[i]
	if f.retry != card.ReasonNone {
		e.emit(Prompt{Field: f.field, Kind: PromptRetry, Reason: f.retry})
		f.retry = card.ReasonNone
	} else {
		e.emit(Prompt{Field: f.field, Kind: PromptEnter})
	}
	e.startTimer(TimerField)
	e.progress(Event{Type: EventFieldPrompted, Field: f.field, Attempt: f.attempts + 1})
}

// restart clears field i, abandons any partial entry of the current field,
// and prompts field i. Attempts already counted stay counted.
func (e *Engine) restart(i int) {
	if e.cur >= 0 && e.cur != i {
		c := e.fields[e.cur]
		if !c.done {
			c.buf.Wipe()
			c.count = 0
		}
	}
	f := e.fields[i]
	if f.done {
		switch f.field {
		case FieldPAN:
			e.brand, e.last4 = card.Unknown, ""
		case FieldExpiry:
			e.sens.month, e.sens.year = 0, 0
		}
	}
	f.buf.Wipe()
	f.count = 0
	f.done, f.valid, f.timedOut = false, false, false
	f.reason, f.retry = card.ReasonNone, card.ReasonNone
	e.cur = i
	e.stopTimer(TimerInterDigit)
	e.emit(Prompt{Field: f.field, Kind: PromptRestart})
	e.startTimer(TimerField)
	e.progress(Event{Type: EventFieldRestarted, Field: f.field, Attempt: f.attempts + 1})
}

func (e *Engine) digit(in Digit) {
	k := in.Digit
	if (k < '0' || k > '9') && k != '#' && k != '*' {
		return
	}
	if e.duplicate(in) {
		return
	}
	h := e.sens
	h.recent[h.next] = press{used: true, key: k, src: in.Source, at: in.At}
	h.next = (h.next + 1) % len(h.recent)

	switch k {
	case '*':
		e.restart(e.cur)
	case '#':
		e.complete()
	default:
		f := e.fields[e.cur]
		f.buf.Append(k)
		f.count = f.buf.Len()
		e.progress(Event{Type: EventDigit, Field: f.field, Digits: f.count, Attempt: f.attempts + 1})
		if f.count >= e.maxLength(f) {
			e.complete() // the field is as long as it can be
		} else {
			e.startTimer(TimerInterDigit)
		}
	}
}

// sourceBit maps a source to its bit in press.absorbed.
func sourceBit(s Source) uint8 {
	switch s {
	case SourceInband:
		return 1
	case SourceRTP:
		return 2
	case SourceOther:
		return 4
	}
	return 8
}

// duplicate reports whether in is a second report of a key press already
// accepted: the same key from a different source within DuplicateWindow
// (either side) of it, and the first report of that press from in's source.
// The same key from the same source is a real repeat. Each detector reports
// presses in order, so of several candidate presses the earliest absorbs the
// report: with a fast "44" the first second-source report pairs with the
// first press, the second with the second.
func (e *Engine) duplicate(in Digit) bool {
	bit := sourceBit(in.Source)
	best := -1
	for i := range e.sens.recent {
		p := &e.sens.recent[i]
		if !p.used || p.key != in.Digit || p.src == in.Source || p.absorbed&bit != 0 {
			continue
		}
		d := in.At.Sub(p.at)
		if d < 0 {
			d = -d
		}
		if d <= e.cfg.DuplicateWindow && (best < 0 || p.at.Before(e.sens.recent[best].at)) {
			best = i
		}
	}
	if best < 0 {
		return false
	}
	e.sens.recent[best].absorbed |= bit
	return true
}

// maxLength is the length at which a field completes without '#'.
func (e *Engine) maxLength(f *fieldState) int {
	switch f.field {
	case FieldPAN:
		return card.DetectBrand(f.buf.Bytes()).MaxLength()
	case FieldExpiry:
		return 4
	case FieldCVV:
		if e.brand != card.Unknown {
			return e.brand.CVVLength()
		}
		return card.Amex.CVVLength()
	}
	return e.cfg.PostcodeMax
}

// complete validates the current field's entry.
func (e *Engine) complete() {
	f := e.fields[e.cur]
	e.stopTimer(TimerInterDigit)
	var brand card.Brand
	var err error
	switch f.field {
	case FieldPAN:
		brand, err = card.ValidatePAN(f.buf.Bytes(), e.cfg.Accepted)
	case FieldExpiry:
		e.sens.month, e.sens.year, err = card.ValidateExpiry(f.buf.Bytes(), e.today)
	case FieldCVV:
		err = e.validateCVV(f.buf.Bytes())
	case FieldPostcode:
		err = card.ValidatePostcode(f.buf.Bytes(), e.cfg.PostcodeMin, e.cfg.PostcodeMax)
	}
	if err != nil {
		e.reject(f, reasonOf(err), "", brand)
		return
	}
	f.done, f.valid = true, true
	f.reason, f.timedOut = card.ReasonNone, false
	ev := Event{Type: EventFieldValid, Field: f.field, Digits: f.count, Attempt: f.attempts + 1, Valid: true}
	if f.field == FieldPAN {
		pan := f.buf.Bytes()
		e.brand, e.last4 = brand, string(pan[len(pan)-4:])
		ev.Brand, ev.Last4 = e.brand, e.last4
	}
	e.progress(ev)
	if f.field == FieldPAN && !e.recheckCVV() {
		return
	}
	e.promptNext()
}

// validateCVV checks the CVV against the PAN's brand, or, before the PAN is
// known, accepts any length a brand uses (checked again when the PAN is valid).
func (e *Engine) validateCVV(cvv []byte) error {
	if e.brand != card.Unknown {
		return card.ValidateCVV(cvv, e.brand)
	}
	if card.ValidateCVV(cvv, card.Visa) == nil || card.ValidateCVV(cvv, card.Amex) == nil {
		return nil
	}
	return card.ValidateCVV(cvv, card.Visa)
}

// recheckCVV checks a CVV entered before the PAN against the new brand. A
// mismatch counts as an invalid CVV attempt; the CVV is asked for again in its
// turn. It returns false if that ended the capture.
func (e *Engine) recheckCVV() bool {
	i := e.index(FieldCVV)
	f := e.fields[i]
	if !f.done || card.ValidateCVV(f.buf.Bytes(), e.brand) == nil {
		return true
	}
	f.attempts++
	f.done, f.valid = false, false
	f.reason, f.retry = card.ReasonCVVLength, card.ReasonCVVLength
	e.progress(Event{Type: EventFieldInvalid, Field: f.field, Digits: f.count, Attempt: f.attempts, Reason: f.reason})
	f.buf.Wipe()
	f.count = 0
	if f.attempts >= e.cfg.MaxAttempts {
		e.exhaust(f)
		return false
	}
	return true
}

// reasonOf extracts the validation reason from a card error.
func reasonOf(err error) card.Reason {
	var ve *card.ValidationError
	if errors.As(err, &ve) {
		return ve.Reason
	}
	return card.ReasonNone
}

// reject counts a failed attempt at field f: invalid (reason set) or timed
// out (timer set). It re-prompts, or ends the capture when attempts are used up.
func (e *Engine) reject(f *fieldState, reason card.Reason, timer Timer, brand card.Brand) {
	f.attempts++
	f.reason, f.timedOut = reason, timer != ""
	if timer != "" {
		e.progress(Event{Type: EventTimeout, Field: f.field, Digits: f.count, Attempt: f.attempts, Timer: timer})
	} else {
		e.progress(Event{Type: EventFieldInvalid, Field: f.field, Digits: f.count, Attempt: f.attempts, Reason: reason, Brand: brand})
	}
	f.buf.Wipe()
	f.count = 0
	e.stopTimer(TimerInterDigit)
	if f.attempts >= e.cfg.MaxAttempts {
		e.exhaust(f)
		return
	}
	if timer != "" {
		e.emit(Prompt{Field: f.field, Kind: PromptTimeout})
	} else {
		e.emit(Prompt{Field: f.field, Kind: PromptRetry, Reason: reason})
	}
	e.startTimer(TimerField)
}

func (e *Engine) timerFired(in TimerFired) {
	i := timerIndex(in.Timer)
	if i < 0 || e.timers[i] == 0 || e.timers[i] != in.Gen {
		return // stale or unknown
	}
	e.timers[i] = 0
	e.reject(e.fields[e.cur], card.ReasonNone, in.Timer, card.Unknown)
}

// exhaust ends the capture because field f used up its attempts.
func (e *Engine) exhaust(f *fieldState) {
	why := "timeout"
	if !f.timedOut {
		why = string(f.reason)
	}
	e.stopTimers()
	e.emit(Prompt{Field: f.field, Kind: PromptFailed})
	e.finish(OutcomeAttemptsExhausted, string(f.field)+": "+why, true)
}

// cardReady hands the card over and ends the capture.
func (e *Engine) cardReady() {
	c := &card.Card{Brand: e.brand, Last4: e.last4, ExpMonth: e.sens.month, ExpYear: e.sens.year}
	for _, f := range e.fields {
		switch f.field {
		case FieldPAN:
			c.PAN = f.buf
		case FieldExpiry:
			c.Expiry = f.buf
		case FieldCVV:
			c.CVV = f.buf
		case FieldPostcode:
			c.Postcode = f.buf
		}
		f.buf = nil // ownership passes to the caller
	}
	e.sens.month, e.sens.year = 0, 0
	e.stopTimers()
	e.emit(Prompt{Kind: PromptDone})
	e.emit(Disarm{})
	e.emit(CardReady{Card: c})
	e.progress(Event{Type: EventCardComplete, Brand: e.brand, Last4: e.last4})
	e.finish(OutcomeCardReady, "", false)
}

// finish moves to the terminal state for outcome: it stops the timers, wipes
// every buffer the engine still owns and emits Finished last.
func (e *Engine) finish(o Outcome, reason string, disarm bool) {
	e.stopTimers()
	e.wipe()
	switch o {
	case OutcomeCardReady:
		e.state = StateComplete
	case OutcomeCancelled:
		e.state = StateCancelled
	case OutcomeCallerHungUp:
		e.state = StateHungUp
	default:
		e.state = StateFailed
	}
	e.outcome = o
	e.cur = -1
	if disarm {
		e.emit(Disarm{})
	}
	e.progress(Event{Type: EventFinished, Outcome: o})
	e.emit(Finished{Outcome: o, Reason: reason})
}

// wipe zeroes every buffer the engine owns and forgets recent key presses.
func (e *Engine) wipe() {
	for _, f := range e.fields {
		f.buf.Wipe()
		if f.buf != nil {
			f.count = 0
		}
	}
	*e.sens = sensitive{}
}
