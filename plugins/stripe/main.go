// Command tonewall-stripe is the Tonewall payment provider plugin for Stripe
// (MOTO card payments through PaymentIntents). The controller launches it through
// go-plugin; it logs JSON to stderr and never writes to stdout. Settings and
// secrets are described in README.md.
package main

import (
	"log/slog"

	"github.com/tonewall/tonewall/plugins/stripe/stripepay"
	"github.com/tonewall/tonewall/pluginsdk"
)

func main() {
	log := pluginsdk.NewLogger(nil, slog.LevelInfo)
	pluginsdk.Serve(stripepay.New(stripepay.Options{Logger: log}))
}
