package secrets_test

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// canaries records every log line and error string a test produces and,
// when the test ends, fails it if any contains a planted secret value,
// in plain text, hex or base64.
type canaries struct {
	t      testing.TB
	mu     sync.Mutex
	values []string
	logs   bytes.Buffer
	seen   []string // error strings and health reasons
}

// newCanaries returns the recorder and a logger that writes into it.
// Set TONEWALL_TEST_LOG=1 to see the log in the test output.
func newCanaries(t testing.TB) (*canaries, *slog.Logger) {
	t.Helper()
	c := &canaries{t: t}
	log := slog.New(slog.NewJSONHandler(c, &slog.HandlerOptions{Level: slog.LevelDebug}))
	t.Cleanup(c.check)
	return c, log
}

// plant returns a fresh distinctive value with prefix and remembers it.
func (c *canaries) plant(prefix string) string {
	b := make([]byte, 10)
	rand.Read(b)
	v := prefix + "CANARY" + hex.EncodeToString(b)
	c.watch(v)
	return v
}

// watch adds values that must never appear.
func (c *canaries) watch(values ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.values = append(c.values, values...)
}

// Write receives the JSON log.
func (c *canaries) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.logs.Write(p)
}

// err records an error's text in every form a caller might print it.
func (c *canaries) err(err error) error {
	if err != nil {
		c.text(err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err))
	}
	return err
}

// text records other strings that must stay clean.
func (c *canaries) text(s ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seen = append(c.seen, s...)
}

// log returns the log so far.
func (c *canaries) log() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.logs.String()
}

// count returns how many log lines have msg as their message.
func (c *canaries) count(msg string) int {
	return strings.Count(c.log(), `"msg":"`+msg+`"`)
}

func (c *canaries) check() {
	c.t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.logs.Len() == 0 {
		c.t.Error("no log lines were recorded")
	}
	if len(c.values) == 0 {
		c.t.Error("no canary values were planted")
	}
	hay := c.logs.String() + "\n" + strings.Join(c.seen, "\n")
	for _, v := range c.values {
		for _, form := range []string{v, hex.EncodeToString([]byte(v)), base64.StdEncoding.EncodeToString([]byte(v))} {
			if strings.Contains(hay, form) {
				c.t.Errorf("a planted secret value appears in a log line or error string (%d-byte form)", len(form))
			}
		}
	}
	if os.Getenv("TONEWALL_TEST_LOG") != "" {
		c.t.Logf("log:\n%s", c.logs.String())
	}
}

// waitFor polls cond until it holds or timeout passes.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// writeFile writes a credential or fixture file readable only by us.
func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
