// Command tonewall-worldpay is the Tonewall payment provider plugin for the
// Access Worldpay Payments API (MOTO card payments). The controller launches it through
// go-plugin; it logs JSON to stderr and never writes to stdout. Settings and
// secrets are described in README.md.
package main

import (
	"log/slog"

	"github.com/tonewall/tonewall/plugins/worldpay/accesspay"
	"github.com/tonewall/tonewall/pluginsdk"
)

func main() {
	log := pluginsdk.NewLogger(nil, slog.LevelInfo)
	pluginsdk.Serve(accesspay.New(accesspay.Options{Logger: log}))
}
