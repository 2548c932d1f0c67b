package call

import (
	"context"
	"errors"
	"time"

	"github.com/tonewall/tonewall/controller/capture"
	"github.com/tonewall/tonewall/controller/card"
	"github.com/tonewall/tonewall/controller/esl"
	"github.com/tonewall/tonewall/controller/media"
)

// step feeds one input to the capture engine and carries out the actions
// it returns. Some actions (arming) produce the next input; those are fed in
// turn, so the engine sees inputs strictly one at a time.
func (c *Call) step(in capture.Input) {
	queue := []capture.Input{in}
	for len(queue) > 0 && c.eng != nil {
		in := queue[0]
		queue = queue[1:]
		acts := c.eng.Step(in)
		rec := c.rec
		rec.fromSnapshot(c.eng.Snapshot(), c.m.opts.Now())
		for _, a := range acts {
			if next := c.perform(rec, a); next != nil {
				queue = append(queue, next)
			}
		}
	}
}

// perform carries out one action; it may return the engine's next input.
func (c *Call) perform(rec *record, a capture.Action) capture.Input {
	switch a := a.(type) {
	case capture.Arm:
		return c.arm(rec)
	case capture.Disarm:
		c.disarm(rec)
	case capture.Prompt:
		c.play(a)
	case capture.StartTimer:
		c.startTimer(a)
	case capture.StopTimer:
		if t := c.timerFor[a.Timer]; t != nil {
			t.Stop()
			delete(c.timerFor, a.Timer)
		}
	case capture.Progress:
		c.progress(rec, a.Event)
	case capture.CardReady:
		c.submit(rec, a.Card)
	case capture.Finished:
		c.finish(rec, a)
	default:
		c.log.Warn("unknown capture action", "action", a.String())
	}
	return nil
}

// arm applies the masking steps in order, each confirmed before the next.
// Any failure aborts the capture with whatever was applied left in place
// (fail closed).
func (c *Call) arm(rec *record) capture.Input {
	ctx, cancel := context.WithTimeout(context.Background(), c.m.opts.SetupTimeout)
	defer cancel()
	if len(c.armed) > 0 {
		// Masking left on by an earlier failed capture: start clean.
		c.disarm(rec)
		if len(c.armed) > 0 {
			return capture.ArmFailed{Reason: "masking left on by an earlier capture could not be removed"}
		}
	}
	rec.set(c.m.opts.Now(), func(r *record) { r.masking = "arming" })
	m := c.masking()
	if err := m.Valid(); err != nil {
		return c.armFailed(rec, "validate", err)
	}
	start := time.Now()
	for _, st := range m.Steps() {
		if _, err := c.s.API(ctx, st.Arm); err != nil {
			return c.armFailed(rec, st.Name, err)
		}
		c.armed = append(c.armed, st)
	}
	rec.set(c.m.opts.Now(), func(r *record) { r.masking = "on" })
	c.log.Info("masking armed", "capture", rec.id, "took", time.Since(start))
	c.m.publish(Event{Type: EventMaskingArmed, CallID: c.id, CaptureID: rec.id})
	return capture.Armed{}
}

func (c *Call) armFailed(rec *record, step string, err error) capture.Input {
	c.log.Error("masking could not be armed; capture aborted, masking left on", "capture", rec.id, "step", step, "err", err)
	rec.set(c.m.opts.Now(), func(r *record) { r.masking = "left-on" })
	c.m.publish(Event{Type: EventMaskingFailed, CallID: c.id, CaptureID: rec.id, Reason: step})
	return capture.ArmFailed{Reason: "masking step " + step + " failed"}
}

func (c *Call) masking() media.Masking {
	return media.Masking{
		Customer:      c.id,
		Agent:         c.agent,
		Tone:          c.m.opts.Tone,
		RecordingPath: c.recPath,
		MaskRecording: c.m.opts.MaskRecording,
	}
}

