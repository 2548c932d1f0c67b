package payments

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"

	"github.com/tonewall/tonewall/controller/card"
	"github.com/tonewall/tonewall/pluginsdk"
)

// Payment is one operation on a captured card or an earlier payment.
type Payment struct {
	// CaptureID identifies the capture. With Operation it fixes the
	// transaction id and idempotency key, so submitting the same capture
	// again can never charge twice.
	CaptureID string
	Provider  string // a PluginConfig.Name
	Operation pluginsdk.Operation
	Amount    pluginsdk.Money
	Reference string // the merchant's reference
	// Card is needed for authorize, sale and tokenize. Pay copies what it
	// needs and wipes its copies; the caller still owns Card and wipes it.
	Card *card.Card
	// ProviderReference is the earlier payment's reference, for capture,
	// void and refund.
	ProviderReference string
}

// TransactionID is the host-made transaction id for a capture's operation.
func TransactionID(captureID string, op pluginsdk.Operation) string {
	return "twtx_" + digest("transaction", captureID, op)
}

// IdempotencyKey is the idempotency key for a capture's operation.
func IdempotencyKey(captureID string, op pluginsdk.Operation) string {
	return "twik_" + digest("idempotency", captureID, op)
}

// digest is 40 hex digits of SHA-256 over a label, the capture id and the
// operation: short enough for every PSP's key limit (Adyen's 64).
func digest(label, captureID string, op pluginsdk.Operation) string {
	sum := sha256.Sum256([]byte("tonewall/" + label + "\x00" + captureID + "\x00" + string(op)))
	return hex.EncodeToString(sum[:20])
}

// pluginCard copies the card's secrets into one host-owned buffer, shaped as
// a pluginsdk.Card. wipe zeroes the buffer.
func pluginCard(c *card.Card) (pc pluginsdk.Card, wipe func()) {
	pan, cvv, post := c.PAN.Bytes(), c.CVV.Bytes(), c.Postcode.Bytes()
	buf := make([]byte, len(pan)+len(cvv)+len(post))
	n := copy(buf, pan)
	m := n + copy(buf[n:], cvv)
	copy(buf[m:], post)
	year := c.ExpYear
	if year > 0 && year < 100 {
		year += 2000
	}
	pc = pluginsdk.Card{
		Number:      buf[:n:n],
		CVC:         buf[n:m:m],
		ExpiryMonth: c.ExpMonth,
		ExpiryYear:  year,
	}
	if len(post) > 0 {
		pc.Postcode = buf[m:]
	}
	return pc, func() { clear(buf) }
}

// failedBefore is the result for a payment that never reached the plugin, or
// that the plugin refused before sending.
func failedBefore(txID string, reason pluginsdk.Reason) pluginsdk.Result {
	return pluginsdk.Result{TransactionID: txID, Outcome: pluginsdk.OutcomeFailedBefore, Reason: reason}
}

func unknown(txID string) pluginsdk.Result {
	return pluginsdk.Result{TransactionID: txID, Outcome: pluginsdk.OutcomeUnknown}
}

// Pay runs p through its provider's plugin and returns the normalised result.
//
// Pay is bounded by Options.CallTimeout (or ctx's earlier deadline). The
// result's outcome tells the caller what happened:
//
//   - approved or declined: final.
//   - failed-before-sending (with an error saying why): nothing reached the
//     PSP; safe to try again.
//   - unknown (with an error wrapping pluginsdk.ErrDeadline or
//     pluginsdk.ErrPluginGone): the payment may have happened. The host
//     resolves it through the plugin's Status and calls Options.OnResolved
//     with the final result. Pay itself waits for that resolution while its
//     deadline allows, so a plugin that dies mid-call and restarts quickly
//     still yields a final result here.
//
// A Pay for a capture whose earlier outcome is still being resolved is not
// sent again: it waits for the same resolution.
func (h *Host) Pay(ctx context.Context, p Payment) (pluginsdk.Result, error) {
	inst, err := h.instance(p.Provider)
	if err != nil {
		return failedBefore("", pluginsdk.ReasonConfigError), err
	}
	txID := TransactionID(p.CaptureID, p.Operation)
	if p.CaptureID == "" {
		return failedBefore(txID, ""), fmt.Errorf("payments: %w: no capture id", pluginsdk.ErrInvalidRequest)
	}
	ctx, cancel := context.WithTimeout(ctx, h.opts.CallTimeout)
	defer cancel()

	if pend := inst.pendingFor(txID); pend != nil {
		return inst.await(ctx, h.ctx, pend, fmt.Errorf("payments: %w: an earlier attempt is being resolved", pluginsdk.ErrDeadline))
	}

	var call func(context.Context, pluginsdk.Provider) (*pluginsdk.Result, error)
	switch p.Operation {
	case pluginsdk.OpAuthorize, pluginsdk.OpSale, pluginsdk.OpTokenize:
		if p.Card == nil || p.Card.PAN.Len() == 0 {
			return failedBefore(txID, pluginsdk.ReasonInvalidNumber),
				fmt.Errorf("payments: %w: %s needs a card", pluginsdk.ErrInvalidRequest, p.Operation)
		}
		pc, wipe := pluginCard(p.Card)
		defer wipe()
		req := &pluginsdk.PaymentRequest{
			TransactionID: txID, IdempotencyKey: IdempotencyKey(p.CaptureID, p.Operation),
			Amount: p.Amount, Reference: p.Reference, Channel: pluginsdk.ChannelMOTO, Card: pc,
		}
		call = func(ctx context.Context, prov pluginsdk.Provider) (*pluginsdk.Result, error) {
			switch p.Operation {
			case pluginsdk.OpAuthorize:
				return prov.Authorize(ctx, req)
			case pluginsdk.OpSale:
				return prov.Sale(ctx, req)
			default:
				return prov.Tokenize(ctx, req)
			}
		}
	case pluginsdk.OpCapture, pluginsdk.OpVoid, pluginsdk.OpRefund:
		req := &pluginsdk.ModifyRequest{
			TransactionID: txID, IdempotencyKey: IdempotencyKey(p.CaptureID, p.Operation),
			ProviderReference: p.ProviderReference, Amount: p.Amount, Reference: p.Reference,
		}
		call = func(ctx context.Context, prov pluginsdk.Provider) (*pluginsdk.Result, error) {
			switch p.Operation {
			case pluginsdk.OpCapture:
				return prov.Capture(ctx, req)
			case pluginsdk.OpVoid:
				return prov.Void(ctx, req)
			default:
				return prov.Refund(ctx, req)
			}
		}
	default:
		return failedBefore(txID, ""), fmt.Errorf("payments: %w: operation %q cannot be paid (use Host.Status for status)",
			pluginsdk.ErrInvalidRequest, p.Operation)
	}

	g, err := inst.ready(ctx)
	if err != nil {
		return failedBefore(txID, pluginsdk.ReasonProcessingError), fmt.Errorf("payments: %s not sent: %w", p.Operation, err)
	}
	if !slices.Contains(g.desc.Operations, p.Operation) {
		return failedBefore(txID, pluginsdk.ReasonUnsupportedFeature),
			fmt.Errorf("payments: %w: plugin %q does not support %s", pluginsdk.ErrUnsupported, p.Provider, p.Operation)
	}
	r, err := call(ctx, g.prov)
	return inst.settle(ctx, h.ctx, g, p, txID, r, err)
}

