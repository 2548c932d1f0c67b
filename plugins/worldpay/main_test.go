package main

import (
	"fmt"
	"os"
	"testing"

	"github.com/tonewall/tonewall/plugins/worldpay/accesspay/worldpaytest"
	"github.com/tonewall/tonewall/pluginsdk"
	"github.com/tonewall/tonewall/pluginsdk/conformance"
)

// pluginBin is the plugin executable TestMain builds.
var pluginBin string

func TestMain(m *testing.M) {
	bin, cleanup, err := conformance.Build(".", "tonewall-worldpay")
	if err != nil {
		fmt.Fprintln(os.Stderr, "building the plugin:", err)
		os.Exit(1)
	}
	pluginBin = bin
	code := m.Run()
	cleanup()
	os.Exit(code)
}

// declineCards are conformance cards that worldpaytest refuses, chosen the
// Worldpay way, by a magic card holder name (REFUSED plus a refusal code).
func declineCards() []conformance.TestCard {
	cards := []struct {
		holder string
		reason pluginsdk.Reason
	}{
		{"REFUSED", pluginsdk.ReasonCardDeclined},
		{"REFUSED51", pluginsdk.ReasonInsufficientFunds},
		{"REFUSED54", pluginsdk.ReasonExpiredCard},
		{"REFUSED82", pluginsdk.ReasonIncorrectCVC},
	}
	base := conformance.ApproveCards()[0]
	var out []conformance.TestCard
	for _, c := range cards {
		tc := base
		tc.HolderName, tc.Reason = c.holder, c.reason
		out = append(out, tc)
	}
	return out
}

func TestConformance(t *testing.T) {
	srv := worldpaytest.NewServer(t)
	conformance.Run(t, conformance.Config{
		PluginPath:   pluginBin,
		Settings:     srv.Settings(),
		Secrets:      srv.Secrets(),
		SlowSettings: srv.SlowSettings(),
		Approve:      conformance.ApproveCards(),
		Decline:      declineCards(),
	})
	if v := srv.Violations(); len(v) != 0 {
		t.Errorf("the plugin sent requests outside the documented schema: %v", v)
	}
}
