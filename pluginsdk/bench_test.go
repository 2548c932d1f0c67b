package pluginsdk_test

import (
	"fmt"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/tonewall/tonewall/pluginsdk"
	"github.com/tonewall/tonewall/pluginsdk/example"
)

// benchAuthorize calls Authorize b.N times with fresh ids and reports the
// median and 99th percentile of the per-call durations.
func benchAuthorize(b *testing.B, p pluginsdk.Provider) {
	b.Helper()
	ctx := b.Context()
	durations := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		req := &pluginsdk.PaymentRequest{
			TransactionID:  fmt.Sprintf("bench-tx-%d", i),
			IdempotencyKey: fmt.Sprintf("bench-key-%d", i),
			Amount:         pluginsdk.Money{Minor: 1000, Currency: "GBP"},
			Channel:        pluginsdk.ChannelMOTO,
			Card: pluginsdk.Card{
				Number: []byte("4242424242424242"), CVC: []byte("123"),
				ExpiryMonth: 12, ExpiryYear: time.Now().Year() + 2,
			},
		}
		start := time.Now()
		r, err := p.Authorize(ctx, req)
		durations = append(durations, time.Since(start))
		if err != nil || r.Outcome != pluginsdk.OutcomeApproved {
			b.Fatalf("Authorize: %+v, %v", r, err)
		}
	}
	b.StopTimer()
	slices.Sort(durations)
	pct := func(q float64) float64 {
		return float64(durations[int(q*float64(len(durations)-1))].Nanoseconds())
	}
	b.ReportMetric(pct(0.50), "p50-ns")
	b.ReportMetric(pct(0.99), "p99-ns")
}

func BenchmarkAuthorizeInProcess(b *testing.B) {
	p := example.New(example.WithLogger(slog.New(slog.DiscardHandler)))
	if _, err := p.Configure(b.Context(), &pluginsdk.ConfigureRequest{}); err != nil {
		b.Fatal(err)
	}
	benchAuthorize(b, p)
}

func BenchmarkAuthorizeThroughPlugin(b *testing.B) {
	_, p := startExample(b, nil, nil)
	benchAuthorize(b, p)
}
