// Command tonewall-adyen is the Tonewall payment provider plugin for Adyen's
// Checkout API v71 (MOTO card payments). The controller launches it through
// go-plugin; it logs JSON to stderr and never writes to stdout. Settings and
// secrets are described in README.md.
package main

import (
	"log/slog"

	"github.com/tonewall/tonewall/plugins/adyen/adyenpay"
	"github.com/tonewall/tonewall/pluginsdk"
)

func main() {
	log := pluginsdk.NewLogger(nil, slog.LevelInfo)
	pluginsdk.Serve(adyenpay.New(adyenpay.Options{Logger: log}))
}
