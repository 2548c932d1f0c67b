package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/tonewall/tonewall/plugins/stripe/stripepay/stripetest"
	"github.com/tonewall/tonewall/pluginsdk/conformance"
)

// pluginBin is the plugin executable TestMain builds.
var pluginBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "tonewall-stripe-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	pluginBin = filepath.Join(dir, "tonewall-stripe")
	cmd := exec.Command("go", "build", "-o", pluginBin, ".")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building the plugin:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
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
