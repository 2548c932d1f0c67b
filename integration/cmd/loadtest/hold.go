package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/pflag"

	"github.com/tonewall/tonewall/controller/call"
	"github.com/tonewall/tonewall/controller/daemon"
	"github.com/tonewall/tonewall/integration/fssim"
)

// holdResult is the outcome of the calls-held phase.
type holdResult struct {
	calls       int
	setup       time.Duration
	heapPerCall float64 // bytes of heap + stacks per idle call
	rssPerCall  float64 // bytes of resident memory per idle call
	goroutines  float64 // per call
}

func (r holdResult) String() string {
	return fmt.Sprintf("calls held: %d (set up in %v, %.0f calls/s)\n"+
		"memory per idle call (controller only): %.1f KiB heap+stacks, %.1f KiB resident; %.1f goroutines per call",
		r.calls, r.setup.Round(time.Millisecond), float64(r.calls)/r.setup.Seconds(),
		r.heapPerCall/1024, r.rssPerCall/1024, r.goroutines)
}

func startController(log *slog.Logger, window time.Duration, obs call.Observer) (*daemon.Daemon, error) {
	d, err := daemon.New(daemon.Options{
		ESLAddr:       "127.0.0.1:0",
		APIAddr:       "127.0.0.1:0",
		ReorderWindow: window,
		Linger:        2,
		Logger:        log,
		Observer:      obs,
		Sink:          &call.RecordingSink{}, // the payment hop has its own benchmark
	})
	if err != nil {
		return nil, err
	}
	return d, d.Start()
}

// holdCalls runs the controller here and the switch in a child process,
// places n calls, and measures the controller's memory with them idle.
func holdCalls(ctx context.Context, log *slog.Logger, n int, window time.Duration) (holdResult, error) {
	d, err := startController(log, window, nil)
	if err != nil {
		return holdResult{}, err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		_ = d.Shutdown(sctx)
	}()
	heap0, rss0, g0 := memory()
	self, err := os.Executable()
	if err != nil {
		return holdResult{}, err
	}
	cmd := exec.CommandContext(ctx, self, "--calls", strconv.Itoa(n))
	cmd.Env = append(os.Environ(), childEnv+"="+d.ESLAddr())
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return holdResult{}, err
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return holdResult{}, err
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return holdResult{}, err
	}
	defer cmd.Wait()
	defer stdin.Close() // the child hangs up and exits when stdin closes
	sc := bufio.NewScanner(out)
	if !sc.Scan() || !strings.HasPrefix(sc.Text(), "bridged ") {
		return holdResult{}, fmt.Errorf("switch did not report its calls: %q", sc.Text())
	}
	// Wait until the controller itself counts every call as bridged.
	if err := waitBridged(d.Calls(), n); err != nil {
		return holdResult{}, err
	}
	setup := time.Since(start)
	time.Sleep(time.Second) // let the set-up garbage go
	heap1, rss1, g1 := memory()
	return holdResult{
		calls:       n,
		setup:       setup,
		heapPerCall: float64(heap1-heap0) / float64(n),
		rssPerCall:  float64(rss1-rss0) / float64(n),
		goroutines:  float64(g1-g0) / float64(n),
	}, nil
}

// memory returns live heap plus goroutine stacks, resident set size, and
// the goroutine count, after a collection.
func memory() (heap, rss uint64, goroutines int) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse + ms.StackInuse, residentBytes(), runtime.NumGoroutine()
}

func residentBytes() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// runSwitch is the child: it places the calls, reports, and holds them
// until its stdin closes.
func runSwitch(addr string, args []string) error {
	fs := pflag.NewFlagSet("switch", pflag.ContinueOnError)
	n := fs.Int("calls", 1000, "")
	keying := fs.Bool("key", false, "")
	idle := fs.Int("idle", 0, "")
	gap := fs.Duration("key-gap", 300*time.Millisecond, "")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *keying {
		return keyCards(addr, *n, *idle, *gap)
	}
	sw := fssim.New(fssim.Options{Logger: slog.New(slog.DiscardHandler)})
	defer sw.Close()
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, *n)
	sem := make(chan struct{}, 200) // dial in waves, as a busy switch would
	for i := 0; i < *n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			dctx, cancel := context.WithTimeout(ctx, time.Minute)
			defer cancel()
			c, err := sw.Dial(dctx, addr, fssim.CallOptions{Variables: map[string]string{"tonewall_agent": "user/1001"}})
			if err == nil {
				err = c.WaitBridged(dctx)
			}
			if err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	fmt.Printf("bridged %d\n", *n)
	_, _ = io.Copy(io.Discard, os.Stdin)
	return nil
}
