// Command tonewall-example-plugin is the example payment provider plugin. The
// controller launches it; run by hand it only says it is a plugin.
package main

import (
	"github.com/tonewall/tonewall/pluginsdk"
	"github.com/tonewall/tonewall/pluginsdk/example"
)

func main() {
	pluginsdk.Serve(example.New())
}
