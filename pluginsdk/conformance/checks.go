package conformance

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/tonewall/tonewall/pluginsdk"
)

func (k *kit) testDescribe(t *testing.T) {
	d, err := k.prov.Describe(k.ctx(t), &pluginsdk.DescribeRequest{})
	k.record(nil, err)
	if err != nil {
		t.Fatalf("Describe: %v", err)
	}
	if d.Name == "" {
		t.Error("Describe: empty Name")
	}
	if d.Version == "" {
		t.Error("Describe: empty Version")
	}
	for _, op := range k.cfg.Operations {
		if !slices.Contains(d.Operations, op) {
			t.Errorf("Describe: operation %q expected but not declared (declared %v)", op, d.Operations)
		}
	}
	if len(d.Brands) == 0 {
		t.Error("Describe: no brands declared")
	}
	k.declared = d.Operations
}

func (k *kit) testNotConfigured(t *testing.T) {
	op := k.chargeOps()
	if len(op) == 0 {
		op = []pluginsdk.Operation{pluginsdk.OpTokenize}
	}
	r, err := k.call(k.ctx(t), op[0], k.paymentRequest(k.cfg.Approve[0], k.cfg.Amount))
	if !errors.Is(err, pluginsdk.ErrNotConfigured) {
		t.Errorf("%s before Configure: got result %+v, error %v; want ErrNotConfigured", op[0], outcomeOf(r), err)
	}
}

func (k *kit) testConfigure(t *testing.T) {
	if err := k.configure(k.ctx(t), nil); err != nil {
		t.Fatalf("Configure: %v", err)
	}
}

// outcomeOf prints a result's outcome fields only.
func outcomeOf(r *pluginsdk.Result) string {
	if r == nil {
		return "<nil>"
	}
	return fmt.Sprintf("{%s %s code=%q}", r.Outcome, r.Reason, r.ProviderCode)
}

func cardName(c TestCard) string { return "card-" + last4(c.Number) }

// checkCardEcho checks the non-secret card fields a result carries.
func checkCardEcho(t *testing.T, r *pluginsdk.Result, c TestCard, tx string) {
	t.Helper()
	if r.TransactionID != tx {
		t.Errorf("TransactionID = %q, want %q", r.TransactionID, tx)
	}
	if r.Last4 != "" && r.Last4 != last4(c.Number) {
		t.Errorf("Last4 = %q, want %q", r.Last4, last4(c.Number))
	}
}

func (k *kit) testApprove(t *testing.T) {
	for _, op := range k.chargeOps() {
		for _, c := range k.cfg.Approve {
			t.Run(string(op)+"/"+cardName(c), func(t *testing.T) {
				req := k.paymentRequest(c, k.cfg.Amount)
				r, err := k.call(k.ctx(t), op, req)
				if err != nil {
					t.Fatalf("%s: %v", op, err)
				}
				if r.Outcome != pluginsdk.OutcomeApproved {
					t.Fatalf("%s: outcome %s, want approved", op, outcomeOf(r))
				}
				if r.Reason != pluginsdk.ReasonNone {
					t.Errorf("%s: approved with reason %q", op, r.Reason)
				}
				if r.ProviderReference == "" {
					t.Errorf("%s: approved without a provider reference", op)
				}
				checkCardEcho(t, r, c, req.TransactionID)
			})
		}
	}
}

func (k *kit) testDecline(t *testing.T) {
	for _, op := range k.chargeOps() {
		for _, c := range k.cfg.Decline {
			t.Run(string(op)+"/"+cardName(c), func(t *testing.T) {
				req := k.paymentRequest(c, k.cfg.Amount)
				r, err := k.call(k.ctx(t), op, req)
				if err != nil {
					t.Fatalf("%s: %v", op, err)
				}
				if r.Outcome != pluginsdk.OutcomeDeclined {
					t.Fatalf("%s: outcome %s, want declined", op, outcomeOf(r))
				}
				if r.Reason != c.Reason {
					t.Errorf("%s: reason %q, want %q", op, r.Reason, c.Reason)
				}
				if !pluginsdk.KnownReason(r.Reason) {
					t.Errorf("%s: reason %q is not a normalised reason", op, r.Reason)
				}
				checkCardEcho(t, r, c, req.TransactionID)
			})
		}
	}
}

