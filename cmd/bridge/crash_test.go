package main

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/helpdesk-bridge/bridge/connectors/fault"
)

// childEnv, when set, makes the test binary run the bridge itself with
// these arguments (space-separated), so that a test can SIGKILL a real
// bridge process.
const childEnv = "BRIDGE_TEST_CHILD_ARGS"

func TestMain(m *testing.M) {
	if args := os.Getenv(childEnv); args != "" {
		os.Exit(run(strings.Fields(args), os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// startChild runs `bridge <args>` as a separate process of the test binary.
func (h *harness) startChild(args ...string) *exec.Cmd {
	h.t.Helper()
	path := filepath.Join(h.t.TempDir(), "bridge.yaml")
	yml := strings.Replace(h.yml, "server:\n", "server:\n  listen: \"127.0.0.1:0\"\n", 1)
	if err := os.WriteFile(path, []byte(yml), 0o600); err != nil {
		h.t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+strings.Join(append(args, "-config", path), " "))
	for k, v := range h.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stdout, cmd.Stderr = h.logs, h.logs
	if err := cmd.Start(); err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd
}

// A worker killed after the helpdesk created the ticket but before the
// task was acknowledged: asynq hands the task to another worker once the
// dead one's lease has expired, and that worker finds the ticket by its
// external id instead of creating a second one.
func TestWorkerKilledBetweenCreateAndAckLeavesOneTicket(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for asynq's lease to expire (about a minute)")
	}
	t.Parallel()
	h := newHarness(t, harnessOptions{mode: ModeAPI, db: 8, clientTimeout: 2 * time.Minute})
	for _, inj := range []*fault.Injector{h.gorg.Faults(), h.zend.Faults()} {
		inj.Push(fault.Fault{After: true, Hang: 2 * time.Minute, Match: func(r *http.Request) bool {
			return r.Method == http.MethodPost && (strings.HasSuffix(r.URL.Path, "/api/tickets") || strings.HasSuffix(r.URL.Path, "/api/v2/tickets"))
		}})
	}
	worker := h.startChild("worker")
	if code, res := h.send(event("evt-crash", "order.action_required", actionRequired("ORD-C", "acme-fr"))); code != 202 {
		t.Fatalf("event: %d %v", code, res)
	}
	eventually(t, 30*time.Second, "both helpdesks to create the ticket", func() bool {
		return len(h.gorgiasTickets()) == 1 && len(h.zendeskTickets()) == 1
	})
	if err := worker.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = worker.Wait()
	if n := h.taskKeys(); n != 2 {
		t.Fatalf("asynq holds %d alert tasks after the kill, want the 2 unacknowledged ones", n)
	}
	// asynq's recoverer takes a task back 30 s after its lease (30 s)
	// expired, checking when a worker starts and then every minute: start
	// the new worker once that point has passed.
	time.Sleep(61 * time.Second)
	h.startChild("worker")
	h.settle() // the killed worker's tasks count as active until recovered and done
	if g, z := len(h.gorgiasTickets()), len(h.zendeskTickets()); g != 1 || z != 1 {
		t.Errorf("after the crash: gorgias %d tickets, zendesk %d, want 1 each", g, z)
	}
}
