package adyenpay

import (
	"sync"
	"time"

	"github.com/tonewall/tonewall/pluginsdk"
)

// Checkout API v71 has no way to look a payment up by our reference. To answer
// Status the provider remembers, for recent operations, what it needs to ask
// Adyen again: the Idempotency-Key, the endpoint, and a copy of the request
// body without card data. Adyen answers a request whose Idempotency-Key it has
// seen with the stored response of the first request; a request it has not
// seen is rejected, because the card-free copy lacks required fields, so a
// replay can never create a payment or a modification.
//
// The journal is in memory only: after the plugin restarts, Status for an
// earlier operation reports Unknown and the outcome must come from Adyen's
// webhooks.

// journalEntry is what is kept for one operation. It never holds card data.
type journalEntry struct {
	op       pluginsdk.Operation
	path     string
	idemKey  string
	replay   []byte // card-free body for a Status replay
	result   *pluginsdk.Result
	psp      string // payment pspReference, for amounts on later modifications
	amount   pluginsdk.Money
	recorded time.Time
}

// journal is a bounded, time-limited map from transaction id to entry.
type journal struct {
	mu      sync.Mutex
	max     int
	ttl     time.Duration
	now     func() time.Time
	entries map[string]*journalEntry
	order   []string // insertion order, oldest first
	amounts map[string]pluginsdk.Money
}

func newJournal(max int, ttl time.Duration, now func() time.Time) *journal {
	return &journal{
		max:     max,
		ttl:     ttl,
		now:     now,
		entries: make(map[string]*journalEntry),
		amounts: make(map[string]pluginsdk.Money),
	}
}

// record stores or replaces the entry for txn.
func (j *journal) record(txn string, e journalEntry) {
	j.mu.Lock()
	defer j.mu.Unlock()
	e.recorded = j.now()
	if _, ok := j.entries[txn]; !ok {
		j.order = append(j.order, txn)
	}
	j.entries[txn] = &e
	if e.psp != "" && e.amount.Currency != "" {
		j.amounts[e.psp] = e.amount
	}
	j.evictLocked()
}

// setResult updates the stored result of txn, if it is still known.
func (j *journal) setResult(txn string, r *pluginsdk.Result) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if e, ok := j.entries[txn]; ok {
		c := *r
		e.result = &c
	}
}

// lookup returns a copy of the entry for txn.
func (j *journal) lookup(txn string) (journalEntry, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.evictLocked()
	e, ok := j.entries[txn]
	if !ok {
		return journalEntry{}, false
	}
	return *e, true
}

// amountOf returns the authorised amount of a payment, when known.
func (j *journal) amountOf(psp string) (pluginsdk.Money, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	m, ok := j.amounts[psp]
	return m, ok
}

func (j *journal) evictLocked() {
	cutoff := j.now().Add(-j.ttl)
	for len(j.order) > 0 {
		txn := j.order[0]
		e, ok := j.entries[txn]
		if ok && len(j.order) <= j.max && !e.recorded.Before(cutoff) {
			return
		}
		j.order = j.order[1:]
		if ok {
			delete(j.entries, txn)
			if e.psp != "" && e.op != pluginsdk.OpCapture && e.op != pluginsdk.OpVoid && e.op != pluginsdk.OpRefund {
				delete(j.amounts, e.psp)
			}
		}
	}
}
