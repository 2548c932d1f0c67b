package esl

import (
	"errors"
	"fmt"
	"net/textproto"
	"strings"
	"testing"
)

func hdr(kv ...string) textproto.MIMEHeader {
	h := textproto.MIMEHeader{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

func TestDecodeEvent(t *testing.T) {
	tests := []struct {
		name    string
		h       textproto.MIMEHeader
		wantErr bool
		check   func(t *testing.T, e Event)
	}{
		{
			name: "dtmf",
			h: hdr("Event-Name", "DTMF", "Event-Sequence", "7663", "Unique-Id", "79f299bc",
				"Event-Date-Timestamp", "1796398946142737", "Dtmf-Digit", "4", "Dtmf-Source", "RTP",
				"Channel-Name", "sofia/internal/caller03%40127.0.0.1"),
			check: func(t *testing.T, e Event) {
				if e.Name != "DTMF" || e.Sequence != 7663 || e.UniqueID != "79f299bc" {
					t.Errorf("decoded %+v", e)
				}
				if e.Get("Channel-Name") != "sofia/internal/caller03@127.0.0.1" {
					t.Errorf("value not URL-decoded: %q", e.Get("Channel-Name"))
				}
				if e.Timestamp.UnixMicro() != 1796398946142737 {
					t.Errorf("timestamp %v", e.Timestamp)
				}
			},
		},
		{
			name: "undef value reads empty",
			h:    hdr("Event-Name", "CHANNEL_BRIDGE", "Other-Leg-Unique-Id", "_undef_"),
			check: func(t *testing.T, e Event) {
				if e.Get("Other-Leg-Unique-Id") != "" {
					t.Errorf("_undef_ not read as empty")
				}
			},
		},
		{name: "no name", h: hdr("Event-Sequence", "1"), wantErr: true},
		{name: "bad sequence", h: hdr("Event-Name", "DTMF", "Event-Sequence", "x1"), wantErr: true},
		{
			name: "bad escape kept raw",
			h:    hdr("Event-Name", "CUSTOM", "X", "100%"),
			check: func(t *testing.T, e Event) {
				if e.Get("X") != "100%" {
					t.Errorf("got %q", e.Get("X"))
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := DecodeEvent(tt.h, nil)
			if tt.wantErr {
				if !errors.Is(err, ErrMalformedEvent) {
					t.Fatalf("err = %v, want ErrMalformedEvent", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, e)
		})
	}
}

func TestEventStringHidesDigits(t *testing.T) {
	e, err := DecodeEvent(hdr("Event-Name", "DTMF", "Event-Sequence", "12", "Unique-Id", "abcdefgh-1234", "Dtmf-Digit", "7"), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{e.String(), fmt.Sprint(e.String())} {
		if strings.Contains(s, "7") && !strings.Contains(s, "#12") {
			t.Errorf("%q", s)
		}
		if strings.Contains(s, "Dtmf") {
			t.Errorf("String shows headers: %q", s)
		}
	}
}

func TestVerbLeavesArgumentsOut(t *testing.T) {
	tests := map[string]string{
		"api uuid_record abc mask /rec/secret.wav": "api uuid_record",
		"sendmsg\ncall-command: execute":           "sendmsg",
		"linger 30":                                "linger",
		"":                                         "",
	}
	for in, want := range tests {
		if got := verb(in); got != want {
			t.Errorf("verb(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzDecodeEvent(f *testing.F) {
	f.Add("DTMF", "7663", "1796398946142737", "sofia%2Finternal")
	f.Add("", "", "", "")
	f.Add("CHANNEL_HANGUP_COMPLETE", "18446744073709551615", "-1", "%zz")
	f.Fuzz(func(t *testing.T, name, seq, ts, val string) {
		e, err := DecodeEvent(hdr("Event-Name", name, "Event-Sequence", seq, "Event-Date-Timestamp", ts, "X", val), nil)
		if err != nil {
			if !errors.Is(err, ErrMalformedEvent) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		if e.Name == "" {
			t.Fatal("accepted event without a name")
		}
		_ = e.String()
	})
}
