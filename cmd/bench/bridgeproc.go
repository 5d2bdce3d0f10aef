package main

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/helpdesk-bridge/bridge/config"
)

// bridgePackage is built by import path, so that the bench runs from any
// directory of the module (its test runs in cmd/bench).
const bridgePackage = "github.com/helpdesk-bridge/bridge/cmd/bridge"

// Bench identities; the secrets are random per run and reach the bridge
// through the environment, as in production.
const (
	benchMerchant = "bench"
	benchStore    = "bench-fr"
	benchAgent    = "agent@bench.example"
	benchPrefix   = "/bench" // the fake's path prefix, as a Gorgias domain would be
	benchSidebar  = "bench-sidebar"
)

// configTemplate is one merchant with one store, one Gorgias account and
// one Gorgias sidebar. The worker and widget settings are left to their
// defaults: the bench measures the bridge as it ships. The baselines
// server reads the same file, so that it listens and opens Redis exactly
// as the bridge does.
const configTemplate = `
server:
  listen: "%s"
  shutdown_timeout: 3s
  admin:
    password: ${BENCH_ADMIN_PASSWORD}
redis:
  url: "redis://%s/%d"
merchants:
  - id: ` + benchMerchant + `
    name: Bench
    event_secrets: ["${BENCH_EVENT_SECRET}"]
    api_tokens: ["${BENCH_API_TOKEN}"]
    stores:
      - id: ` + benchStore + `
        name: Bench France
        order_url: "https://backoffice.example/orders/{order_id}"
    helpdesks:
      - id: bench-gorgias
        kind: gorgias
        base_url: "%s"
        email: ` + benchAgent + `
        api_key: ${BENCH_GORGIAS_KEY}
        stores: [` + benchStore + `]
        %s
    sidebars:
      - id: ` + benchSidebar + `
        kind: gorgias
        token: ${BENCH_SIDEBAR_TOKEN}
        stores: [` + benchStore + `]
`

func buildBridge(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "bridge")
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, bridgePackage)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build %s: %w\n%s", bridgePackage, err, out.Bytes())
	}
	return bin, nil
}

func (r *rig) env() map[string]string {
	return map[string]string{
		"BENCH_EVENT_SECRET": r.secret, "BENCH_GORGIAS_KEY": r.apiKey, "BENCH_ADMIN_PASSWORD": r.adminPW,
		"BENCH_SIDEBAR_TOKEN": r.sidebarToken, "BENCH_MIRAKL_KEY": r.miraklKey,
		"BENCH_API_TOKEN": r.apiToken, "BENCH_IMAP_PASSWORD": r.imapPassword(),
		"BENCH_MARKET_KEY": r.marketKey,
	}
}

// renderConfig writes the configuration and checks it with the bridge's own
// loader, which also tells the effective settings (defaults applied).
// marketplaces, when set, is the merchant's marketplaces block (see
// marketplaceTemplate).
func (r *rig) renderConfig(listen, fakeURL, rateLimit, marketplaces string) (string, *config.Config, error) {
	yml := fmt.Sprintf(configTemplate, listen, r.o.redisAddr, benchDB, fakeURL, rateLimit) + marketplaces
	env := r.env()
	cfg, err := config.Parse([]byte(yml), func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		return "", nil, fmt.Errorf("bench configuration: %w", err)
	}
	return yml, cfg, nil
}

// workerConcurrency is the bridge's worker concurrency, which the no-op
// baseline copies.
func (r *rig) workerConcurrency() (int, error) {
	_, cfg, err := r.renderConfig("127.0.0.1:0", "http://127.0.0.1:1", "", "")
	if err != nil {
		return 0, err
	}
	return cfg.Worker.Concurrency, nil
}

// child names a kind of process the bench runs: in messages, and on the
// log lines -v echoes. marketplaces, when set, adds the merchant's
// marketplace accounts to its configuration (the mirroring phases); env,
// variables of its environment beyond the secrets (the e-mail phases'
// trusted certificate).
type child struct {
	what, tag, marketplaces string
	env                     map[string]string
}

var (
	bridgeChild    = child{what: "the bridge", tag: "bridge"}
	baselinesChild = child{what: "the baselines server", tag: "baselines"}
)

// bridgeProc is a running `bridge serve`, or the bench's own baselines
// server, which is run and watched the same way.
type bridgeProc struct {
	what string // "the bridge" or "the baselines server", for messages
	url  string
	cfg  *config.Config
	cmd  *exec.Cmd
	logs *logTail
	done chan struct{} // closed when the process has exited
	err  error         // its exit status, once done is closed
	once sync.Once
}

// startBridge runs the binary on a free loopback port and waits for
// /readyz. A port taken between choosing it and the bridge binding it is
// retried on another.
func (r *rig) startBridge(ctx context.Context, name, fakeURL, rateLimit string) (*bridgeProc, error) {
	return r.startChild(ctx, bridgeChild, name, fakeURL, rateLimit, func(config string) *exec.Cmd {
		return exec.Command(r.bin, "serve", "-config", config)
	})
}

// startChild starts the command that command returns for a configuration
// file and waits for its /readyz, retrying on another port when the one
// chosen was taken meanwhile.
func (r *rig) startChild(ctx context.Context, kind child, name, fakeURL, rateLimit string, command func(config string) *exec.Cmd) (*bridgeProc, error) {
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		b, err := r.startOnce(ctx, kind, name, fakeURL, rateLimit, command)
		if err == nil {
			return b, nil
		}
		lastErr = err
		if !strings.Contains(err.Error(), "address already in use") {
			break
		}
	}
	return nil, lastErr
}

