package webhook

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tonewall/tonewall/controller/outbox"
	"github.com/tonewall/tonewall/controller/outbox/outboxtest"
)

// benchSetup starts an embedded outbox on disk, a verifying receiver and a
// started Sender with the given number of workers.
func benchSetup(b *testing.B, workers int) (*receiver, *Sender) {
	b.Helper()
	secret := newSecret(b)
	rc := newReceiver(b, secret)
	ob := outboxtest.Open(b, outbox.Options{})
	s := newSender(b, ob, Options{
		Endpoints: []Endpoint{{ID: "crm", URL: rc.url("/hook")}},
		Secrets:   StaticSecrets{"crm": {secret}},
		Workers:   workers,
	})
	return rc, s
}

var benchRun atomic.Int64

// BenchmarkWebhookThroughput measures webhooks per second through the
// durable outbox (publish acknowledged by JetStream on disk, pull, sign,
// POST, record, acknowledge) to a local receiver that verifies signatures.
func BenchmarkWebhookThroughput(b *testing.B) {
	const publishers = 16
	rc, s := benchSetup(b, 32)
	prefix := fmt.Sprintf("tp%d", benchRun.Add(1))
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, publishers)
	b.ResetTimer()
	start := time.Now()
	for range publishers {
		wg.Go(func() {
			ctx := context.Background()
			for {
				i := int(next.Add(1)) - 1
				if i >= b.N {
					return
				}
				if err := s.Publish(ctx, testEvent(prefix, i)); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	waitFor(b, time.Minute+time.Duration(b.N)*time.Millisecond, "all webhooks", func() bool { return rc.delivered() == b.N })
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "webhooks/s")
}

// latencyRate is the offered load of BenchmarkWebhookLatency, webhooks per
// second: the throughput target, below saturation, so the figures are the
// path's latency rather than queueing.
const latencyRate = 1000

// BenchmarkWebhookLatency measures the time from the call to Publish to the
// receiver having the verified request, publishing at latencyRate.
func BenchmarkWebhookLatency(b *testing.B) {
	rc, s := benchSetup(b, 16)
	prefix := fmt.Sprintf("lat%d", benchRun.Add(1))
	started := make(map[string]time.Time, b.N)
	ctx := context.Background()
	b.ResetTimer()
	begin := time.Now()
	for i := range b.N {
		ev := testEvent(prefix, i)
		if d := time.Until(begin.Add(time.Duration(i) * time.Second / latencyRate)); d > 0 {
			time.Sleep(d)
		}
		started[ev.ID] = time.Now()
		if err := s.Publish(ctx, ev); err != nil {
			b.Fatal(err)
		}
	}
	publishRate := float64(b.N) / time.Since(begin).Seconds()
	waitFor(b, time.Minute+time.Duration(b.N)*time.Millisecond, "all webhooks", func() bool { return rc.delivered() == b.N })
	b.StopTimer()

	hits, _, _ := rc.snapshot()
	lat := make([]time.Duration, 0, b.N)
	seen := map[string]bool{}
	for _, h := range hits {
		if t0, ok := started[h.ID]; ok && !seen[h.ID] {
			seen[h.ID] = true
			lat = append(lat, h.At.Sub(t0))
		}
	}
	slices.Sort(lat)
	pct := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))]) / float64(time.Millisecond)
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(publishRate, "published/s")
}
