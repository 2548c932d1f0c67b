package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	testCard   = "4242424242424242"
	testExpiry = "1230"
	testCVV    = "123"
	flatTone   = "tone_stream://%(300,700,440);loops=-1"
)

// fakeController is a scripted controller: it bridges the call to the agent
// named in tonewall_agent, optionally arms masking, prompts each field and
// moves to the next field at the card number's '#' and when expiry and CVV
// have all their digits, as the real engine does.
type fakeController struct {
	mask    bool   // run the masking sequence before prompting
	leakVar string // if set, store this value in a channel variable (a bug)
}

// serve handles one call on conn.
func (f fakeController) serve(conn net.Conn) error {
	defer conn.Close()
	r := textproto.NewReader(bufio.NewReader(conn))
	events := make(chan textproto.MIMEHeader, 256)
	replies := make(chan textproto.MIMEHeader, 16)
	go func() {
		defer close(events)
		for {
			h, err := r.ReadMIMEHeader()
			if err != nil {
				return
			}
			var body []byte
			if n, _ := strconv.Atoi(h.Get("Content-Length")); n > 0 {
				body = make([]byte, n)
				if _, err := io.ReadFull(r.R, body); err != nil {
					return
				}
			}
			switch h.Get("Content-Type") {
			case "text/event-plain":
				eh, err := textproto.NewReader(bufio.NewReader(bytes.NewReader(append(body, '\n')))).ReadMIMEHeader()
				if err == nil || len(eh) > 0 {
					events <- eh
				}
			case "text/disconnect-notice":
			default:
				replies <- h
			}
		}
	}()
	cmd := func(s string) textproto.MIMEHeader {
		fmt.Fprintf(conn, "%s\n\n", s)
		select {
		case h := <-replies:
			return h
		case <-time.After(5 * time.Second):
			return nil
		}
	}
	wait := func(name, digit string) bool {
		for {
			select {
			case e, ok := <-events:
				if !ok {
					return false
				}
				if e.Get("Event-Name") == name && (digit == "" || unescape(e.Get("Dtmf-Digit")) == digit) {
					return true
				}
			case <-time.After(5 * time.Second):
				return false
			}
		}
	}
	h := cmd("connect")
	if h == nil {
		return fmt.Errorf("no connect reply")
	}
	a := h.Get("Unique-ID")
	agent, _ := url.QueryUnescape(h.Get("Variable_tonewall_agent"))
	b := "9b2b6c2e-5f0c-4f59-9c1b-3a5d2e7f8a90"
	cmd("linger")
	cmd("event plain DTMF CHANNEL_BRIDGE CHANNEL_HANGUP_COMPLETE")
	cmd("filter Unique-ID " + a)
	cmd("filter Unique-ID " + b)
	cmd("sendmsg\ncall-command: execute\nexecute-app-name: spandsp_start_dtmf")
	cmd("sendmsg\ncall-command: execute\nexecute-app-name: bridge\nexecute-app-arg: {origination_uuid=" + b + "}" + agent)
	if !wait("CHANNEL_BRIDGE", "") {
		return fmt.Errorf("no bridge")
	}
	if f.leakVar != "" {
		cmd("api uuid_setvar " + a + " last_card " + f.leakVar)
	}
	if f.mask {
		cmd("api uuid_drop_dtmf " + b + " on mask_digits none")
		cmd("api uuid_audio " + a + " start read mute 1")
		cmd("api uuid_displace " + b + " start " + flatTone + " 0 m")
	}
	for i, fd := range []struct {
		prompt string
		keys   int // key presses that end the field
	}{{"pan.wav", len(testCard) + 1}, {"expiry.wav", len(testExpiry)}, {"cvv.wav", len(testCVV)}} {
		cmd(fmt.Sprintf("api uuid_displace %s start /prompts/%d-%s 0 m", a, i, fd.prompt))
		for k := 0; k < fd.keys; k++ {
			if !wait("DTMF", "") {
				return fmt.Errorf("field %d never ended", i)
			}
		}
	}
	if f.mask {
		cmd("api uuid_displace " + b + " stop " + flatTone)
		cmd("api uuid_audio " + a + " stop")
		cmd("api uuid_drop_dtmf " + b + " off mask_digits none")
	}
	if !wait("CHANNEL_HANGUP_COMPLETE", "") {
		return fmt.Errorf("no hang-up")
	}
	fmt.Fprintf(conn, "exit\n\n")
	for range events {
	}
	return nil
}