// settle turns a plugin's answer into Pay's answer.
func (p *instance) settle(ctx, hostCtx context.Context, g *generation, pay Payment, txID string, r *pluginsdk.Result, err error) (pluginsdk.Result, error) {
	if err == nil {
		res := *r
		if res.TransactionID == "" {
			res.TransactionID = txID
		}
		if res.Outcome != pluginsdk.OutcomeUnknown {
			p.resolveIfPending(txID, res)
			return res, nil
		}
		pend := p.addPending(pay, txID)
		return p.await(ctx, hostCtx, pend, fmt.Errorf("payments: plugin %q answered %s with outcome unknown", p.cfg.Name, pay.Operation))
	}

	var e *pluginsdk.Error
	if !errors.As(err, &e) {
		e = &pluginsdk.Error{Kind: pluginsdk.KindInternal, Message: err.Error()}
	}
	switch e.Kind {
	case pluginsdk.KindUnsupported:
		return failedBefore(txID, pluginsdk.ReasonUnsupportedFeature), fmt.Errorf("payments: %s: %w", pay.Operation, err)
	case pluginsdk.KindNotConfigured:
		return failedBefore(txID, pluginsdk.ReasonConfigError), fmt.Errorf("payments: %s: %w", pay.Operation, err)
	case pluginsdk.KindInvalidRequest:
		return failedBefore(txID, ""), fmt.Errorf("payments: %s: %w", pay.Operation, err)
	case pluginsdk.KindProviderUnavailable:
		return failedBefore(txID, pluginsdk.ReasonProcessingError), fmt.Errorf("payments: %s: %w", pay.Operation, err)
	case pluginsdk.KindPluginGone:
		p.markDown(g, fmt.Sprintf("%s call failed: %v", pay.Operation, err))
	}
	// Deadline, plugin gone, internal: the operation may have happened.
	p.log.Warn("payment outcome unknown; resolving through Status",
		"capture_id", pay.CaptureID, "transaction_id", txID, "operation", string(pay.Operation), "error", err.Error())
	pend := p.addPending(pay, txID)
	return p.await(ctx, hostCtx, pend, fmt.Errorf("payments: %s outcome unknown: %w", pay.Operation, err))
}

// Status asks the provider what became of a capture's operation. It never
// creates a charge. A final answer also settles a resolution in progress.
func (h *Host) Status(ctx context.Context, provider, captureID string, op pluginsdk.Operation) (pluginsdk.Result, error) {
	inst, err := h.instance(provider)
	if err != nil {
		return pluginsdk.Result{}, err
	}
	txID := TransactionID(captureID, op)
	ctx, cancel := context.WithTimeout(ctx, h.opts.CallTimeout)
	defer cancel()
	g, err := inst.ready(ctx)
	if err != nil {
		return unknown(txID), fmt.Errorf("payments: status: %w", err)
	}
	r, err := g.prov.Status(ctx, &pluginsdk.StatusRequest{TransactionID: txID, Operation: op})
	if err != nil {
		if errors.Is(err, pluginsdk.ErrPluginGone) {
			inst.markDown(g, "status call failed: "+err.Error())
		}
		return unknown(txID), fmt.Errorf("payments: status: %w", err)
	}
	if r.Outcome != pluginsdk.OutcomeUnknown {
		inst.resolveIfPending(txID, *r)
	}
	return *r, nil
}
