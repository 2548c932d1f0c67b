package accesspay

import (
	"sync"

	"github.com/tonewall/tonewall/pluginsdk"
)

// memo remembers recent final results by idempotency key and by transaction
// id, so a repeated key is answered without a second call to Worldpay (the
// Payments API has no idempotency header) and Status can answer at once.
// It is bounded and in memory; after a restart Status asks Worldpay.
type memo struct {
	mu    sync.Mutex
	max   int
	byKey map[string]pluginsdk.Result
	byTxn map[string]pluginsdk.Result
	order []string // keys and transaction ids, oldest first, prefixed k: / t:
}

func newMemo(max int) *memo {
	return &memo{max: max, byKey: map[string]pluginsdk.Result{}, byTxn: map[string]pluginsdk.Result{}}
}

func (m *memo) put(key string, r pluginsdk.Result) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if key != "" {
		if _, ok := m.byKey[key]; !ok {
			m.order = append(m.order, "k:"+key)
		}
		m.byKey[key] = r
	}
	if _, ok := m.byTxn[r.TransactionID]; !ok {
		m.order = append(m.order, "t:"+r.TransactionID)
	}
	m.byTxn[r.TransactionID] = r
	for len(m.order) > 2*m.max {
		old := m.order[0]
		m.order = m.order[1:]
		if old[0] == 'k' {
			delete(m.byKey, old[2:])
		} else {
			delete(m.byTxn, old[2:])
		}
	}
}

func (m *memo) byIdempotencyKey(key string) (pluginsdk.Result, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.byKey[key]
	return r, ok
}

func (m *memo) byTransaction(txn string) (pluginsdk.Result, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.byTxn[txn]
	return r, ok
}
