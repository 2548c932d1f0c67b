package media

import (
	"strings"
	"testing"
)

func TestStepsOrderAndInverse(t *testing.T) {
	const a, b = "aaaa-1", "bbbb-2"
	tests := []struct {
		name string
		m    Masking
		want []string
	}{
		{
			name: "without recording",
			m:    Masking{Customer: a, Agent: b},
			want: []string{
				"uuid_drop_dtmf bbbb-2 on mask_digits none",
				"uuid_audio aaaa-1 start read mute 1",
				"uuid_displace bbbb-2 start tone_stream://%(300,700,440);loops=-1 0 m",
			},
		},
		{
			name: "recording known but masking off",
			m:    Masking{Customer: a, Agent: b, RecordingPath: "/rec/x.wav"},
			want: []string{
				"uuid_drop_dtmf bbbb-2 on mask_digits none",
				"uuid_audio aaaa-1 start read mute 1",
				"uuid_displace bbbb-2 start tone_stream://%(300,700,440);loops=-1 0 m",
			},
		},
		{
			name: "recording masked",
			m:    Masking{Customer: a, Agent: b, RecordingPath: "/rec/x.wav", MaskRecording: true},
			want: []string{
				"uuid_drop_dtmf bbbb-2 on mask_digits none",
				"uuid_audio aaaa-1 start read mute 1",
				"uuid_displace bbbb-2 start tone_stream://%(300,700,440);loops=-1 0 m",
				"uuid_record aaaa-1 mask /rec/x.wav",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			steps := tt.m.Steps()
			if len(steps) != len(tt.want) {
				t.Fatalf("got %d steps, want %d", len(steps), len(tt.want))
			}
			for i, s := range steps {
				if s.Arm != tt.want[i] {
					t.Errorf("step %d arm = %q, want %q", i, s.Arm, tt.want[i])
				}
				if !isInverse(s.Arm, s.Disarm) {
					t.Errorf("step %d: %q is not the inverse of %q", i, s.Disarm, s.Arm)
				}
			}
		})
	}
}

// isInverse checks the pairs FreeSWITCH needs: same command, same leg, and
// for displace and record the identical file string.
func isInverse(arm, disarm string) bool {
	a, d := strings.Fields(arm), strings.Fields(disarm)
	if a[0] != d[0] || a[1] != d[1] {
		return false
	}
	switch a[0] {
	case "uuid_drop_dtmf":
		return a[2] == "on" && d[2] == "off" && len(d) == 5 && a[3] == d[3] && a[4] == d[4]
	case "uuid_audio":
		return a[2] == "start" && d[2] == "stop" && len(a) == 6
	case "uuid_displace":
		return a[2] == "start" && d[2] == "stop" && a[3] == d[3] && a[len(a)-1] == "m"
	case "uuid_record":
		return a[2] == "mask" && d[2] == "unmask" && a[3] == d[3]
	}
	return false
}

func TestValid(t *testing.T) {
	if err := (Masking{Customer: "a"}).Valid(); err == nil {
		t.Error("missing agent leg accepted")
	}
	if err := (Masking{Customer: "a", Agent: "b", RecordingPath: "/x y.wav"}).Valid(); err == nil {
		t.Error("path with a space accepted")
	}
	if err := (Masking{Customer: "a", Agent: "b", RecordingPath: "/x.wav"}).Valid(); err != nil {
		t.Errorf("valid masking refused: %v", err)
	}
}

func TestPromptFile(t *testing.T) {
	p := Prompts{Dir: "/usr/share/freeswitch/sounds/tonewall", Language: "en"}
	if got, want := p.File(PromptEnterPAN, ""), "/usr/share/freeswitch/sounds/tonewall/en/tonewall-enter-card-number.wav"; got != want {
		t.Errorf("File = %q, want %q", got, want)
	}
	if got, want := p.File(PromptThankYou, "fr"), "/usr/share/freeswitch/sounds/tonewall/fr/tonewall-thank-you.wav"; got != want {
		t.Errorf("File = %q, want %q", got, want)
	}
	if got := PlayToCustomer("a", "/f.wav"); got != "uuid_displace a start /f.wav 0 m" {
		t.Errorf("PlayToCustomer = %q", got)
	}
	if got := StopToCustomer("a", "/f.wav"); got != "uuid_displace a stop /f.wav" {
		t.Errorf("StopToCustomer = %q", got)
	}
}
