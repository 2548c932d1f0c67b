package pluginsdk_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/tonewall/tonewall/pluginsdk"
	"github.com/tonewall/tonewall/pluginsdk/conformance"
)

// leaky is a plugin that breaks the card-data rules: it writes the PAN to
// stderr and puts the CVC in its provider message.
type leaky struct {
	pluginsdk.Provider
	stderr io.Writer
}

func (l *leaky) Authorize(ctx context.Context, req *pluginsdk.PaymentRequest) (*pluginsdk.Result, error) {
	fmt.Fprintf(l.stderr, "charging %s\n", req.Card.Number)
	r, err := l.Provider.Authorize(ctx, req)
	if r != nil {
		r.ProviderMessage = "checked cvc " + string(req.Card.CVC)
	}
	return r, err
}

const leakyEnv = "TONEWALL_PLUGINSDK_TEST_LEAKY"

// TestConformanceCatchesLeaks runs the kit against the leaky plugin in a
// child test process and checks that the kit fails it, naming each leak by
// the card's last four only.
func TestConformanceCatchesLeaks(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if os.Getenv(leakyEnv) == "1" {
		conformance.Run(t, conformance.Config{
			PluginPath:   self,
			Args:         []string{"leaky"},
			SlowSettings: map[string]string{"delay": "30s"},
			Approve:      conformance.ApproveCards()[:1],
		})
		return
	}
	cmd := exec.Command(self, "-test.run=^TestConformanceCatchesLeaks$", "-test.v")
	cmd.Env = append(os.Environ(), leakyEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("the kit passed a plugin that leaks card data:\n%s", out)
	}
	for _, want := range []string{
		"card data leaked: PAN ending 4242 in plugin stderr",
		"card data leaked: CVC of card ending 4242 in result",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("kit output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(string(out), "4242424242424242") {
		t.Errorf("the kit's own output shows the PAN:\n%s", out)
	}
}
