package main

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"strconv"
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
	idle       int
	gap        time.Duration
	completed  int
	elapsed    time.Duration
	samples    int
	p50, p99   time.Duration
	max        time.Duration
	lateEvents uint64
}

func (r captureResult) String() string {
	return fmt.Sprintf("captures at once: %d (with %d idle calls held), keying every %v, completed %d in %v (%.1f captures/s)\n"+
		"digit leaving the simulator -> progress event (%d digits): p50 %v, p99 %v, max %v; late events %d",
		r.captures, r.idle, r.gap, r.completed, r.elapsed.Round(time.Millisecond), float64(r.completed)/r.elapsed.Seconds(),
		r.samples, r.p50.Round(time.Microsecond), r.p99.Round(time.Microsecond), r.max.Round(time.Microsecond), r.lateEvents)
}

// digitClock records when each digit's progress event was published.
type digitClock struct {
	mu   sync.Mutex
	seen map[string]time.Time
	done map[string]string // capture id -> outcome
}

func key(callID, field string, n int) string { return callID + "/" + field + "/" + strconv.Itoa(n) }

func (d *digitClock) Observe(ev call.Event) {
	now := time.Now()
	switch ev.Type {
	case call.EventFieldDigit:
		d.mu.Lock()
		d.seen[key(ev.CallID, ev.Field, ev.Digits)] = now
		d.mu.Unlock()
	case call.EventPaymentResult:
		d.mu.Lock()
		d.done[ev.CaptureID] = ev.Outcome
		d.mu.Unlock()
	}
}

// runCaptures runs the controller here and m callers in a child process
// (so the controller's heap and CPU are its own); captures start over about
// a second, as agents would start them, and every caller keys a whole
// card. Both processes stamp times with the wall clock of the same machine.
func runCaptures(ctx context.Context, log *slog.Logger, m, idle int, window, gap time.Duration) (captureResult, error) {
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
	self, err := os.Executable()
	if err != nil {
		return captureResult{}, err
	}
	cmd := exec.CommandContext(ctx, self, "--calls", strconv.Itoa(m), "--idle", strconv.Itoa(idle), "--key", "--key-gap", gap.String())
	cmd.Env = append(os.Environ(), childEnv+"="+d.ESLAddr())
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return captureResult{}, err
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return captureResult{}, err
	}
	if err := cmd.Start(); err != nil {
		return captureResult{}, err
	}
	defer cmd.Wait()
	defer stdin.Close()

	type sent struct {
		key string
		at  time.Time
	}
	var ids []string
	var sends []sent
	var start time.Time
	var wg sync.WaitGroup
	errc := make(chan error, m)
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "call":
			ids = append(ids, f[1])
		case "bridged":
			if err := waitBridged(d.Calls(), len(ids)+idle); err != nil {
				return captureResult{}, err
			}
			start = time.Now()
			for i, id := range ids {
				wg.Add(1)
				go func() {
					defer wg.Done()
					time.Sleep(time.Duration(i) * time.Second / time.Duration(len(ids)))
					cctx, cancel := context.WithTimeout(ctx, time.Minute)
					defer cancel()
					if _, err := d.Calls().StartCapture(cctx, id, call.CaptureRequest{Amount: 1000, Currency: "GBP", Reference: "load"}); err != nil {
						errc <- fmt.Errorf("start capture: %w", err)
					}
				}()
			}
		case "sent":
			n, _ := strconv.Atoi(f[3])
			ns, _ := strconv.ParseInt(f[4], 10, 64)
			sends = append(sends, sent{key(f[1], f[2], n), time.Unix(0, ns)})
		case "done":
			goto keyed
		}
	}
	return captureResult{}, fmt.Errorf("switch ended early: %v", sc.Err())
keyed:
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
		idle:       idle,
		gap:        gap,
		completed:  completed,
		elapsed:    elapsed,
		samples:    len(lat),
		p50:        lat[len(lat)/2],
		p99:        lat[len(lat)*99/100],
		max:        lat[len(lat)-1],
		lateEvents: d.LateEvents(),
	}, nil
}

// waitBridged waits until the controller counts n calls as bridged.
func waitBridged(mgr *call.Manager, n int) error {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		bridged := 0
		for _, c := range mgr.Calls() {
			if c.Bridged {
				bridged++
			}
		}
		if bridged >= n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("only %d of %d calls bridged", bridged, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
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