func (k *kit) testIdempotency(t *testing.T) {
	for _, op := range k.chargeOps() {
		t.Run(string(op), func(t *testing.T) {
			req := k.paymentRequest(k.cfg.Approve[0], k.cfg.Amount)
			first, err := k.call(k.ctx(t), op, req)
			if err != nil || first.Outcome != pluginsdk.OutcomeApproved {
				t.Fatalf("first %s: %s, %v", op, outcomeOf(first), err)
			}
			again := k.paymentRequest(k.cfg.Approve[0], k.cfg.Amount)
			again.TransactionID, again.IdempotencyKey = req.TransactionID, req.IdempotencyKey
			second, err := k.call(k.ctx(t), op, again)
			if err != nil {
				t.Fatalf("repeated %s: %v", op, err)
			}
			if second.Outcome != first.Outcome || second.ProviderReference != first.ProviderReference {
				t.Errorf("repeated key gave %s ref %q; first gave %s ref %q (a second charge?)",
					outcomeOf(second), second.ProviderReference, outcomeOf(first), first.ProviderReference)
			}
			if k.declares(pluginsdk.OpStatus) {
				st, err := k.status(k.ctx(t), &pluginsdk.StatusRequest{TransactionID: req.TransactionID, Operation: op})
				if err != nil {
					t.Fatalf("Status: %v", err)
				}
				if st.Outcome != pluginsdk.OutcomeApproved || st.ProviderReference != first.ProviderReference {
					t.Errorf("Status gave %s ref %q, want approved ref %q", outcomeOf(st), st.ProviderReference, first.ProviderReference)
				}
			}
			other, err := k.call(k.ctx(t), op, k.paymentRequest(k.cfg.Approve[0], k.cfg.Amount))
			if err != nil || other.Outcome != pluginsdk.OutcomeApproved {
				t.Fatalf("%s with a new key: %s, %v", op, outcomeOf(other), err)
			}
			if other.ProviderReference == first.ProviderReference {
				t.Errorf("a new idempotency key returned the earlier payment %q", first.ProviderReference)
			}
		})
	}
}

// charge makes an approved payment to modify.
func (k *kit) charge(t *testing.T, op pluginsdk.Operation) *pluginsdk.Result {
	t.Helper()
	r, err := k.call(k.ctx(t), op, k.paymentRequest(k.cfg.Approve[0], k.cfg.Amount))
	if err != nil || r.Outcome != pluginsdk.OutcomeApproved {
		t.Fatalf("%s to modify: %s, %v", op, outcomeOf(r), err)
	}
	return r
}

func (k *kit) modifyRequest(ref string) *pluginsdk.ModifyRequest {
	tx, key := k.ids()
	return &pluginsdk.ModifyRequest{
		TransactionID:     tx,
		IdempotencyKey:    key,
		ProviderReference: ref,
		Amount:            pluginsdk.Money{Minor: k.cfg.Amount, Currency: k.cfg.Currency},
		Reference:         "conformance " + tx,
	}
}

func (k *kit) testModify(t *testing.T) {
	cases := []struct {
		op   pluginsdk.Operation
		from pluginsdk.Operation // what makes the payment to modify
	}{
		{pluginsdk.OpCapture, pluginsdk.OpAuthorize},
		{pluginsdk.OpVoid, pluginsdk.OpAuthorize},
		{pluginsdk.OpRefund, pluginsdk.OpSale},
	}
	for _, tc := range cases {
		if !k.declares(tc.op) {
			continue
		}
		t.Run(string(tc.op), func(t *testing.T) {
			from := tc.from
			if !k.declares(from) {
				from = k.chargeOps()[0]
			}
			paid := k.charge(t, from)
			if tc.op == pluginsdk.OpRefund && from == pluginsdk.OpAuthorize {
				if _, err := k.modify(k.ctx(t), pluginsdk.OpCapture, k.modifyRequest(paid.ProviderReference)); err != nil {
					t.Fatalf("capture before refund: %v", err)
				}
			}
			req := k.modifyRequest(paid.ProviderReference)
			r, err := k.modify(k.ctx(t), tc.op, req)
			if err != nil {
				t.Fatalf("%s: %v", tc.op, err)
			}
			if r.Outcome != pluginsdk.OutcomeApproved {
				t.Fatalf("%s: outcome %s, want approved", tc.op, outcomeOf(r))
			}
			if r.TransactionID != req.TransactionID {
				t.Errorf("%s: TransactionID = %q, want %q", tc.op, r.TransactionID, req.TransactionID)
			}
			again, err := k.modify(k.ctx(t), tc.op, req)
			if err != nil || again.Outcome != r.Outcome || again.ProviderReference != r.ProviderReference {
				t.Errorf("repeated %s with the same key: %s ref %q, %v; want %s ref %q",
					tc.op, outcomeOf(again), refOf(again), err, outcomeOf(r), r.ProviderReference)
			}
		})
	}
}

func refOf(r *pluginsdk.Result) string {
	if r == nil {
		return ""
	}
	return r.ProviderReference
}

