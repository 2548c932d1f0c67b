package fssim

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// commandStream mixes the shapes a controller sends: LF and CRLF line ends,
// headers, a body with its length, and the blank lines eslgo adds after one.
const commandStream = "connect\n\n" +
	"linger\r\n\r\n" +
	"event plain DTMF CHANNEL_BRIDGE\n\n" +
	"sendmsg \r\ncall-command: execute\r\nexecute-app-name: bridge\r\nexecute-app-arg: {origination_uuid=x}sofia/internal/7200@127.0.0.1\r\n\r\n" +
	"sendmsg 8954ae8e-9ca2-444e-bbd6-2d0568b08e9a\r\ncall-command: execute\r\nexecute-app-name: set\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n\r\nfoo=bar baz\r\n\r\n" +
	"api uuid_audio 8954ae8e-9ca2-444e-bbd6-2d0568b08e9a start read mute 1\n\n" +
	"\n\nexit\n\r\n"

// parseAll parses every complete frame of data.
func parseAll(t testing.TB, data []byte) ([]frame, int) {
	t.Helper()
	var out []frame
	used := 0
	for {
		f, n, err := parseFrame(data[used:], true)
		if err != nil {
			t.Fatalf("parseFrame: %v", err)
		}
		if n == 0 {
			return out, used
		}
		out = append(out, f)
		used += n
	}
}

// feed parses data delivered in the given chunks, the way the connection
// reader does, and returns the frames.
func feed(t testing.TB, chunks [][]byte) []frame {
	t.Helper()
	var buf []byte
	var out []frame
	for _, c := range chunks {
		buf = append(buf, c...)
		fs, used := parseAll(t, buf)
		out = append(out, fs...)
		buf = buf[used:]
	}
	return out
}

func TestParseCommandStream(t *testing.T) {
	frames, used := parseAll(t, []byte(commandStream))
	if used != len(commandStream) {
		t.Fatalf("consumed %d of %d bytes", used, len(commandStream))
	}
	want := []struct {
		line string
		hdrs int
		body string
	}{
		{"connect", 0, ""},
		{"linger", 0, ""},
		{"event plain DTMF CHANNEL_BRIDGE", 0, ""},
		{"sendmsg ", 3, ""},
		{"sendmsg 8954ae8e-9ca2-444e-bbd6-2d0568b08e9a", 4, "foo=bar baz"},
		{"api uuid_audio 8954ae8e-9ca2-444e-bbd6-2d0568b08e9a start read mute 1", 0, ""},
		{"exit", 0, ""},
	}
	if len(frames) != len(want) {
		t.Fatalf("got %d frames, want %d: %+v", len(frames), len(want), frames)
	}
	for i, w := range want {
		f := frames[i]
		if f.line != w.line || len(f.headers) != w.hdrs || string(f.body) != w.body {
			t.Errorf("frame %d = {%q, %d headers, body %q}, want {%q, %d, %q}", i, f.line, len(f.headers), f.body, w.line, w.hdrs, w.body)
		}
	}
	if got := frames[3].get("EXECUTE-APP-NAME"); got != "bridge" {
		t.Errorf("case-insensitive header lookup = %q", got)
	}
	if got := frames[3].text(); strings.Contains(got, "\r") {
		t.Errorf("text() keeps a CR: %q", got)
	}
}

func TestParseSplitAtEveryByte(t *testing.T) {
	data := []byte(commandStream)
	whole := feed(t, [][]byte{data})
	for i := 0; i <= len(data); i++ {
		got := feed(t, [][]byte{data[:i], data[i:]})
		if !reflect.DeepEqual(got, whole) {
			t.Fatalf("split at %d: frames differ\ngot  %+v\nwant %+v", i, got, whole)
		}
	}
	var bytewise [][]byte
	for i := range data {
		bytewise = append(bytewise, data[i:i+1])
	}
	if got := feed(t, bytewise); !reflect.DeepEqual(got, whole) {
		t.Fatalf("byte by byte: frames differ")
	}
}