// disarm undoes the applied steps in reverse order. Each step is tried a
// few times; a step that still fails is reported and the rest go on, so
// customer and agent hear each other again as far as possible.
func (c *Call) disarm(rec *record) {
	if len(c.armed) == 0 {
		return
	}
	rec.set(c.m.opts.Now(), func(r *record) { r.masking = "disarming" })
	var failed []media.Step
	for i := len(c.armed) - 1; i >= 0; i-- {
		st := c.armed[i]
		var err error
		for attempt := 1; attempt <= c.m.opts.DisarmAttempts; attempt++ {
			ctx, cancel := context.WithTimeout(context.Background(), c.m.opts.SetupTimeout)
			_, err = c.s.API(ctx, st.Disarm)
			cancel()
			if err == nil || errorsIsDisplaceNotRunning(err) {
				err = nil
				break
			}
			if isFatal(err) {
				break
			}
			time.Sleep(time.Duration(attempt) * 50 * time.Millisecond)
		}
		if err != nil {
			c.log.Error("masking step could not be disarmed", "capture", rec.id, "step", st.Name, "err", err)
			c.m.publish(Event{Type: EventDisarmFailed, CallID: c.id, CaptureID: rec.id, Reason: st.Name})
			failed = append([]media.Step{st}, failed...)
		}
	}
	c.armed = failed
	state := "off"
	if len(failed) > 0 {
		state = "disarm-failed"
	} else {
		c.m.publish(Event{Type: EventMaskingDisarmed, CallID: c.id, CaptureID: rec.id})
	}
	rec.set(c.m.opts.Now(), func(r *record) { r.masking = state })
}

// isFatal reports errors after which retrying on this session is useless.
func isFatal(err error) bool {
	return errors.Is(err, esl.ErrClosed) || errors.Is(err, esl.ErrDesynced)
}

// play stops the prompt playing to the customer, if any, and starts the one
// for this action, mixed so that the agent is never cut off.
func (c *Call) play(p capture.Prompt) {
	file := c.promptFile(p)
	if file == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.m.opts.SetupTimeout)
	defer cancel()
	if c.prompt != "" {
		if _, err := c.s.API(ctx, media.StopToCustomer(c.id, c.prompt)); err != nil && !errorsIsDisplaceNotRunning(err) {
			c.log.Warn("could not stop prompt", "err", err)
		}
		c.prompt = ""
	}
	if _, err := c.s.API(ctx, media.PlayToCustomer(c.id, file)); err != nil {
		c.log.Warn("could not play prompt", "prompt", p.String(), "err", err)
		return
	}
	c.prompt = file
}

func (c *Call) promptFile(p capture.Prompt) string {
	pr := c.m.opts.Prompts
	ask := map[capture.Field]media.Prompt{
		capture.FieldPAN:      media.PromptEnterPAN,
		capture.FieldExpiry:   media.PromptEnterExpiry,
		capture.FieldCVV:      media.PromptEnterCVV,
		capture.FieldPostcode: media.PromptEnterPostcode,
	}[p.Field]
	var lead media.Prompt
	switch p.Kind {
	case capture.PromptEnter:
	case capture.PromptRetry:
		lead = media.PromptInvalid
	case capture.PromptTimeout:
		lead = media.PromptTimeout
	case capture.PromptRestart:
		lead = media.PromptRestart
	case capture.PromptDone:
		return pr.File(media.PromptThankYou, c.lang)
	case capture.PromptFailed:
		return pr.File(media.PromptFailed, c.lang)
	}
	if ask == "" {
		return ""
	}
	if lead == "" {
		return pr.File(ask, c.lang)
	}
	// file_string:// plays the files one after the other.
	return "file_string://" + pr.File(lead, c.lang) + "!" + pr.File(ask, c.lang)
}

func (c *Call) startTimer(a capture.StartTimer) {
	if t := c.timerFor[a.Timer]; t != nil {
		t.Stop()
	}
	fire := capture.TimerFired{Timer: a.Timer, Gen: a.Gen}
	done := c.s.Done()
	c.timerFor[a.Timer] = time.AfterFunc(a.After, func() {
		select {
		case c.timers <- fire:
		case <-done:
		}
	})
}

