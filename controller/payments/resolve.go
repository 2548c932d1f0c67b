package payments

import (
	"context"
	"errors"
	"time"

	"github.com/tonewall/tonewall/pluginsdk"
)

// pending is an operation whose outcome is unknown, being resolved through
// the plugin's Status.
type pending struct {
	captureID string
	txID      string
	op        pluginsdk.Operation
	ref       string // the modified payment's reference, for capture/void/refund
	created   time.Time
	next      time.Time // when to ask next
	delay     time.Duration
	tries     int

	done      chan struct{} // closed once resolved
	result    pluginsdk.Result
	abandoned bool // a Pay returned unknown for it: report through OnResolved
}

// addPending registers txID for resolution, or returns the entry already
// registered.
func (p *instance) addPending(pay Payment, txID string) *pending {
	p.mu.Lock()
	defer p.mu.Unlock()
	if pe, ok := p.pending[txID]; ok {
		return pe
	}
	now := time.Now()
	pe := &pending{
		captureID: pay.CaptureID, txID: txID, op: pay.Operation, ref: pay.ProviderReference,
		created: now, next: now, done: make(chan struct{}),
	}
	p.pending[txID] = pe
	signal(p.resolveKick)
	return pe
}

func (p *instance) pendingFor(txID string) *pending {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pending[txID]
}

// await waits for pe's resolution. If ctx (or the host) ends first it returns
// OutcomeUnknown with cause, and the resolution is reported later through
// OnResolved.
func (p *instance) await(ctx, hostCtx context.Context, pe *pending, cause error) (pluginsdk.Result, error) {
	select {
	case <-pe.done:
		return pe.result, nil
	case <-ctx.Done():
	case <-hostCtx.Done():
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-pe.done:
		return pe.result, nil
	default:
	}
	pe.abandoned = true
	return unknown(pe.txID), cause
}

// resolveIfPending settles txID's resolution, if one is in progress, with r.
func (p *instance) resolveIfPending(txID string, r pluginsdk.Result) {
	p.mu.Lock()
	pe := p.pending[txID]
	p.mu.Unlock()
	if pe != nil {
		p.resolve(pe, r)
	}
}

// resolve records pe's final result, wakes every Pay waiting for it, and
// reports it through OnResolved if a Pay already gave up on it.
func (p *instance) resolve(pe *pending, r pluginsdk.Result) {
	p.mu.Lock()
	if p.pending[pe.txID] != pe {
		p.mu.Unlock()
		return
	}
	delete(p.pending, pe.txID)
	if r.TransactionID == "" {
		r.TransactionID = pe.txID
	}
	pe.result = r
	p.log.Info("payment outcome resolved", "capture_id", pe.captureID, "transaction_id", pe.txID,
		"operation", string(pe.op), "outcome", string(r.Outcome), "reason", string(r.Reason), "tries", pe.tries)
	close(pe.done)
	report := pe.abandoned
	p.mu.Unlock()

	if report && p.opts.OnResolved != nil {
		p.opts.OnResolved(pe.captureID, r)
	}
}

// due returns the entries whose next query is due, and when the next one
// after them is.
func (p *instance) due(now time.Time) (due []*pending, next time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, pe := range p.pending {
		switch {
		case !pe.next.After(now):
			due = append(due, pe)
		case next.IsZero() || pe.next.Before(next):
			next = pe.next
		}
	}
	return due, next
}

// resolveLoop queries Status for unknown outcomes while the plugin is up,
// until ctx ends.
func (p *instance) resolveLoop(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		due, next := p.due(time.Now())
		if len(due) > 0 {
			g := p.live()
			if g == nil {
				select {
				case <-ctx.Done():
					return
				case <-p.upChan():
				}
				continue
			}
			for _, pe := range due {
				p.tryResolve(ctx, g, pe)
			}
			continue
		}
		wait := time.Hour
		if !next.IsZero() {
			wait = time.Until(next)
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-p.resolveKick:
		case <-timer.C:
		}
	}
}

// tryResolve asks Status once, and either resolves pe or schedules the next
// query. After ResolveTimeout it gives up and reports the outcome unknown.
func (p *instance) tryResolve(ctx context.Context, g *generation, pe *pending) {
	cctx, cancel := context.WithTimeout(ctx, p.opts.CallTimeout)
	r, err := g.prov.Status(cctx, &pluginsdk.StatusRequest{TransactionID: pe.txID, ProviderReference: pe.ref, Operation: pe.op})
	cancel()
	if ctx.Err() != nil {
		return
	}
	if err == nil && r.Outcome != pluginsdk.OutcomeUnknown {
		p.resolve(pe, *r)
		return
	}
	if errors.Is(err, pluginsdk.ErrPluginGone) {
		p.markDown(g, "status call failed: "+err.Error())
	}
	p.mu.Lock()
	pe.tries++
	pe.delay = max(resolveRetryMin, min(2*pe.delay, resolveRetryMax))
	pe.next = time.Now().Add(pe.delay)
	giveUp := time.Since(pe.created) > p.opts.ResolveTimeout
	p.mu.Unlock()
	if giveUp {
		p.log.Error("payment outcome could not be resolved; reconcile with the provider by hand",
			"capture_id", pe.captureID, "transaction_id", pe.txID, "operation", string(pe.op), "tries", pe.tries)
		p.mu.Lock()
		pe.abandoned = true // nobody waits any more: report it
		p.mu.Unlock()
		p.resolve(pe, unknown(pe.txID))
		return
	}
	errText := ""
	if err != nil {
		errText = err.Error()
	}
	p.log.Warn("payment outcome still unknown", "capture_id", pe.captureID, "transaction_id", pe.txID,
		"retry_in", pe.delay.String(), "error", errText)
}
