package capture

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tonewall/tonewall/controller/card"
)

// Scripted calls live in testdata/valid (calls that end with a card) and
// testdata/invalid (calls that end any other way). One command a line; '#'
// starts a comment only at the beginning of a line, since '#' is also a key.
//
//	config fields=cvv,pan,expiry accepted=visa,amex attempts=2 window=150ms interdigit=5s field=30s postcode=3-10
//	start 2026-12-04                  Start; the clock starts at that date, 00:00 UTC
//	armed | armfailed <reason...> | cancel | hangup
//	digit <key> <source> <offset>     one key at <offset> after the start of the clock
//	keys <keys> <source> [<gap>]      keys one after another, <gap> apart (300ms)
//	timer interdigit|field [stale]    fire the running generation (or an old one)
//	restart <field>                   agent restart
//	expect outcome <outcome> [brand <brand>] [last4 <digits>]
//	expect reason <text...>           Finished's reason
//	expect card <pan> <expiry> <cvv> [<postcode>]
//	expect state <state> | expect field <field>|none
//	expect prompt <field>|- <kind> [<reason>]   among the last step's actions
//	expect noactions                  the last step returned nothing
//	expect digits|attempts <field> <n>
//	expect disarm | expect nodisarm   exactly one Disarm so far, or none
func TestScriptFiles(t *testing.T) {
	for _, dir := range []string{"valid", "invalid"} {
		files, err := filepath.Glob(filepath.Join("testdata", dir, "*.txt"))
		if err != nil || len(files) == 0 {
			t.Fatalf("no scripts in testdata/%s: %v", dir, err)
		}
		for _, file := range files {
			t.Run(dir+"/"+strings.TrimSuffix(filepath.Base(file), ".txt"), func(t *testing.T) {
				r := runScript(t, file)
				f, ok := r.finished()
				if !ok {
					t.Fatalf("script does not end the capture")
				}
				if (f.Outcome == OutcomeCardReady) != (dir == "valid") {
					t.Errorf("outcome %s in testdata/%s", f.Outcome, dir)
				}
			})
		}
	}
}

