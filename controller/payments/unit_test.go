package payments

import (
	"strings"
	"testing"
	"time"

	"github.com/tonewall/tonewall/controller/card"
	"github.com/tonewall/tonewall/pluginsdk"
)

func TestNextBackoff(t *testing.T) {
	lo, hi := 100*time.Millisecond, 30*time.Second
	want := []time.Duration{
		100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond,
		1600 * time.Millisecond, 3200 * time.Millisecond, 6400 * time.Millisecond, 12800 * time.Millisecond,
		25600 * time.Millisecond, 30 * time.Second, 30 * time.Second,
	}
	var d time.Duration
	for i, w := range want {
		d = nextBackoff(d, lo, hi)
		if d != w {
			t.Fatalf("step %d: %s, want %s", i, d, w)
		}
	}
}

func TestIDsAreDeterministicAndDistinct(t *testing.T) {
	a := TransactionID("cap-1", pluginsdk.OpAuthorize)
	if a != TransactionID("cap-1", pluginsdk.OpAuthorize) {
		t.Fatal("transaction id not deterministic")
	}
	seen := map[string]bool{}
	for _, id := range []string{
		a, TransactionID("cap-1", pluginsdk.OpCapture), TransactionID("cap-2", pluginsdk.OpAuthorize),
		IdempotencyKey("cap-1", pluginsdk.OpAuthorize), IdempotencyKey("cap-1", pluginsdk.OpCapture),
		// no ambiguity between the capture id and the operation
		TransactionID("cap-1\x00authorize", ""),
	} {
		if seen[id] {
			t.Errorf("duplicate id %q", id)
		}
		seen[id] = true
		if len(id) > 64 || !strings.HasPrefix(id, "tw") {
			t.Errorf("id %q: too long or unprefixed", id)
		}
	}
}

func secret(s string) *card.Secret {
	sec := card.NewSecret(len(s))
	for i := 0; i < len(s); i++ {
		sec.Append(s[i])
	}
	return sec
}

func TestPluginCardCopiesAndWipes(t *testing.T) {
	c := &card.Card{PAN: secret("4242424242424242"), CVV: secret("123"), Postcode: secret("90210"), ExpMonth: 7, ExpYear: 31}
	pc, wipe := pluginCard(c)
	if string(pc.Number) != "4242424242424242" || string(pc.CVC) != "123" || string(pc.Postcode) != "90210" ||
		pc.ExpiryMonth != 7 || pc.ExpiryYear != 2031 {
		t.Fatalf("converted card: number %d bytes, cvc %d, postcode %d, %d/%d",
			len(pc.Number), len(pc.CVC), len(pc.Postcode), pc.ExpiryMonth, pc.ExpiryYear)
	}
	if &pc.Number[0] == &c.PAN.Bytes()[0] {
		t.Fatal("the plugin card aliases the caller's secret")
	}
	if cap(pc.Number) != len(pc.Number) || cap(pc.CVC) != len(pc.CVC) {
		t.Error("an append to one field could overwrite the next")
	}
	wipe()
	for _, b := range [][]byte{pc.Number, pc.CVC, pc.Postcode} {
		for _, x := range b {
			if x != 0 {
				t.Fatal("copy not wiped")
			}
		}
	}
	if c.PAN.Len() != 16 || c.CVV.Len() != 3 {
		t.Error("wipe touched the caller's card")
	}
	noPost, wipe2 := pluginCard(&card.Card{PAN: secret("4242424242424242"), CVV: secret("123"), ExpYear: 2030})
	defer wipe2()
	if noPost.Postcode != nil || noPost.ExpiryYear != 2030 {
		t.Errorf("postcode %v year %d", noPost.Postcode, noPost.ExpiryYear)
	}
}

func TestOptions(t *testing.T) {
	o := Options{}.withDefaults()
	if o.CallTimeout != DefaultCallTimeout || o.PingInterval != DefaultPingInterval ||
		o.RestartBackoffMin != DefaultRestartBackoffMin || o.RestartBackoffMax != DefaultRestartBackoffMax || o.Logger == nil {
		t.Errorf("defaults: %+v", o)
	}
	good := PluginConfig{Name: "stripe", Path: "/bin/p", SHA256: strings.Repeat("a", 64)}
	tests := []struct {
		name string
		opts Options
		ok   bool
	}{
		{"none", Options{}, true},
		{"one", Options{Plugins: []PluginConfig{good}}, true},
		{"duplicate", Options{Plugins: []PluginConfig{good, good}}, false},
		{"no name", Options{Plugins: []PluginConfig{{Path: "/p", SHA256: good.SHA256}}}, false},
		{"no path", Options{Plugins: []PluginConfig{{Name: "x", SHA256: good.SHA256}}}, false},
		{"no checksum", Options{Plugins: []PluginConfig{{Name: "x", Path: "/p"}}}, false},
		{"negative", Options{CallTimeout: -1}, false},
		{"backoff inverted", Options{RestartBackoffMin: time.Minute, RestartBackoffMax: time.Second}, false},
	}
	for _, tt := range tests {
		_, err := New(tt.opts)
		if (err == nil) != tt.ok {
			t.Errorf("%s: New error %v, want ok=%v", tt.name, err, tt.ok)
		}
	}
}
