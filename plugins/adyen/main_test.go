package main

import (
	"fmt"
	"os"
	"testing"

	"github.com/tonewall/tonewall/plugins/adyen/adyenpay/adyentest"
	"github.com/tonewall/tonewall/pluginsdk"
	"github.com/tonewall/tonewall/pluginsdk/conformance"
)

// pluginBin is the plugin executable TestMain builds.
var pluginBin string

func TestMain(m *testing.M) {
	bin, cleanup, err := conformance.Build(".", "tonewall-adyen")
	if err != nil {
		fmt.Fprintln(os.Stderr, "building the plugin:", err)
		os.Exit(1)
	}
	pluginBin = bin
	code := m.Run()
	cleanup()
	os.Exit(code)
}

// declineCards are conformance cards that Adyen's test environment (and
// adyentest) refuse, chosen the Adyen way: by the card holder name.
func declineCards() []conformance.TestCard {
	cards := []struct {
		holder string
		reason pluginsdk.Reason
	}{
		{"DECLINED", pluginsdk.ReasonCardDeclined},
		{"NOT_ENOUGH_BALANCE", pluginsdk.ReasonInsufficientFunds},
		{"CARD_EXPIRED", pluginsdk.ReasonExpiredCard},
		{"CVC_DECLINED", pluginsdk.ReasonIncorrectCVC},
	}
	base := conformance.ApproveCards()[1] // 4111 1111 1111 1111, Adyen's test Visa
	var out []conformance.TestCard
	for _, c := range cards {
		tc := base
		tc.HolderName, tc.Reason = c.holder, c.reason
		out = append(out, tc)
	}
	return out
}

func TestConformance(t *testing.T) {
	srv := adyentest.NewServer(t)
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