// startFake runs a fake controller for one call and returns its address.
func startFake(t *testing.T, f fakeController) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		if err := f.serve(conn); err != nil {
			t.Errorf("fake controller: %v", err)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	return ln.Addr().String()
}

func testConfig(t *testing.T, addr string, waitCapture bool) config {
	t.Helper()
	cfg, err := parseFlags([]string{
		"--controller", addr, "--card", testCard, "--expiry", testExpiry, "--cvv", testCVV,
		"--mode", "inband", "--spacing", "1ms", "--timeout", "20s", "--field-wait", "2s",
		"--wait-capture=" + strconv.FormatBool(waitCapture),
	}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func runAndPrint(t *testing.T, cfg config) (*report, string) {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	rep, err := run(context.Background(), cfg, log)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	var out bytes.Buffer
	rep.print(&out)
	for _, secret := range []string{testCard, testExpiry, "=" + testCVV} {
		if strings.Contains(out.String(), secret) {
			t.Fatalf("report contains a card field:\n%s", out.String())
		}
	}
	return rep, out.String()
}

func TestMaskedCallPasses(t *testing.T) {
	addr := startFake(t, fakeController{mask: true})
	rep, out := runAndPrint(t, testConfig(t, addr, true))
	want := len(testCard) + 1 + len(testExpiry) + len(testCVV)
	if len(rep.presses) != want || rep.leaked() {
		t.Fatalf("presses %d (want %d), leaked %v\n%s", len(rep.presses), want, rep.leaked(), out)
	}
	if events, _, _, _ := rep.counts(); events != want {
		t.Fatalf("controller got %d DTMF events, want %d", events, want)
	}
	if len(rep.prompts) != 3 || !strings.Contains(out, "RESULT: PASS") {
		t.Fatalf("report:\n%s", out)
	}
}

func TestUnmaskedCallFails(t *testing.T) {
	addr := startFake(t, fakeController{})
	rep, out := runAndPrint(t, testConfig(t, addr, false))
	_, audible, relayed, _ := rep.counts()
	if !rep.leaked() || audible != len(rep.presses) || relayed != len(rep.presses) {
		t.Fatalf("unmasked call: audible %d, relayed %d of %d\n%s", audible, relayed, len(rep.presses), out)
	}
	if !strings.Contains(out, "RESULT: FAIL") {
		t.Fatalf("report:\n%s", out)
	}
}

func TestCardInCommandsFails(t *testing.T) {
	addr := startFake(t, fakeController{mask: true, leakVar: testCard})
	rep, out := runAndPrint(t, testConfig(t, addr, true))
	if rep.cardInCmds != 1 || !rep.leaked() || !strings.Contains(out, "[REDACTED]") {
		t.Fatalf("card in commands %d, leaked %v\n%s", rep.cardInCmds, rep.leaked(), out)
	}
}

func TestParseFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string // substring of the error, "" for success
	}{
		{"ok", []string{"--card", testCard, "--expiry", testExpiry, "--cvv", testCVV}, ""},
		{"empty card", []string{"--card", "", "--expiry", testExpiry, "--cvv", testCVV}, "--card is required"},
		{"card not digits", []string{"--card", "4242-4242", "--expiry", testExpiry, "--cvv", testCVV}, "--card must contain digits only"},
		{"bad mode", []string{"--card", testCard, "--expiry", testExpiry, "--cvv", testCVV, "--mode", "morse"}, "unknown DTMF mode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := parseFlags(tt.args, io.Discard)
			if tt.want == "" {
				if err != nil || cfg.spacing != 150*time.Millisecond || !cfg.waitCapture {
					t.Fatalf("cfg %+v, err %v", cfg.spacing, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "4242") {
				t.Fatalf("error repeats a card field: %v", err)
			}
		})
	}
}

// unescape decodes a URL-encoded event header value.
func unescape(s string) string {
	v, err := url.PathUnescape(s)
	if err != nil {
		return s
	}
	return v
}
