package outbox_test

import (
	"context"
	"testing"
	"time"

	"github.com/tonewall/tonewall/controller/outbox"
	"github.com/tonewall/tonewall/controller/outbox/outboxtest"
)

func TestThreeNodeCluster(t *testing.T) {
	obs := outboxtest.Cluster(t, 3)
	for i, o := range obs {
		if o.Replicas() != 3 {
			t.Fatalf("node %d replicas = %d, want 3", i, o.Replicas())
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := obs[0].Publish(ctx, outbox.Message{ID: "c1", Key: "k", Data: []byte("v")}); err != nil {
		t.Fatal(err)
	}
	r, err := obs[2].Receive(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(ctx)
	m, err := r.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if m.ID() != "c1" || string(m.Data()) != "v" {
		t.Fatalf("got %q %q", m.ID(), m.Data())
	}
	if err := m.Ack(ctx); err != nil {
		t.Fatal(err)
	}
	// The stream is replicated: the third node sees the work queue empty too.
	deadline := time.Now().Add(10 * time.Second)
	for {
		n, err := obs[1].Pending(ctx)
		if err == nil && n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pending on node 1 = %d (%v), want 0", n, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
