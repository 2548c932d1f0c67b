// Package vaulttest runs a real HashiCorp Vault dev server for tests.
//
// The server binary is built by .ci/vault.sh and cached under
// $HOME/.cache/tonewall/vault-<hash>/vault, where <hash> is the first 16
// hex digits of the SHA-256 of integration/tools/vault/go.sum. Tests never
// build it: they use TONEWALL_VAULT_BIN if set, else that cached path. If
// the binary is missing, Start fails the test when the CI environment
// variable is set and skips it otherwise.
//
// A dev server keeps everything in memory. [Server.Restart] brings it
// back on the same address with the same root token but with no secrets,
// policies or roles: tests seed it again after a restart. To a client
// that is an outage followed by a server whose contents changed, which
// is what outage tests need; seeding with the same role id and secret id
// (see [AppRole]) lets AppRole clients log in again with the credentials
// they already hold.
package vaulttest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
)

// BinEnv names the environment variable that overrides the binary's path.
const BinEnv = "TONEWALL_VAULT_BIN"

// startTimeout bounds how long a dev server may take to become healthy.
const startTimeout = 60 * time.Second

// Server is a running Vault dev server on a loopback port.
type Server struct {
	// Addr is the server's URL, such as "http://127.0.0.1:41234".
	Addr string
	// RootToken is the dev server's root token.
	RootToken string

	bin    string
	listen string // host:port
	home   string

	mu   sync.Mutex
	cmd  *exec.Cmd
	out  *lockedBuffer
	done chan struct{} // closed when cmd exits
}

// Start runs a dev server and stops it when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("vaulttest: %v (build it with: bash .ci/vault.sh)", err)
		}
		t.Skipf("vaulttest: %v; run `bash .ci/vault.sh` to build Vault (this test fails instead of skipping when CI is set)", err)
	}
	s := &Server{bin: bin, RootToken: "root-" + randomHex(t, 12), home: t.TempDir()}
	// The dev server also listens on the next port up for cluster
	// traffic, so pick a port whose neighbour is free too.
	port := freePortPair(t)
	s.listen = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	s.Addr = "http://" + s.listen
	t.Cleanup(func() {
		s.stop()
		if t.Failed() {
			t.Logf("vault dev server output:\n%s", s.output())
		}
	})
	s.start(t)
	return s
}

// Binary returns the path of the Vault binary tests use, or an error
// saying where it was looked for.
func Binary() (string, error) {
	if p := os.Getenv(BinEnv); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%s=%s: %w", BinEnv, p, err)
		}
		return p, nil
	}
	p, err := CachedBinary()
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("no Vault binary at %s", p)
	}
	return p, nil
}

// CachedBinary returns the path .ci/vault.sh builds Vault to on this
// machine, computed the same way: from the hash of the nested module's
// go.sum.
func CachedBinary() (string, error) {
	sum, err := goSumPath()
	if err != nil {
		return "", err
	}
	b, err := os.ReadFile(sum)
	if err != nil {
		return "", err
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", err
	}
	h := sha256.Sum256(b)
	return filepath.Join(home, ".cache", "tonewall", "vault-"+hex.EncodeToString(h[:])[:16], "vault"), nil
}

// goSumPath finds integration/tools/vault/go.sum: next to this package's
// source, or above the working directory.
func goSumPath() (string, error) {
	rel := filepath.Join("tools", "vault", "go.sum")
	if _, file, _, ok := runtime.Caller(0); ok {
		p := filepath.Join(filepath.Dir(file), "..", rel)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, "integration", rel)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("cannot find integration/tools/vault/go.sum")
		}
		dir = parent
	}
}

// Client returns a client authenticated with the root token.
func (s *Server) Client(t testing.TB) *api.Client {
	t.Helper()
	return s.ClientWithToken(t, s.RootToken)
}

// ClientWithToken returns a client for the server using token.
func (s *Server) ClientWithToken(t testing.TB, token string) *api.Client {
	t.Helper()
	conf := api.DefaultConfig()
	conf.Address = s.Addr
	conf.MaxRetries = 0
	conf.Timeout = 10 * time.Second
	c, err := api.NewClient(conf)
	if err != nil {
		t.Fatalf("vaulttest: client: %v", err)
	}
	c.SetToken(token)
	return c
}

// Stop stops the server; Restart starts it again. Use them to simulate
// an outage.
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	s.stop()
	// Wait until the port refuses connections, so the outage is real.
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", s.listen, 200*time.Millisecond)
		if err != nil {
			return
		}
		c.Close()
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("vaulttest: %s still accepts connections after stop", s.listen)
}

// Restart starts a stopped server again on the same address with the
// same root token. It holds nothing: the test seeds it again.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.stop()
	s.start(t)
}

// start runs the server and waits until it is healthy.
func (s *Server) start(t testing.TB) {
	t.Helper()
	cmd := exec.Command(s.bin, "server", "-dev", "-dev-listen-address="+s.listen, "-dev-no-store-token")
	// The root token goes in the environment, not the arguments, so it
	// does not show in process listings. HOME is private so nothing is
	// written to the user's home directory.
	cmd.Env = []string{
		"HOME=" + s.home,
		"PATH=" + os.Getenv("PATH"),
		"VAULT_DEV_ROOT_TOKEN_ID=" + s.RootToken,
		"VAULT_LOG_LEVEL=warn",
		"VAULT_DISABLE_MLOCK=true",
	}
	cmd.Dir = s.home
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("vaulttest: starting %s: %v", s.bin, err)
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		close(done)
	}()
	s.mu.Lock()
	s.cmd, s.out, s.done = cmd, out, done
	s.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	if err := s.waitHealthy(ctx, done); err != nil {
		s.stop()
		t.Fatalf("vaulttest: dev server on %s: %v\n%s", s.listen, err, out.String())
	}
}

// waitHealthy polls /v1/sys/health until the server is initialised,
// unsealed and active.
func (s *Server) waitHealthy(ctx context.Context, exited <-chan struct{}) error {
	client := &http.Client{Timeout: time.Second}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.Addr+"/v1/sys/health", nil)
		if err != nil {
			return err
		}
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not healthy: %w", ctx.Err())
		case <-exited:
			return errors.New("exited before becoming healthy")
		case <-tick.C:
		}
	}
}

// stop ends the server process, politely first.
func (s *Server) stop() {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
}

func (s *Server) output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.out == nil {
		return ""
	}
	return s.out.String()
}

// freePortPair returns a loopback port p such that p and p+1 were free.
func freePortPair(t testing.TB) int {
	t.Helper()
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("vaulttest: %v", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l2, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port+1)))
		l.Close()
		if err == nil {
			l2.Close()
			return port
		}
	}
	t.Fatal("vaulttest: no free pair of loopback ports")
	return 0
}

func randomHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("vaulttest: %v", err)
	}
	return hex.EncodeToString(b)
}

// lockedBuffer collects the server's output from two pipes at once.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
