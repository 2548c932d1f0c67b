package main

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tonewall/tonewall/controller/call"
	"github.com/tonewall/tonewall/integration/fssim"
)

// The card every simulated caller keys (a public test card).
const (
	testPAN = "4242424242424242"
	testExp = "1234"
	testCVV = "321"
)

type captureResult struct {
	captures   int
	completed  int
	elapsed    time.Duration
	samples    int
	p50, p99   time.Duration
	max        time.Duration
	lateEvents uint64
}

func (r captureResult) String() string {
	return fmt.Sprintf("captures at once: %d, completed %d in %v (%.1f captures/s)\n"+
		"digit leaving the simulator -> progress event (%d digits): p50 %v, p99 %v, max %v; late events %d",
		r.captures, r.completed, r.elapsed.Round(time.Millisecond), float64(r.completed)/r.elapsed.Seconds(),
		r.samples, r.p50, r.p99, r.max, r.lateEvents)
}

// digitClock records when each digit's progress event was published.
type digitClock struct {
	mu   sync.Mutex
	seen map[string]time.Time
	done map[string]string // capture id -> outcome
}

func key(callID, field string, n int) string { return fmt.Sprintf("%s/%s/%d", callID, field, n) }

func (d *digitClock) Observe(ev call.Event) {
	now := time.Now()
	switch ev.Type {
	case call.EventFieldDigit:
		d.mu.Lock()
		d.seen[key(ev.CallID, ev.Field, ev.Digits)] = now
		d.mu.Unlock()
	case call.EventPaymentResult, call.EventCaptureFinished:
		if ev.Type == call.EventCaptureFinished && ev.Outcome == "card-ready" {
			return
		}
		d.mu.Lock()
		d.done[ev.CaptureID] = ev.Outcome
		d.mu.Unlock()
	}
}

// runCaptures places m calls, starts a capture on each at once, and has
// every caller key a whole card.
func runCaptures(ctx context.Context, log *slog.Logger, m int, window time.Duration) (captureResult, error) {
	clock := &digitClock{seen: make(map[string]time.Time), done: make(map[string]string)}
	d, err := startController(log, window, clock)
	if err != nil {
		return captureResult{}, err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		_ = d.Shutdown(sctx)
	}()
	sw := fssim.New(fssim.Options{Logger: slog.New(slog.DiscardHandler)})
	defer sw.Close()

	calls := make([]*fssim.Call, m)
	var wg sync.WaitGroup
	errc := make(chan error, m)
	for i := range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dctx, cancel := context.WithTimeout(ctx, time.Minute)
			defer cancel()
			c, err := sw.Dial(dctx, d.ESLAddr(), fssim.CallOptions{Variables: map[string]string{"tonewall_agent": "user/1001"}})
			if err == nil {
				err = c.WaitBridged(dctx)
			}
			if err != nil {
				errc <- err
				return
			}
			calls[i] = c
		}()
	}
	wg.Wait()
	select {
	case err := <-errc:
		return captureResult{}, err
	default:
	}
	// The controller learns of each bridge from an event.
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(10 * time.Millisecond) {
		n := 0
		for _, c := range d.Calls().Calls() {
			if c.Bridged {
				n++
			}
		}
		if n == m {
			break
		}
		if time.Now().After(deadline) {
			return captureResult{}, fmt.Errorf("only %d of %d calls bridged", n, m)
		}
	}

	type sent struct {
		key string
		at  time.Time
	}
	var mu sync.Mutex
	var sends []sent
	start := time.Now()
	for _, c := range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
			defer cancel()
			if _, err := d.Calls().StartCapture(cctx, c.A(), call.CaptureRequest{Amount: 1000, Currency: "GBP", Reference: "load"}); err != nil {
				errc <- err
				return
			}
			var mine []sent
			for _, f := range []struct{ field, prompt, digits string }{
				{"pan", "enter-card-number", testPAN + "#"},
				{"expiry", "enter-expiry", testExp},
				{"cvv", "enter-security-code", testCVV},
			} {
				if err := waitPrompt(cctx, c, f.prompt); err != nil {
					errc <- err
					return
				}
				for i := 0; i < len(f.digits); i++ {
					kp, err := c.Press(cctx, f.digits[i], fssim.RFC2833)
					if err != nil {
						errc <- err
						return
					}
					if f.digits[i] != '#' {
						mine = append(mine, sent{key(c.A(), f.field, i+1), kp.SentAt})
					}
					time.Sleep(150 * time.Millisecond) // a brisk caller
				}
			}
			mu.Lock()
			sends = append(sends, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	select {
	case err := <-errc:
		return captureResult{}, err
	default:
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(10 * time.Millisecond) {
		clock.mu.Lock()
		n := len(clock.done)
		clock.mu.Unlock()
		if n >= m || time.Now().After(deadline) {
			break
		}
	}
	elapsed := time.Since(start)

	clock.mu.Lock()
	defer clock.mu.Unlock()
	var lat []time.Duration
	for _, s := range sends {
		if at, ok := clock.seen[s.key]; ok {
			lat = append(lat, at.Sub(s.at))
		}
	}
	if len(lat) == 0 {
		return captureResult{}, fmt.Errorf("no digit progress events observed")
	}
	slices.Sort(lat)
	completed := 0
	for _, o := range clock.done {
		if o == "recorded" {
			completed++
		}
	}
	return captureResult{
		captures:   m,
		completed:  completed,
		elapsed:    elapsed,
		samples:    len(lat),
		p50:        lat[len(lat)/2],
		p99:        lat[len(lat)*99/100],
		max:        lat[len(lat)-1],
		lateEvents: d.LateEvents(),
	}, nil
}

func waitPrompt(ctx context.Context, c *fssim.Call, name string) error {
	for {
		for _, p := range c.Prompts() {
			if strings.Contains(p, name) {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for prompt %s: %w", name, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}
