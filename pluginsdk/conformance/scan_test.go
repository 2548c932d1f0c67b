package conformance

import (
	"testing"

	"github.com/tonewall/tonewall/pluginsdk"
)

func TestScanText(t *testing.T) {
	canaries := []Canary{{PAN: "4242424242424242", CVC: "737"}}
	tests := []struct {
		name     string
		text     string
		checkCVC bool
		want     []string
	}{
		{"clean", `{"@message":"charged","last4":"4242"}`, true, nil},
		{"pan", `{"card":"4242424242424242"}`, true, []string{"PAN ending 4242"}},
		{"grouped pan", "card 4242 4242 4242 4242", false, []string{"PAN ending 4242"}},
		{"dashed pan", "card 4242-4242-4242-4242", false, []string{"PAN ending 4242"}},
		{"cvc token", `{"cvc":"737"}`, true, []string{"CVC of card ending 4242"}},
		{"cvc inside a longer number", `{"@timestamp":"2026-01-01T10:00:00.737123Z"}`, true, nil},
		{"cvc ignored when asked", `{"cvc":"737"}`, false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			leaks := ScanText("log", tt.text, canaries, tt.checkCVC)
			if len(leaks) != len(tt.want) {
				t.Fatalf("got %v, want %v", leaks, tt.want)
			}
			for i, l := range leaks {
				if l.What != tt.want[i] || l.Line != 1 {
					t.Errorf("leak %d = %+v, want %q on line 1", i, l, tt.want[i])
				}
			}
		})
	}
}

func TestScanValueReachesEveryString(t *testing.T) {
	canaries := []Canary{{PAN: "5555555555554444", CVC: "123"}}
	r := pluginsdk.Result{Outcome: pluginsdk.OutcomeApproved, Token: "tok_5555555555554444"}
	if leaks := ScanValue("result", r, canaries); len(leaks) != 1 || leaks[0].What != "PAN ending 4444" {
		t.Errorf("token leak: %v", leaks)
	}
	nested := map[string][]any{"x": {&pluginsdk.Result{ProviderMessage: "cvc 123"}}}
	if leaks := ScanValue("result", nested, canaries); len(leaks) != 1 {
		t.Errorf("nested leak: %v", leaks)
	}
	if leaks := ScanValue("result", pluginsdk.Result{Last4: "4444", ExpiryYear: 2030}, canaries); len(leaks) != 0 {
		t.Errorf("false positive: %v", leaks)
	}
}

func TestValidate(t *testing.T) {
	good := Config{PluginPath: "p", Approve: ApproveCards(), Decline: DeclineCards(), SlowSettings: map[string]string{"delay": "1m"}}
	if err := validate(good.withDefaults()); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]Config{
		"no path":   {Approve: good.Approve, SlowSettings: good.SlowSettings},
		"no cards":  {PluginPath: "p", SlowSettings: good.SlowSettings},
		"no slow":   {PluginPath: "p", Approve: good.Approve},
		"no reason": {PluginPath: "p", Approve: good.Approve, SlowSettings: good.SlowSettings, Decline: []TestCard{{Number: "4000000000000002"}}},
	} {
		if err := validate(c); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