func TestParseSwitchFrames(t *testing.T) {
	// What the switch sends: replies and events, parsed with command=false.
	stream := "Content-Type: command/reply\nReply-Text: +OK\n\n" +
		"Content-Length: 4\nContent-Type: api/response\n\n+OK\n" +
		"Content-Type: text/disconnect-notice\nContent-Disposition: linger\nContent-Length: 0\n\n"
	var got []string
	data := []byte(stream)
	for len(data) > 0 {
		f, n, err := parseFrame(data, false)
		if err != nil || n == 0 {
			t.Fatalf("parse: n=%d err=%v", n, err)
		}
		got = append(got, f.get("Content-Type")+"|"+string(f.body))
		data = data[n:]
	}
	want := []string{"command/reply|", "api/response|+OK\n", "text/disconnect-notice|"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestParseLimits(t *testing.T) {
	tests := []struct {
		name string
		data string
	}{
		{"header block too large", "api " + strings.Repeat("x", maxHeaderBytes+1)},
		{"body too large", "sendmsg\nContent-Length: 2000000\n\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := parseFrame([]byte(tt.data), true)
			if !errors.Is(err, errFrameTooLarge) {
				t.Fatalf("err = %v, want errFrameTooLarge", err)
			}
		})
	}
}

func TestURLEncode(t *testing.T) {
	tests := []struct{ in, want string }{
		{"sofia/internal/caller01@127.0.0.1", "sofia/internal/caller01%40127.0.0.1"},
		{"+OK\n", "%2BOK%0A"},
		{"INVITE, ACK", "INVITE,%20ACK"},
		{"fd00::2", "fd00%3A%3A2"},
		{"FreeSWITCH-mod_sofia/1.10.12-release~64bit", "FreeSWITCH-mod_sofia/1.10.12-release~64bit"},
		{"tone_stream://%(300,700,440);loops=-1", "tone_stream%3A//%25(300,700,440)%3Bloops%3D-1"},
		{"already%20encoded", "already%20encoded"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := urlEncode(tt.in); got != tt.want {
			t.Errorf("urlEncode(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if tt.in != "already%20encoded" {
			if back := urlDecode(urlEncode(tt.in)); back != tt.in {
				t.Errorf("urlDecode(urlEncode(%q)) = %q", tt.in, back)
			}
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(commandStream))
	f.Add([]byte("api status\n\n"))
	f.Add([]byte("sendmsg\nContent-Length: 3\n\nabc"))
	f.Add([]byte("\r\n\r\nfilter Unique-ID x\r\n\r\n"))
	f.Add([]byte("Content-Length: -1\n\n"))
	f.Add([]byte("no-colon-line\nname:value\n\n"))
	corpus, _ := filepath.Glob(filepath.Join("testdata", "commands", "*"))
	for _, p := range corpus {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, command := range []bool{true, false} {
			fr, n, err := parseFrame(data, command)
			if err != nil {
				if n != 0 {
					t.Fatalf("error with n=%d", n)
				}
				continue
			}
			if n < 0 || n > len(data) {
				t.Fatalf("n=%d out of range for %d bytes", n, len(data))
			}
			if n == 0 {
				continue
			}
			again, m, err := parseFrame(data[:n], command)
			if err != nil || m != n || !reflect.DeepEqual(again, fr) {
				t.Fatalf("reparse of the consumed bytes differs: m=%d n=%d err=%v", m, n, err)
			}
			if bytes.Contains([]byte(fr.line), []byte{'\n'}) {
				t.Fatalf("command line holds a newline: %q", fr.line)
			}
		}
		// Splitting the input anywhere must not change the frames.
		if len(data) > 1 {
			mid := len(data) / 2
			whole := splitFeed(data, len(data))
			halves := splitFeed(data, mid)
			if !reflect.DeepEqual(whole, halves) {
				t.Fatalf("split at %d changes the frames", mid)
			}
		}
	})
}

// splitFeed parses data delivered as data[:at] then data[at:], stopping at
// the first error, and returns the frames.
func splitFeed(data []byte, at int) []frame {
	var out []frame
	var buf []byte
	for _, chunk := range [][]byte{data[:at], data[at:]} {
		buf = append(buf, chunk...)
		for {
			f, n, err := parseFrame(buf, true)
			if err != nil || n == 0 {
				break
			}
			out = append(out, f)
			buf = buf[n:]
		}
	}
	return out
}
