package main

import (
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/tonewall/tonewall/integration/fssim"
)

// report is the digit-free outcome of one simulated call.
type report struct {
	call       *fssim.Call
	fields     []field
	presses    []fssim.KeyPress
	prompts    []string
	commands   []string
	cardInCmds int // commands or prompt names that carried a card field
	captureID  string
	outcome    string // the capture's outcome as the API reports it
}

// collect snapshots the call and redacts card fields from the command log.
func (r *report) collect() {
	r.presses = r.call.Presses()
	var patterns []*regexp.Regexp
	for _, f := range r.fields {
		if f.digits == "" {
			continue
		}
		patterns = append(patterns, regexp.MustCompile(`(^|[^0-9A-Za-z])`+regexp.QuoteMeta(f.digits)+`($|[^0-9A-Za-z])`))
	}
	redact := func(in []string) []string {
		out := make([]string, 0, len(in))
		for _, s := range in {
			red := s
			for _, p := range patterns {
				red = p.ReplaceAllString(red, "${1}[REDACTED]${2}")
			}
			if red != s {
				r.cardInCmds++
			}
			out = append(out, red)
		}
		return out
	}
	r.cardInCmds = 0
	r.commands = redact(r.call.Commands())
	r.prompts = redact(r.call.Prompts())
}

// counts tallies what became of the key presses.
func (r *report) counts() (events, audible, relayed, recorded int) {
	for _, k := range r.presses {
		events += k.ControllerEvents
		if k.AgentHeardTone {
			audible++
		}
		if k.AgentGotRFC2833 {
			relayed++
		}
		if k.RecordingHasTone {
			recorded++
		}
	}
	return events, audible, relayed, recorded
}

// leaked reports whether any key press or card field escaped.
func (r *report) leaked() bool {
	_, audible, relayed, recorded := r.counts()
	return audible+relayed+recorded+r.cardInCmds > 0
}

// print writes the report. It contains counts, file names and the command
// log with uuids; never a key that was pressed.
func (r *report) print(w io.Writer) {
	events, audible, relayed, recorded := r.counts()
	mode := "-"
	if len(r.presses) > 0 {
		mode = r.presses[0].Mode.String()
	}
	fmt.Fprintf(w, "simulated call A=%s B=%s\n", r.call.A(), r.call.B())
	fmt.Fprintf(w, "  key presses sent:                %d (%s)\n", len(r.presses), mode)
	fmt.Fprintf(w, "  DTMF events to the controller:   %d\n", events)
	fmt.Fprintf(w, "  audible to the agent:            %d\n", audible)
	fmt.Fprintf(w, "  relayed to the agent (RFC 2833): %d\n", relayed)
	fmt.Fprintf(w, "  in a recording:                  %d\n", recorded)
	fmt.Fprintf(w, "  card fields sent to the switch:  %d\n", r.cardInCmds)
	fmt.Fprintf(w, "  prompts played to the customer:  %d\n", len(r.prompts))
	for i, p := range r.prompts {
		fmt.Fprintf(w, "    %d. %s\n", i+1, p)
	}
	fmt.Fprintf(w, "  commands from the controller:    %d\n", len(r.commands))
	for _, c := range r.commands {
		fmt.Fprintf(w, "    %s\n", strings.ReplaceAll(c, "\n", "\n      "))
	}
	if r.captureID != "" {
		fmt.Fprintf(w, "  capture outcome (from the API):  %s\n", r.outcome)
	}
	if r.leaked() {
		fmt.Fprintln(w, "RESULT: FAIL - card data reached the agent, a recording or the switch's command log")
		return
	}
	if len(r.presses) == 0 {
		fmt.Fprintln(w, "RESULT: no key was pressed")
		return
	}
	fmt.Fprintln(w, "RESULT: PASS - no key press reached the agent or a recording")
}
