package main

import (
	"fmt"
	"os"
	"testing"

	"github.com/tonewall/tonewall/plugins/stripe/stripepay/stripetest"
	"github.com/tonewall/tonewall/pluginsdk/conformance"
)

// pluginBin is the plugin executable TestMain builds.
var pluginBin string

func TestMain(m *testing.M) {
	bin, cleanup, err := conformance.Build(".", "tonewall-stripe")
	if err != nil {
		fmt.Fprintln(os.Stderr, "building the plugin:", err)
		os.Exit(1)
	}
	pluginBin = bin
	code := m.Run()
	cleanup()
	os.Exit(code)
}

func TestConformance(t *testing.T) {
	srv := stripetest.NewServer(t)
	conformance.Run(t, conformance.Config{
		PluginPath:   pluginBin,
		Settings:     srv.Settings(),
		Secrets:      srv.Secrets(),
		SlowSettings: srv.SlowSettings(),
		Approve:      conformance.ApproveCards(),
		Decline:      conformance.DeclineCards(), // Stripe's own decline test cards
	})
	if v := srv.Violations(); len(v) != 0 {
		t.Errorf("the plugin sent requests Stripe would reject: %v", v)
	}
}