func (c *Call) stopTimers() {
	for k, t := range c.timerFor {
		t.Stop()
		delete(c.timerFor, k)
	}
}

func (c *Call) progress(rec *record, e capture.Event) {
	ev := Event{
		CallID:    c.id,
		CaptureID: rec.id,
		Field:     string(e.Field),
		Digits:    e.Digits,
		Attempt:   e.Attempt,
		Reason:    string(e.Reason),
		Brand:     string(e.Brand),
		Last4:     e.Last4,
	}
	for _, f := range e.Required {
		ev.Required = append(ev.Required, string(f))
	}
	switch e.Type {
	case capture.EventStarted:
		ev.Type = EventCaptureStarted
	case capture.EventFieldPrompted:
		ev.Type = EventFieldPrompted
	case capture.EventDigit:
		ev.Type = EventFieldDigit
	case capture.EventFieldRestarted:
		ev.Type = EventFieldRestarted
	case capture.EventFieldValid:
		ev.Type = EventFieldValid
	case capture.EventFieldInvalid:
		ev.Type = EventFieldInvalid
	case capture.EventTimeout:
		ev.Type = EventFieldTimeout
	case capture.EventCardComplete:
		ev.Type = EventCardComplete
	default:
		return // armed and finished are published by the call itself
	}
	c.m.publish(ev)
}

// submit hands the card to the sink on its own goroutine: the payment goes
// on even if the caller hangs up now. The card is wiped when it returns.
func (c *Call) submit(rec *record, cd *card.Card) {
	p := Payment{
		CaptureID:      rec.id,
		CallID:         c.id,
		Provider:       rec.req.Provider,
		Operation:      rec.req.Operation,
		Amount:         rec.req.Amount,
		Currency:       rec.req.Currency,
		Reference:      rec.req.Reference,
		IdempotencyKey: rec.id,
		Card:           cd,
	}
	m := c.m
	log := c.log
	m.submits.Add(1)
	go func() {
		defer m.submits.Done()
		defer cd.Wipe()
		ctx, cancel := context.WithTimeout(m.ctx, m.opts.SubmitTimeout)
		defer cancel()
		res, err := m.opts.Sink.Submit(ctx, p)
		if err != nil {
			log.Error("payment submission failed", "capture", p.CaptureID, "provider", p.Provider, "err", err)
			if res.Outcome == "" {
				res = PaymentResult{Outcome: "unknown", Reason: "submission_error"}
			}
			m.publish(Event{Type: EventPaymentSubmitError, CallID: p.CallID, CaptureID: p.CaptureID, Reason: res.Reason})
		}
		rec.set(m.opts.Now(), func(r *record) {
			r.payment = &res
			r.outcome = res.Outcome
			r.reason = res.Reason
		})
		log.Info("payment result", "capture", p.CaptureID, "outcome", res.Outcome, "reason", res.Reason)
		v := rec.view()
		m.publish(Event{Type: EventPaymentResult, CallID: p.CallID, CaptureID: p.CaptureID, Outcome: res.Outcome,
			Reason: res.Reason, Brand: v.Brand, Last4: v.Last4, Payment: &res})
	}()
}

// finish records the capture's end and frees the call for the next one.
func (c *Call) finish(rec *record, f capture.Finished) {
	outcome := string(f.Outcome)
	rec.set(c.m.opts.Now(), func(r *record) {
		if f.Outcome == capture.OutcomeCardReady {
			if r.outcome == "" {
				r.outcome = "submitting"
			}
		} else {
			r.outcome = outcome
			r.reason = f.Reason
		}
	})
	c.log.Info("capture finished", "capture", rec.id, "outcome", outcome)
	c.m.publish(Event{Type: EventCaptureFinished, CallID: c.id, CaptureID: rec.id, Outcome: outcome, Reason: f.Reason})
	c.stopTimers()
	c.eng = nil
	c.rec = nil
	c.viewMu.Lock()
	c.captureID = ""
	c.viewMu.Unlock()
}
