package secrets_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tonewall/tonewall/controller/secrets"
)

// devCanaries are the values planted in testdata.
var devCanaries = []string{
	"sk_test_DEVFILECANARY1", "whsec_DEVFILECANARY2", "tw_DEVFILECANARY3",
	"sk_test_DEVFILECANARY4", "sk_test_DEVFILECANARY5", "sk_test_DEVFILECANARY6",
}

func TestDevFileRefusedWithoutDevMode(t *testing.T) {
	c, log := newCanaries(t)
	c.watch(devCanaries...)
	src, err := secrets.NewDevFile(filepath.Join("testdata", "devfile.json"), false, log)
	c.err(err)
	if !errors.Is(err, secrets.ErrDevOnly) {
		t.Fatalf("NewDevFile without dev mode: err = %v, want ErrDevOnly", err)
	}
	if src != nil {
		t.Fatal("NewDevFile returned a source along with its error")
	}
	log.Info("refused as expected") // the canary check wants a non-empty log
}

func TestDevFileLoads(t *testing.T) {
	c, log := newCanaries(t)
	c.watch(devCanaries...)
	src, err := secrets.NewDevFile(filepath.Join("testdata", "devfile.json"), true, log)
	if err != nil {
		t.Fatal(c.err(err))
	}
	defer src.Close()

	if !strings.Contains(c.log(), `"level":"WARN","msg":"secrets from a local file: development only"`) {
		t.Errorf("no development-only warning at start; log:\n%s", c.log())
	}
	tests := []struct {
		name, key, want string
	}{
		{"provider/stripe", "api_key", "sk_test_DEVFILECANARY1"},
		{"provider/stripe", "retries", "3"},
		{"webhook/crm", "signing_secret", "whsec_DEVFILECANARY2"},
		{"api/keys", "scopes", `["read","write"]`},
	}
	for _, tt := range tests {
		sec, err := src.Get(t.Context(), tt.name)
		if err != nil {
			t.Fatalf("Get(%s): %v", tt.name, c.err(err))
		}
		if got, _ := sec.Value(tt.key); got != tt.want || sec.Version != 1 {
			t.Errorf("Get(%s)[%s] = version %d, %d bytes; want version 1 and the fixture value", tt.name, tt.key, sec.Version, len(got))
		}
	}
	_, err = src.Get(t.Context(), "provider/missing")
	if !errors.Is(c.err(err), secrets.ErrNotFound) || !strings.Contains(err.Error(), "provider/missing") {
		t.Errorf("Get(provider/missing): err = %v, want ErrNotFound naming the secret", err)
	}
	if h := src.Health(); h.Degraded || h.Held != 3 || h.LastOK.IsZero() {
		t.Errorf("Health = %+v, want healthy with 3 held", h)
	}
	if err := src.Close(); err != nil {
		t.Fatal(err)
	}
	if err := src.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestDevFileRejectsBadFiles(t *testing.T) {
	tests := []struct {
		file string
		want string
	}{
		{"truncated.json", "invalid JSON"},
		{"wrongshape.json", "want a JSON object"},
		{"unquoted.json", "invalid JSON near byte"},
		{"absent.json", "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			c, log := newCanaries(t)
			c.watch(devCanaries...)
			_, err := secrets.NewDevFile(filepath.Join("testdata", tt.file), true, log)
			if err == nil || !strings.Contains(c.err(err).Error(), tt.want) {
				t.Fatalf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestDevFileReloadsOnChange(t *testing.T) {
	c, log := newCanaries(t)
	v1, v2, v3 := c.plant("sk_test_"), c.plant("sk_test_"), c.plant("sk_test_")
	crm := c.plant("whsec_")
	path := filepath.Join(t.TempDir(), "secrets.json")
	mtime := time.Now().Add(-time.Hour)
	write := func(content string) {
		t.Helper()
		writeFile(t, path, content)
		// Edits land seconds apart in practice; make that explicit so the
		// same-size edit below is seen on any file system.
		mtime = mtime.Add(time.Second)
		if err := os.Chtimes(path, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	file := func(stripe string) string {
		return `{"provider/stripe": {"api_key": "` + stripe + `"}, "webhook/crm": {"signing_secret": "` + crm + `"}}`
	}
	write(file(v1))

	src, err := secrets.NewDevFile(path, true, log)
	if err != nil {
		t.Fatal(c.err(err))
	}
	defer src.Close()

	var mu sync.Mutex
	var got []secrets.Secret
	crmCalls := 0
	unsubscribe := src.Subscribe("provider/stripe", func(s secrets.Secret) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, s)
	})
	src.Subscribe("webhook/crm", func(secrets.Secret) {
		mu.Lock()
		defer mu.Unlock()
		crmCalls++
	})
	received := func(n int) func() bool {
		return func() bool { mu.Lock(); defer mu.Unlock(); return len(got) >= n }
	}

	write(file(v2)) // same size as v1: detected by the modification time
	waitFor(t, 5*time.Second, "the subscriber to see version 2", received(1))
	mu.Lock()
	if v, _ := got[0].Value("api_key"); v != v2 || got[0].Version != 2 {
		t.Errorf("subscriber got version %d with the wrong value, want version 2", got[0].Version)
	}
	mu.Unlock()
	if sec, err := src.Get(t.Context(), "provider/stripe"); err != nil || sec.Version != 2 {
		t.Fatalf("Get after change = version %d, %v; want version 2", sec.Version, c.err(err))
	}

	// A broken file keeps the last good secrets and reports degraded.
	write(`{"provider/stripe": {"api_key": "` + v3)
	waitFor(t, 5*time.Second, "degraded health", func() bool { return src.Health().Degraded })
	h := src.Health()
	c.text(h.Reason)
	if !strings.Contains(h.Reason, "invalid JSON") || h.Since.IsZero() {
		t.Errorf("Health = %+v, want the JSON error as the reason", h)
	}
	if sec, err := src.Get(t.Context(), "provider/stripe"); err != nil || sec.Version != 2 {
		t.Fatalf("Get while the file is broken = version %d, %v; want version 2", sec.Version, c.err(err))
	}

	// Fixed again; the unsubscribed callback is not called.
	unsubscribe()
	unsubscribe()
	write(`{"provider/stripe": {"api_key": "` + v3 + `"}, "webhook/crm": {"signing_secret": "` + crm + `"}}`)
	waitFor(t, 5*time.Second, "recovery", func() bool { return !src.Health().Degraded })
	if sec, err := src.Get(t.Context(), "provider/stripe"); err != nil || sec.Version != 3 {
		t.Fatalf("Get after the fix = version %d, %v; want version 3", sec.Version, c.err(err))
	}
	mu.Lock()
	if len(got) != 1 || crmCalls != 0 {
		t.Errorf("after unsubscribing: stripe calls %d (want 1), unchanged crm calls %d (want 0)", len(got), crmCalls)
	}
	mu.Unlock()

	// A secret removed from the file is gone.
	write(`{"provider/stripe": {"api_key": "` + v3 + `"}}`)
	waitFor(t, 5*time.Second, "webhook/crm to disappear", func() bool {
		_, err := src.Get(t.Context(), "webhook/crm")
		return errors.Is(c.err(err), secrets.ErrNotFound)
	})
}