func (r *rig) startOnce(ctx context.Context, kind child, name, fakeURL, rateLimit string, command func(config string) *exec.Cmd) (*bridgeProc, error) {
	addr, err := freeLoopbackAddr()
	if err != nil {
		return nil, err
	}
	yml, cfg, err := r.renderConfig(addr, fakeURL, rateLimit, kind.marketplaces)
	if err != nil {
		return nil, err
	}
	env := r.env()
	maps.Copy(env, kind.env)
	return r.launch(ctx, kind, name, addr, yml, cfg, env, command)
}

// launch writes yml, the configuration cfg was read from, and runs the
// command on it with env's secrets, until its /readyz answers on addr.
func (r *rig) launch(ctx context.Context, kind child, name, addr, yml string, cfg *config.Config, env map[string]string, command func(config string) *exec.Cmd) (*bridgeProc, error) {
	path := filepath.Join(r.dir, name+".yaml")
	if err := os.WriteFile(path, []byte(yml), 0o600); err != nil {
		return nil, err
	}
	b := &bridgeProc{what: kind.what, url: "http://" + addr, cfg: cfg, logs: &logTail{echo: r.o.bridgeLogs, prefix: kind.tag}, done: make(chan struct{})}
	b.cmd = command(path)
	b.cmd.Env = childEnv(env)
	b.cmd.Stdout, b.cmd.Stderr = b.logs, b.logs
	b.cmd.SysProcAttr = childProcAttr()
	if err := b.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", b.what, err)
	}
	go func() {
		b.err = b.cmd.Wait()
		close(b.done)
	}()
	if err := b.waitReady(ctx, 30*time.Second); err != nil {
		b.stop()
		return nil, b.explain(err)
	}
	return b, nil
}

// childEnv is the bench's environment without any BRIDGE_ variable, whose
// overrides (BRIDGE_REDIS_URL, BRIDGE_WORKER_CONCURRENCY...) would change
// what is measured, plus the secrets and a quiet log level.
func childEnv(secrets map[string]string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "BRIDGE_") {
			env = append(env, kv)
		}
	}
	env = append(env, "BRIDGE_LOG_LEVEL=warn")
	for k, v := range secrets {
		env = append(env, k+"="+v)
	}
	return env
}

func freeLoopbackAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := l.Addr().String()
	return addr, l.Close()
}

func (b *bridgeProc) waitReady(ctx context.Context, within time.Duration) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		select {
		case <-b.done:
			return fmt.Errorf("%s exited before it was ready: %v", b.what, b.err)
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, b.url+"/readyz", nil)
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s was not ready within %s", b.what, within)
}

// exited reports whether the process has ended.
func (b *bridgeProc) exited() bool {
	select {
	case <-b.done:
		return true
	default:
		return false
	}
}

// stop ends the process gracefully, and kills it if it has not stopped
// after its own shutdown timeout and some margin. It may be called again.
func (b *bridgeProc) stop() {
	b.once.Do(func() {
		if b.exited() {
			return
		}
		// SIGTERM is the bridge's graceful stop; where it cannot be sent
		// (Windows) the process is killed.
		if err := b.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			_ = b.cmd.Process.Kill()
		}
		select {
		case <-b.done:
		case <-time.After(b.cfg.Server.ShutdownTimeout + 5*time.Second):
			_ = b.cmd.Process.Kill()
			<-b.done
		}
	})
}

// explain adds the bridge's last log lines to err.
func (b *bridgeProc) explain(err error) error {
	if errors.Is(err, context.Canceled) {
		return err
	}
	if tail := b.logs.tail(); tail != "" {
		return fmt.Errorf("%w\n%s's last log lines:\n%s", err, b.what, tail)
	}
	return err
}

// logTail keeps the last lines a child wrote and counts warnings and
// errors, without holding a long run's whole log.
type logTail struct {
	echo    io.Writer // also gets every line, for -v; nil for none
	prefix  string    // names the child on echoed lines
	mu      sync.Mutex
	partial []byte
	lines   []string
	warn    int
	errs    int
}

const tailLines = 20

func (l *logTail) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		line := string(l.partial[:i])
		l.partial = l.partial[i+1:]
		switch {
		case strings.Contains(line, `"level":"warn"`):
			l.warn++
		case strings.Contains(line, `"level":"error"`), strings.Contains(line, `"level":"fatal"`):
			l.errs++
		}
		if l.echo != nil {
			fmt.Fprintf(l.echo, "%s: %s\n", cmp.Or(l.prefix, "bridge"), line)
		}
		l.lines = append(l.lines, line)
		if len(l.lines) > tailLines {
			l.lines = l.lines[len(l.lines)-tailLines:]
		}
	}
	// A line without an end is kept only up to a bound.
	if len(l.partial) > 64<<10 {
		l.partial = l.partial[len(l.partial)-(64<<10):]
	}
	return len(p), nil
}

func (l *logTail) tail() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.TrimSpace(strings.Join(l.lines, "\n") + "\n" + string(l.partial))
}

func (l *logTail) warnings() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.warn
}

func (l *logTail) errors() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.errs
}