func (k *kit) testTokenize(t *testing.T) {
	if !k.declares(pluginsdk.OpTokenize) {
		return
	}
	req := k.paymentRequest(k.cfg.Approve[0], 0)
	r, err := k.call(k.ctx(t), pluginsdk.OpTokenize, req)
	if err != nil {
		t.Fatalf("Tokenize: %v", err)
	}
	if r.Outcome != pluginsdk.OutcomeApproved || r.Token == "" {
		t.Fatalf("Tokenize: %s token %q, want approved with a token", outcomeOf(r), r.Token)
	}
	again := k.paymentRequest(k.cfg.Approve[0], 0)
	again.TransactionID, again.IdempotencyKey = req.TransactionID, req.IdempotencyKey
	r2, err := k.call(k.ctx(t), pluginsdk.OpTokenize, again)
	if err != nil || r2.Token != r.Token {
		t.Errorf("repeated Tokenize with the same key: token %q, %v; want %q", tokenOf(r2), err, r.Token)
	}
}

func tokenOf(r *pluginsdk.Result) string {
	if r == nil {
		return ""
	}
	return r.Token
}

func (k *kit) testStatusOfUnknown(t *testing.T) {
	if !k.declares(pluginsdk.OpStatus) {
		return
	}
	tx, _ := k.ids()
	r, err := k.status(k.ctx(t), &pluginsdk.StatusRequest{TransactionID: tx, Operation: pluginsdk.OpAuthorize})
	if err != nil {
		return // an error is an honest answer for a transaction never sent
	}
	if r.Outcome == pluginsdk.OutcomeApproved {
		t.Errorf("Status of a transaction never sent: %s, want anything but approved", outcomeOf(r))
	}
}

func (k *kit) testUnsupported(t *testing.T) {
	ctx := k.ctx(t)
	for _, op := range allOperations {
		if k.declares(op) || slices.Contains(k.declared, op) {
			continue
		}
		var err error
		switch op {
		case pluginsdk.OpAuthorize, pluginsdk.OpSale, pluginsdk.OpTokenize:
			_, err = k.call(ctx, op, k.paymentRequest(k.cfg.Approve[0], k.cfg.Amount))
		case pluginsdk.OpStatus:
			tx, _ := k.ids()
			_, err = k.status(ctx, &pluginsdk.StatusRequest{TransactionID: tx})
		default:
			_, err = k.modify(ctx, op, k.modifyRequest("none"))
		}
		if !errors.Is(err, pluginsdk.ErrUnsupported) {
			t.Errorf("%s is not declared, so it must fail with ErrUnsupported; got %v", op, err)
		}
	}
}

func (k *kit) testDeadline(t *testing.T) {
	ops := k.chargeOps()
	if len(ops) == 0 {
		ops = []pluginsdk.Operation{pluginsdk.OpTokenize}
	}
	if err := k.configure(k.ctx(t), k.cfg.SlowSettings); err != nil {
		t.Fatalf("Configure with SlowSettings: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(t.Context()), k.cfg.CallTimeout)
		defer cancel()
		if err := k.configure(ctx, nil); err != nil {
			t.Errorf("Configure back to normal: %v", err)
		}
	})
	ctx, cancel := context.WithTimeout(t.Context(), k.cfg.DeadlineTimeout)
	defer cancel()
	start := time.Now()
	r, err := k.call(ctx, ops[0], k.paymentRequest(k.cfg.Approve[0], k.cfg.Amount))
	took := time.Since(start)
	if took > k.cfg.DeadlineTimeout+k.cfg.DeadlineGrace {
		t.Errorf("%s with a %s deadline returned after %s", ops[0], k.cfg.DeadlineTimeout, took.Round(time.Millisecond))
	}
	switch {
	case errors.Is(err, pluginsdk.ErrDeadline):
	case err == nil && r.Outcome == pluginsdk.OutcomeUnknown:
	default:
		t.Errorf("%s past its deadline: %s, %v; want ErrDeadline or outcome unknown", ops[0], outcomeOf(r), err)
	}
}

func (k *kit) testNoCardData(t *testing.T) {
	// Stop the plugin first so every line it wrote has been read.
	k.client.Kill()
	var leaks []Leak
	for _, r := range k.results {
		leaks = append(leaks, ScanValue("result", r, k.canaries)...)
	}
	for _, e := range k.errs {
		leaks = append(leaks, ScanText("error", e, k.canaries, true)...)
	}
	leaks = append(leaks, ScanText("plugin stderr", k.stderr.String(), k.canaries, true)...)
	leaks = append(leaks, ScanText("host log", k.hostLog.String(), k.canaries, false)...)
	for _, l := range leaks {
		t.Errorf("card data leaked: %s in %s (line %d)", l.What, l.Where, l.Line)
	}
	if len(k.results) == 0 {
		t.Error("nothing to scan: no results were recorded")
	}
}
