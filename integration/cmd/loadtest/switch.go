package main

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/tonewall/tonewall/integration/fssim"
)

// keyCards is the child's side of the captures phase: it places n calls,
// reports each call id, then has every caller key a whole card once its
// capture has prompted, reporting when each digit left. Lines:
//
//	call <id>
//	bridged <n>
//	sent <call id> <field> <digit number> <unix nanoseconds>
//	done
func keyCards(addr string, n, idle int, gap time.Duration) error {
	sw := fssim.New(fssim.Options{Logger: slog.New(slog.DiscardHandler)})
	defer sw.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out := bufio.NewWriter(os.Stdout)
	var mu sync.Mutex
	say := func(format string, args ...any) {
		mu.Lock()
		fmt.Fprintf(out, format+"\n", args...)
		mu.Unlock()
	}
	flush := func() {
		mu.Lock()
		out.Flush()
		mu.Unlock()
	}
	var wg sync.WaitGroup
	errc := make(chan error, n+idle)
	sem := make(chan struct{}, 200) // dial in waves, as a busy switch would
	// Idle calls first: bridged and held, no capture, for the whole run.
	for i := 0; i < idle; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := sw.Dial(ctx, addr, fssim.CallOptions{Variables: map[string]string{"tonewall_agent": "user/1001"}})
			if err == nil {
				err = c.WaitBridged(ctx)
			}
			if err != nil {
				errc <- err
			}
		}()
	}
	calls := make([]*fssim.Call, n)
	for i := range calls {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := sw.Dial(ctx, addr, fssim.CallOptions{Variables: map[string]string{"tonewall_agent": "user/1001"}})
			if err == nil {
				err = c.WaitBridged(ctx)
			}
			if err != nil {
				errc <- err
				return
			}
			calls[i] = c
			say("call %s", c.A())
		}()
	}
	wg.Wait()
	select {
	case err := <-errc:
		return err
	default:
	}
	say("bridged %d", n)
	flush()
	for _, c := range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, f := range []struct{ field, prompt, digits string }{
				{"pan", "enter-card-number", testPAN + "#"},
				{"expiry", "enter-expiry", testExp},
				{"cvv", "enter-security-code", testCVV},
			} {
				if err := waitPrompt(ctx, c, f.prompt); err != nil {
					errc <- err
					return
				}
				for i := 0; i < len(f.digits); i++ {
					kp, err := c.Press(ctx, f.digits[i], fssim.RFC2833)
					if err != nil {
						errc <- err
						return
					}
					if f.digits[i] != '#' {
						say("sent %s %s %d %d", c.A(), f.field, i+1, kp.SentAt.UnixNano())
					}
					time.Sleep(gap)
				}
			}
		}()
	}
	wg.Wait()
	select {
	case err := <-errc:
		return err
	default:
	}
	say("done")
	flush()
	// Hold the calls until the parent has read everything.
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
	return nil
}
