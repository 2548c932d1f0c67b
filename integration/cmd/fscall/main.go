// Command fscall places one simulated customer call on a Tonewall controller
// and keys a card on the customer's phone, then reports, without a single
// card digit, whether any key press reached the agent or the recording.
//
//	go run ./integration/cmd/fscall --controller 127.0.0.1:8084 \
//	    --card 4242424242424242 --expiry 1230 --cvv 123 --mode inband \
//	    --agent sofia/internal/7200@127.0.0.1
//
// The call carries the channel variable tonewall_agent (the agent's dial
// string). fscall waits for the bridge and, with --wait-capture, for the
// controller to arm masking and prompt (a capture is started through the
// controller's API), keys each field followed by '#', and exits non-zero if
// any press was audible to the agent, relayed to the agent or recorded, or if
// a card field showed up in a command sent to the switch.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/tonewall/tonewall/integration/fssim"
)

// config holds the command-line settings.
type config struct {
	controller  string
	agent       string
	caller      string
	card        string
	expiry      string
	cvv         string
	postcode    string
	mode        fssim.DTMFMode
	spacing     time.Duration
	waitCapture bool
	timeout     time.Duration
	fieldWait   time.Duration
	api         string // controller API base URL: start the capture there
	token       string
}

func main() {
	cfg, err := parseFlags(os.Args[1:], os.Stderr)
	if err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "fscall:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	rep, err := run(ctx, cfg, log)
	if rep != nil {
		rep.print(os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "fscall:", err)
		os.Exit(1)
	}
	if rep.leaked() {
		os.Exit(1)
	}
}

// parseFlags reads the flags. Card fields are checked for digits only, and
// no error message ever repeats their values.
func parseFlags(args []string, out io.Writer) (config, error) {
	var cfg config
	var mode string
	fs := pflag.NewFlagSet("fscall", pflag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&cfg.controller, "controller", "127.0.0.1:8084", "controller address the switch dials (outbound Event Socket)")
	fs.StringVar(&cfg.agent, "agent", "sofia/internal/7200@127.0.0.1", "agent destination, set as channel variable tonewall_agent")
	fs.StringVar(&cfg.caller, "caller", fssim.DefaultCallerNumber, "customer caller id")
	fs.StringVar(&cfg.card, "card", "4242424242424242", "card number to key (test cards only)")
	fs.StringVar(&cfg.expiry, "expiry", "1230", "expiry to key, MMYY")
	fs.StringVar(&cfg.cvv, "cvv", "123", "CVV to key")
	fs.StringVar(&cfg.api, "api", "", "controller API base URL (e.g. http://127.0.0.1:8080): start the capture there, as the agent's screen would, and report its outcome")
	fs.StringVar(&cfg.token, "api-token", os.Getenv("TONEWALL_API_TOKEN"), "bearer token for --api (default $TONEWALL_API_TOKEN)")
	fs.StringVar(&cfg.postcode, "postcode", "", "postcode digits to key after the CVV (optional)")
	fs.StringVar(&mode, "mode", "inband", "how the phone sends keys: inband, rfc2833, both or duplicate-inband")
	fs.DurationVar(&cfg.spacing, "spacing", 150*time.Millisecond, "pause between key presses")
	fs.BoolVar(&cfg.waitCapture, "wait-capture", true, "wait until the controller has armed masking and prompted before keying")
	fs.DurationVar(&cfg.timeout, "timeout", 2*time.Minute, "give up after this long")
	fs.DurationVar(&cfg.fieldWait, "field-wait", 5*time.Second, "how long to wait for the next field's prompt before keying it anyway")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	m, err := fssim.ParseDTMFMode(mode)
	if err != nil {
		return cfg, err
	}
	cfg.mode = m
	for _, f := range []struct{ name, v string }{{"card", cfg.card}, {"expiry", cfg.expiry}, {"cvv", cfg.cvv}} {
		if f.v == "" {
			return cfg, fmt.Errorf("--%s is required", f.name)
		}
	}
	for _, f := range []struct{ name, v string }{{"card", cfg.card}, {"expiry", cfg.expiry}, {"cvv", cfg.cvv}, {"postcode", cfg.postcode}} {
		if !digitsOnly(f.v) {
			return cfg, fmt.Errorf("--%s must contain digits only", f.name)
		}
	}
	if cfg.spacing < 0 || cfg.timeout <= 0 {
		return cfg, errors.New("--spacing must not be negative and --timeout must be positive")
	}
	return cfg, nil
}

