package webhook

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tonewall/tonewall/controller/outbox"
	"github.com/tonewall/tonewall/controller/outbox/outboxtest"
)

// Environment of the child controller started by TestKill9.
const (
	childEnv       = "TONEWALL_WEBHOOK_TEST_CHILD"
	childDirEnv    = "TONEWALL_WEBHOOK_TEST_DIR"
	childURLEnv    = "TONEWALL_WEBHOOK_TEST_URL"
	childSecretEnv = "TONEWALL_WEBHOOK_TEST_SECRET"
	childCountEnv  = "TONEWALL_WEBHOOK_TEST_COUNT"
)

// killAckWait is the AckWait of the outbox in TestKill9: messages the killed
// controller held come back after it.
const killAckWait = 3 * time.Second

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(runChild())
	}
	os.Exit(m.Run())
}

// runChild is a controller that opens the embedded outbox, starts a Sender,
// publishes N events, prints "published" and waits to be killed.
func runChild() int {
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	n, err := strconv.Atoi(os.Getenv(childCountEnv))
	if err != nil {
		return fail(err)
	}
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ob, err := outbox.Open(ctx, outbox.Options{DataDir: os.Getenv(childDirEnv), AckWait: killAckWait, Logger: log})
	if err != nil {
		return fail(err)
	}
	s, err := New(ctx, ob, Options{
		Endpoints:         []Endpoint{{ID: "crm", URL: os.Getenv(childURLEnv)}},
		Secrets:           StaticSecrets{"crm": {os.Getenv(childSecretEnv)}},
		AllowLoopbackHTTP: true,
		Schedule:          fastSchedule(30, 300*time.Millisecond),
		Workers:           4,
		Timeout:           time.Second,
		Logger:            log,
	})
	if err != nil {
		return fail(err)
	}
	if err := s.Start(ctx); err != nil {
		return fail(err)
	}
	for i := range n {
		if err := s.Publish(ctx, testEvent("kill", i)); err != nil {
			return fail(err)
		}
	}
	fmt.Println("published")
	select {} // until SIGKILL
}

// TestKill9 kills a controller with SIGKILL while its webhooks wait for
// retries (the CRM is down), restarts on the same data directory, and checks
// that every webhook arrives.
func TestKill9(t *testing.T) {
	const n = 50
	secret := newSecret(t)
	rc := newReceiver(t, secret)
	rc.setRespond(func(http.ResponseWriter, *http.Request, int) int { return http.StatusServiceUnavailable })
	dir := t.TempDir()

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(),
		childEnv+"=1",
		childDirEnv+"="+dir,
		childURLEnv+"="+rc.url("/hook"),
		childSecretEnv+"="+secret,
		childCountEnv+"="+strconv.Itoa(n),
	)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })

	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if line := strings.TrimSpace(sc.Text()); line != "" {
				lines <- line
				return
			}
		}
		close(lines)
	}()
	select {
	case line := <-lines:
		if line != "published" {
			t.Fatalf("child said %q", line)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("child did not publish within 60s")
	}
	// Let the child fail a few attempts so deliveries wait on delayed retries.
	waitFor(t, 20*time.Second, "failed attempts in the child", func() bool {
		hits, _, _ := rc.snapshot()
		return len(hits) >= n
	})
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child did not die of SIGKILL: %v", err)
	}
	hits, ok, _ := rc.snapshot()
	if len(ok) != 0 {
		t.Fatalf("the CRM was down, yet %d webhooks were accepted", len(ok))
	}
	t.Logf("child made %d attempts before SIGKILL", len(hits))

	// The CRM comes back; a new controller opens the same data directory.
	rc.setRespond(func(http.ResponseWriter, *http.Request, int) int { return http.StatusOK })
	restart := time.Now()
	ob := outboxtest.Open(t, outbox.Options{DataDir: dir, AckWait: killAckWait})
	s := newSender(t, ob, Options{
		Endpoints: []Endpoint{{ID: "crm", URL: rc.url("/hook")}},
		Secrets:   StaticSecrets{"crm": {secret}},
		Schedule:  fastSchedule(30, 300*time.Millisecond),
		Timeout:   time.Second,
	})
	// Messages the child held unacknowledged come back after AckWait.
	waitFor(t, killAckWait+30*time.Second, "all webhooks after restart", func() bool { return rc.delivered() == n })
	t.Logf("all %d delivered %s after the restart", n, time.Since(restart).Round(time.Millisecond))
	_, ok, bad := rc.snapshot()
	if bad != 0 {
		t.Fatalf("%d requests failed verification", bad)
	}
	for i := range n {
		id := testEvent("kill", i).ID
		if ok[id] < 1 {
			t.Errorf("%s not delivered", id)
		}
		waitState(t, s, id, "crm", StateDelivered, 10*time.Second)
	}
}
