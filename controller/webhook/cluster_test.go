package webhook

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tonewall/tonewall/controller/outbox/outboxtest"
)

// TestThreeControllers runs three controllers, each with its own embedded
// NATS server, routed into one three-node cluster, each with a Sender on the
// shared consumer. Events published on all three reach the CRM exactly once.
func TestThreeControllers(t *testing.T) {
	const n = 150
	secret := newSecret(t)
	rc := newReceiver(t, secret)
	obs := outboxtest.Cluster(t, 3)
	senders := make([]*Sender, len(obs))
	for i, ob := range obs {
		if ob.Replicas() != 3 {
			t.Fatalf("controller %d: replicas = %d, want 3", i, ob.Replicas())
		}
		senders[i] = newSender(t, ob, Options{
			Endpoints: []Endpoint{{ID: "crm", URL: rc.url("/hook")}},
			Secrets:   StaticSecrets{"crm": {secret}},
			Workers:   4,
			UserAgent: fmt.Sprintf("tonewall-test-%d", i),
		})
	}

	var wg sync.WaitGroup
	errs := make(chan error, n)
	for c, s := range senders {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			for i := c; i < n; i += len(senders) {
				if err := s.Publish(ctx, testEvent("cluster", i)); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	waitFor(t, 60*time.Second, "every webhook", func() bool { return rc.delivered() == n })
	hits, ok, bad := rc.snapshot()
	if bad != 0 {
		t.Fatalf("%d requests failed verification", bad)
	}
	if len(hits) != n {
		t.Errorf("%d requests for %d webhooks", len(hits), n)
	}
	for i := range n {
		if id := testEvent("cluster", i).ID; ok[id] != 1 {
			t.Errorf("%s delivered %d times, want exactly once", id, ok[id])
		}
	}
	perController := map[string]int{}
	for _, h := range hits {
		perController[h.Header.Get("User-Agent")]++
	}
	t.Logf("deliveries per controller: %v", perController)

	// Every controller sees the same delivery log.
	for c, s := range senders {
		waitFor(t, 10*time.Second, "replicated delivery log", func() bool {
			ds, err := s.Deliveries(context.Background(), Filter{State: StateDelivered})
			return err == nil && len(ds) == n
		})
		ds, _ := s.Deliveries(context.Background(), Filter{})
		for _, d := range ds {
			if d.Attempts != 1 {
				t.Errorf("controller %d: %s took %d attempts", c, d.EventID, d.Attempts)
			}
		}
	}
}