// runScript runs one script file and checks its expectations.
func runScript(t *testing.T, file string) *run {
	t.Helper()
	fh, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	var r *run
	cfg := Config{}
	clock := time.Time{}
	base := time.Time{}
	expectations := 0
	sc := bufio.NewScanner(fh)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		w := strings.Fields(line)
		fail := func(format string, args ...any) {
			t.Helper()
			t.Fatalf("%s:%d: %s: %s", file, n, line, fmt.Sprintf(format, args...))
		}
		if w[0] == "config" {
			if r != nil {
				fail("config after the first input")
			}
			if err := parseConfig(&cfg, w[1:]); err != nil {
				fail("%v", err)
			}
			continue
		}
		if r == nil {
			r = newRun(t, cfg)
		}
		step := func(in Input) { r.step(in) }
		switch w[0] {
		case "start":
			d, err := time.Parse(time.DateOnly, arg(w, 1))
			if err != nil {
				fail("%v", err)
			}
			base, clock = d, d
			step(Start{Today: d})
		case "armed":
			step(Armed{})
		case "armfailed":
			step(ArmFailed{Reason: strings.Join(w[1:], " ")})
		case "cancel":
			step(Cancel{})
		case "hangup":
			step(HangUp{})
		case "digit":
			off, err := time.ParseDuration(arg(w, 3))
			if err != nil || len(arg(w, 1)) != 1 {
				fail("want: digit <key> <source> <offset>")
			}
			clock = base.Add(off)
			step(Digit{Digit: w[1][0], Source: Source(arg(w, 2)), At: clock})
		case "keys":
			gap := keyGap
			if len(w) > 3 {
				if gap, err = time.ParseDuration(w[3]); err != nil {
					fail("%v", err)
				}
			}
			for i := range len(arg(w, 1)) {
				clock = clock.Add(gap)
				step(Digit{Digit: w[1][i], Source: Source(arg(w, 2)), At: clock})
			}
		case "timer":
			r.step(fire{timer: Timer(arg(w, 1)), stale: arg(w, 2) == "stale"})
		case "restart":
			step(RestartField{Field: Field(arg(w, 1))})
		case "expect":
			expectations++
			if err := expect(r, w[1:], line); err != nil {
				fail("%v", err)
			}
		default:
			fail("unknown command")
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if r == nil || expectations == 0 {
		t.Fatalf("%s: no inputs or no expectations", file)
	}
	if r.e.State().Terminal() {
		for _, f := range r.e.fields {
			if f.buf.Len() != 0 {
				t.Errorf("%s: %s buffer not wiped at the end", file, f.field)
			}
		}
	}
	return r
}

func arg(w []string, i int) string {
	if i < len(w) {
		return w[i]
	}
	return ""
}

func parseConfig(cfg *Config, kvs []string) error {
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return fmt.Errorf("want key=value, got %q", kv)
		}
		var err error
		switch k {
		case "fields":
			for _, f := range strings.Split(v, ",") {
				cfg.Fields = append(cfg.Fields, Field(f))
			}
		case "accepted":
			for _, b := range strings.Split(v, ",") {
				br, perr := card.ParseBrand(b)
				if perr != nil {
					return perr
				}
				cfg.Accepted = append(cfg.Accepted, br)
			}
		case "attempts":
			cfg.MaxAttempts, err = strconv.Atoi(v)
		case "window":
			cfg.DuplicateWindow, err = time.ParseDuration(v)
		case "interdigit":
			cfg.InterDigitTimeout, err = time.ParseDuration(v)
		case "field":
			cfg.FieldTimeout, err = time.ParseDuration(v)
		case "postcode":
			lo, hi, _ := strings.Cut(v, "-")
			if cfg.PostcodeMin, err = strconv.Atoi(lo); err == nil {
				cfg.PostcodeMax, err = strconv.Atoi(hi)
			}
		default:
			return fmt.Errorf("unknown config key %q", k)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// expect checks one expectation line (without the word "expect").
func expect(r *run, w []string, line string) error {
	switch arg(w, 0) {
	case "outcome":
		f, ok := r.finished()
		if !ok || string(f.Outcome) != arg(w, 1) {
			return fmt.Errorf("finished %v (ok %v); prompts %v", f, ok, r.prompts())
		}
		for i := 2; i+1 < len(w); i += 2 {
			c := r.card()
			switch w[i] {
			case "brand":
				if c == nil || string(c.Brand) != w[i+1] {
					return fmt.Errorf("card %v", c)
				}
			case "last4":
				if c == nil || c.Last4 != w[i+1] {
					return fmt.Errorf("card %v", c)
				}
			default:
				return fmt.Errorf("unknown outcome detail %q", w[i])
			}
		}
	case "reason":
		f, _ := r.finished()
		if want := strings.Join(w[1:], " "); f.Reason != want {
			return fmt.Errorf("reason %q", f.Reason)
		}
	case "card":
		c := r.card()
		if c == nil {
			return fmt.Errorf("no card; prompts %v", r.prompts())
		}
		got := []string{string(c.PAN.Bytes()), string(c.Expiry.Bytes()), string(c.CVV.Bytes())}
		if c.Postcode != nil {
			got = append(got, string(c.Postcode.Bytes()))
		}
		if strings.Join(got, " ") != strings.Join(w[1:], " ") {
			return fmt.Errorf("card contents differ (lengths %d %d %d)", c.PAN.Len(), c.Expiry.Len(), c.CVV.Len())
		}
	case "state":
		if got := r.e.State(); string(got) != arg(w, 1) {
			return fmt.Errorf("state %s", got)
		}
	case "field":
		want := arg(w, 1)
		if want == "none" {
			want = ""
		}
		if got := r.e.Field(); string(got) != want {
			return fmt.Errorf("field %q", got)
		}
	case "prompt":
		want := Prompt{Field: Field(strings.TrimPrefix(arg(w, 1), "-")), Kind: PromptKind(arg(w, 2)), Reason: card.Reason(arg(w, 3))}
		for _, a := range r.last {
			if a == Action(want) {
				return nil
			}
		}
		return fmt.Errorf("last step gave %v", r.last)
	case "noactions":
		if r.last != nil {
			return fmt.Errorf("last step gave %v", r.last)
		}
	case "digits", "attempts":
		n, err := strconv.Atoi(arg(w, 2))
		if err != nil {
			return err
		}
		st := r.status(Field(arg(w, 1)))
		got := st.Digits
		if w[0] == "attempts" {
			got = st.Attempts
		}
		if got != n {
			return fmt.Errorf("%s %d", w[0], got)
		}
	case "disarm", "nodisarm":
		want := 1
		if w[0] == "nodisarm" {
			want = 0
		}
		if got := r.count(isDisarm); got != want {
			return fmt.Errorf("%d Disarm actions", got)
		}
	default:
		return fmt.Errorf("unknown expectation")
	}
	return nil
}
