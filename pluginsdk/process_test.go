package pluginsdk_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tonewall/tonewall/pluginsdk"
	"github.com/tonewall/tonewall/pluginsdk/conformance"
)

// lockedBuffer collects log output from several goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startExample launches the built example plugin and configures it.
func startExample(t testing.TB, settings map[string]string, logs *lockedBuffer) (*pluginsdk.Client, pluginsdk.Provider) {
	t.Helper()
	cfg := pluginsdk.ClientConfig{Name: "example", Path: examplePlugin, SHA256: exampleSum}
	if logs != nil {
		cfg.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		cfg.Stderr = logs
	}
	c, err := pluginsdk.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Kill)
	p, err := c.Provider(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Configure(t.Context(), &pluginsdk.ConfigureRequest{Settings: settings}); err != nil {
		t.Fatal(err)
	}
	return c, p
}

func TestExamplePluginConformance(t *testing.T) {
	conformance.Run(t, conformance.Config{
		PluginPath:   examplePlugin,
		Settings:     map[string]string{},
		Secrets:      map[string][]byte{"api_key": []byte("sk_test_example")},
		SlowSettings: map[string]string{"delay": "30s"},
		Approve:      conformance.ApproveCards(),
		Decline:      conformance.DeclineCards(),
	})
}

func TestExamplePluginConformanceWhenProviderIgnoresDeadlines(t *testing.T) {
	// The SDK's deadline guard must answer even when the provider's code
	// ignores its context.
	conformance.Run(t, conformance.Config{
		PluginPath:   examplePlugin,
		SlowSettings: map[string]string{"delay": "30s", "ignore_deadline": "true"},
		Approve:      conformance.ApproveCards()[:1],
		Decline:      conformance.DeclineCards()[:1],
		Operations:   []pluginsdk.Operation{pluginsdk.OpSale, pluginsdk.OpStatus, pluginsdk.OpRefund},
	})
}

func TestHungPluginGivesDeadlineError(t *testing.T) {
	_, p := startExample(t, map[string]string{"delay": "1h", "ignore_deadline": "true"}, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := p.Authorize(ctx, &pluginsdk.PaymentRequest{TransactionID: "tx", IdempotencyKey: "k"})
	if !errors.Is(err, pluginsdk.ErrDeadline) {
		t.Fatalf("got %v, want ErrDeadline", err)
	}
	if took := time.Since(start); took > 1500*time.Millisecond {
		t.Errorf("a 300ms deadline returned after %s", took)
	}
}

func TestWrongChecksumIsRefused(t *testing.T) {
	bad := strings.Repeat("ab", 32)
	_, err := pluginsdk.NewClient(pluginsdk.ClientConfig{Name: "stripe", Path: examplePlugin, SHA256: bad})
	var ce *pluginsdk.ChecksumError
	if !errors.As(err, &ce) || !errors.Is(err, pluginsdk.ErrChecksumMismatch) {
		t.Fatalf("got %v, want a ChecksumError", err)
	}
	for _, want := range []string{`"stripe"`, bad, exampleSum} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
	if _, err := pluginsdk.NewClient(pluginsdk.ClientConfig{Path: examplePlugin, SHA256: "xyz"}); err == nil {
		t.Error("a malformed checksum was accepted")
	}
}

func TestStdoutBeforeHandshakeIsAClearError(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	sum, err := pluginsdk.FileSHA256(self)
	if err != nil {
		t.Fatal(err)
	}
	c, err := pluginsdk.NewClient(pluginsdk.ClientConfig{Name: "noisy", Path: self, Args: []string{"noisy"}, SHA256: sum})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Kill)
	_, err = c.Provider(t.Context())
	if !errors.Is(err, pluginsdk.ErrHandshake) {
		t.Fatalf("got %v, want ErrHandshake", err)
	}
	for _, want := range []string{`"noisy"`, "stdout", "stderr"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "hello") {
		t.Errorf("error repeats the plugin's output: %v", err)
	}
}

func TestPluginExitsWhenParentDies(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	parent := exec.Command(self)
	parent.Env = append(os.Environ(), roleEnv+"=parent", "PLUGIN_PATH="+examplePlugin, "PLUGIN_SHA256="+exampleSum)
	stdin, err := parent.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	out, err := parent.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr lockedBuffer
	parent.Stderr = &stderr
	if err := parent.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = parent.Process.Kill(); _ = parent.Wait() })

	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("parent printed no pid: %v; stderr:\n%s", err, stderr.String())
	}
	var pid int
	if _, err := fmt.Sscanf(line, "pid %d", &pid); err != nil || pid <= 0 {
		t.Fatalf("parent printed %q", line)
	}
	t.Cleanup(func() {
		if !processGone(pid) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	if processGone(pid) {
		t.Fatal("plugin not running before its parent died")
	}

	if err := parent.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = parent.Wait()
	waitFor(t, 5*time.Second, "the orphaned plugin to exit", func() bool { return processGone(pid) })
}

func TestClientLifecycle(t *testing.T) {
	logs := &lockedBuffer{}
	c, p := startExample(t, nil, logs)
	if err := c.Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	if c.Exited() || c.Pid() <= 0 || c.NegotiatedVersion() != pluginsdk.ProtocolVersion {
		t.Fatalf("exited %v pid %d version %d", c.Exited(), c.Pid(), c.NegotiatedVersion())
	}
	p2, err := c.Provider(t.Context())
	if err != nil || p2 != p {
		t.Errorf("second Provider: %v, %v", p2, err)
	}
	pid := c.Pid()
	c.Kill()
	c.Kill() // safe twice
	if !c.Exited() || !processGone(pid) {
		t.Error("plugin still running after Kill")
	}
	if err := c.Ping(t.Context()); err == nil {
		t.Error("Ping succeeded after Kill")
	}
	if _, err := p.Status(t.Context(), &pluginsdk.StatusRequest{TransactionID: "x"}); !errors.Is(err, pluginsdk.ErrPluginGone) {
		t.Errorf("call after Kill: %v, want ErrPluginGone", err)
	}
	// The plugin wrote {"@message":"configured",...} to stderr; the host
	// re-logged it through slog as {"msg":"configured",...}.
	if !strings.Contains(logs.String(), `"msg":"configured"`) {
		t.Errorf("the plugin's log line was not re-logged through slog:\n%s", logs.String())
	}
}
