package pluginsdk_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tonewall/tonewall/pluginsdk"
	"github.com/tonewall/tonewall/pluginsdk/example"
)

// Built once in TestMain.
var (
	examplePlugin string // path of the built example plugin
	exampleSum    string // its SHA-256
)

// roleEnv makes the re-executed test binary act as a controller that
// launches a plugin (see runParent).
const roleEnv = "TONEWALL_PLUGINSDK_TEST_ROLE"

func TestMain(m *testing.M) {
	// The test binary re-executed as a plugin (go-plugin's helper-process
	// pattern): the first argument names the behaviour.
	if os.Getenv(pluginsdk.MagicCookieKey) == pluginsdk.MagicCookieValue {
		servePluginRole(os.Args[1:])
		os.Exit(0)
	}
	if os.Getenv(roleEnv) == "parent" {
		os.Exit(runParent())
	}
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "pluginsdk-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	examplePlugin = filepath.Join(dir, "tonewall-example-plugin")
	if err := goBuild(examplePlugin, "github.com/tonewall/tonewall/pluginsdk/example/cmd/tonewall-example-plugin"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if exampleSum, err = pluginsdk.FileSHA256(examplePlugin); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// goBuild builds pkg to out with the go command on PATH. A missing go
// command fails the tests: they need a real plugin binary.
func goBuild(out, pkg string) error {
	gobin, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("building test plugins needs the go command: %w", err)
	}
	cmd := exec.Command(gobin, "build", "-o", out, pkg)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build %s: %w", pkg, err)
	}
	return nil
}

// servePluginRole serves a plugin from the test binary itself.
func servePluginRole(args []string) {
	role := ""
	if len(args) > 0 {
		role = args[0]
	}
	switch role {
	case "leaky":
		pluginsdk.Serve(&leaky{Provider: example.New(), stderr: os.Stderr})
	case "noisy":
		// Breaks the handshake: stdout is reserved for it.
		fmt.Println("starting up, hello!")
		pluginsdk.Serve(example.New())
	default:
		pluginsdk.Serve(example.New())
	}
}

// runParent is a stand-in controller: it launches the example plugin, prints
// "pid N" and waits to be killed.
func runParent() int {
	c, err := pluginsdk.NewClient(pluginsdk.ClientConfig{
		Name:   "example",
		Path:   os.Getenv("PLUGIN_PATH"),
		SHA256: os.Getenv("PLUGIN_SHA256"),
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := c.Provider(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Printf("pid %d\n", c.Pid())
	// Block until killed; stdin stays open for as long as the test wants.
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
	c.Kill()
	return 0
}

// processGone reports whether pid has exited (a zombie counts as exited: it
// no longer runs, it only waits to be reaped).
func processGone(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] == 'Z' || s[i+2] == 'X'
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