func digitsOnly(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// field is one card field keyed by the customer. The card number and the
// postcode end with '#'; expiry and CVV complete by their length, so a '#'
// after the last of them would reach the agent once masking is off.
type field struct {
	name, digits string
	hash         bool
}

func (c config) fields() []field {
	fs := []field{{"card number", c.card, true}, {"expiry", c.expiry, false}, {"cvv", c.cvv, false}}
	if c.postcode != "" {
		fs = append(fs, field{"postcode", c.postcode, true})
	}
	return fs
}

// run places the call, keys the fields and gathers the report.
func run(ctx context.Context, cfg config, log *slog.Logger) (*report, error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	sw := fssim.New(fssim.Options{Logger: log})
	defer sw.Close()
	call, err := sw.Dial(ctx, cfg.controller, fssim.CallOptions{
		CallerNumber: cfg.caller,
		Variables:    map[string]string{"tonewall_agent": cfg.agent},
	})
	if err != nil {
		return nil, err
	}
	rep := &report{call: call, fields: cfg.fields()}
	defer func() {
		hctx, hcancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer hcancel()
		call.HangUp(hctx, fssim.LegA)
		select {
		case <-call.Done():
		case <-hctx.Done():
		}
		rep.collect()
	}()
	fmt.Fprintf(os.Stderr, "call %s placed; waiting for the bridge to the agent\n", call.A())
	if err := call.WaitBridged(ctx); err != nil {
		return rep, fmt.Errorf("bridge: %w", err)
	}
	fmt.Fprintf(os.Stderr, "bridged to agent leg %s\n", call.B())
	if cfg.api != "" {
		id, err := startCapture(ctx, cfg, call.A())
		if err != nil {
			return rep, err
		}
		rep.captureID = id
		fmt.Fprintf(os.Stderr, "capture %s started through the API\n", id)
	}
	if cfg.waitCapture || cfg.api != "" {
		fmt.Fprintln(os.Stderr, "waiting for a capture: masking armed and a prompt played")
		if err := waitFor(ctx, func() bool { return call.Media().Armed() && len(call.Prompts()) > 0 }); err != nil {
			return rep, fmt.Errorf("waiting for the capture to start: %w", err)
		}
	}
	seen := len(call.Prompts())
	for i, f := range rep.fields {
		if i > 0 {
			// The controller prompts for the next field once it has the '#'.
			fctx, fcancel := context.WithTimeout(ctx, cfg.fieldWait)
			if waitFor(fctx, func() bool { return len(call.Prompts()) > seen }) != nil {
				fmt.Fprintf(os.Stderr, "no new prompt for the %s; keying it anyway\n", f.name)
			}
			fcancel()
			seen = len(call.Prompts())
		}
		keys := f.digits
		if f.hash {
			keys += "#"
		}
		fmt.Fprintf(os.Stderr, "keying the %s (%d keys)\n", f.name, len(keys))
		for _, d := range []byte(keys) {
			if _, err := call.Press(ctx, d, cfg.mode); err != nil {
				return rep, fmt.Errorf("key press in the %s: %w", f.name, err)
			}
			if err := sleep(ctx, cfg.spacing); err != nil {
				return rep, err
			}
		}
	}
	// Give the controller a moment to disarm and finish.
	dctx, dcancel := context.WithTimeout(ctx, 3*time.Second)
	waitFor(dctx, func() bool { return !call.Media().Armed() })
	dcancel()
	if rep.captureID != "" {
		rep.outcome = captureOutcome(ctx, cfg, rep.captureID)
	}
	return rep, nil
}

// waitFor polls cond until it holds or ctx ends.
func waitFor(ctx context.Context, cond func() bool) error {
	t := time.NewTicker(25 * time.Millisecond)
	defer t.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
