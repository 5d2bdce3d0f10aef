// Command bridge is the helpdesk integration bridge: one binary that serves
// the HTTP API, runs the Asynq workers and scheduler, checks configuration
// files, and runs a self-contained demo. It is the only composition root:
// it loads the configuration, builds the logger, the Redis connection, the
// connectors and the features, then the router and the workers.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/helpdesk-bridge/bridge/config"
	"github.com/helpdesk-bridge/bridge/widgets"
)

const usage = `usage: bridge <command> [flags]

commands:
  serve         HTTP API, Asynq workers and scheduler in one process (default)
  api           the HTTP API only
  worker        the Asynq workers and scheduler only (with /healthz, /readyz, /metrics)
  demo          run on an embedded Redis with fake helpdesks and seeded configuration
  config check  validate a configuration file and print every problem
  healthcheck   exit 0 when /healthz answers (for container health checks)
  zendesk-app   write the Zendesk sidebar app, ready to upload:
                bridge zendesk-app -url https://bridge.example.com -o bridge-zendesk-app.zip
  gorgias-widget  print the default Gorgias widget template (POST /api/widgets body)

flags of serve, api and worker:
  -config FILE  configuration file (default: $BRIDGE_CONFIG, else bridge.yaml)
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	switch cmd {
	case "serve", "api", "worker":
		return runService(ctx, Mode(cmd), args, stderr)
	case "demo":
		return runDemo(ctx, args, stdout, stderr)
	case "config":
		if len(args) == 0 || args[0] != "check" {
			fmt.Fprint(stderr, usage)
			return 2
		}
		return runConfigCheck(args[1:], stdout, stderr)
	case "healthcheck":
		return runHealthcheck(ctx, stderr)
	case "zendesk-app":
		return runZendeskApp(args, stdout, stderr)
	case "gorgias-widget":
		return runGorgiasWidget(stdout)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "bridge: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
}

func runService(ctx context.Context, mode Mode, args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet(string(mode), flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", envOr("BRIDGE_CONFIG", "bridge.yaml"), "configuration file")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	log := newLogger(os.Stdout)
	cfg, err := config.Load(*path, os.LookupEnv)
	if err != nil {
		fmt.Fprintf(stderr, "bridge: configuration %s:\n%v\n", *path, err)
		return 1
	}
	app, err := Build(ctx, cfg, mode, log, Overrides{})
	if err != nil {
		log.Error().Err(err).Msg("start-up failed")
		return 1
	}
	if err := app.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
		log.Error().Err(err).Msg("stopped with an error")
		return 1
	}
	return 0
}

func runConfigCheck(args []string, stdout, stderr io.Writer) int {
	if len(args) != 1 {
		fmt.Fprintln(stderr, "usage: bridge config check FILE")
		return 2
	}
	problems := config.Check(args[0], os.LookupEnv)
	if len(problems) == 0 {
		fmt.Fprintf(stdout, "%s: ok\n", args[0])
		return 0
	}
	for _, p := range problems {
		fmt.Fprintln(stdout, p.String())
	}
	fmt.Fprintf(stdout, "%d problem(s) in %s\n", len(problems), args[0])
	return 1
}

// newLogger builds the one root logger: JSON lines, level from
// BRIDGE_LOG_LEVEL (info by default).
func newLogger(w io.Writer) zerolog.Logger {
	level, err := zerolog.ParseLevel(os.Getenv("BRIDGE_LOG_LEVEL"))
	if err != nil || os.Getenv("BRIDGE_LOG_LEVEL") == "" {
		level = zerolog.InfoLevel
	}
	return zerolog.New(w).Level(level).With().Timestamp().Str("service", "bridge").Logger()
}

func envOr(key, def string) string {
	if v, ok := os.LookupEnv(key); ok && v != "" {
		return v
	}
	return def
}

// runHealthcheck lets a container image without curl check the service:
// it GETs $BRIDGE_HEALTHCHECK_URL (http://127.0.0.1:8080/healthz).
func runHealthcheck(ctx context.Context, stderr io.Writer) int {
	url := envOr("BRIDGE_HEALTHCHECK_URL", "http://127.0.0.1:8080/healthz")
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		fmt.Fprintln(stderr, "healthcheck:", err)
		return 1
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintln(stderr, "healthcheck:", err)
		return 1
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintln(stderr, "healthcheck: status", resp.StatusCode)
		return 1
	}
	return 0
}

// runZendeskApp writes the Zendesk sidebar app's zip for one bridge URL:
// Zendesk only lets a secure setting reach domains the manifest names.
func runZendeskApp(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("zendesk-app", flag.ContinueOnError)
	fs.SetOutput(stderr)
	url := fs.String("url", "", "the bridge's public https URL, as Zendesk's proxy will call it")
	out := fs.String("o", "bridge-zendesk-app.zip", "the zip file to write")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *url == "" {
		fmt.Fprintln(stderr, "bridge zendesk-app: -url is required, e.g. -url https://bridge.example.com")
		return 2
	}
	var buf bytes.Buffer
	if err := widgets.ZendeskAppZip(&buf, *url); err != nil {
		fmt.Fprintln(stderr, "bridge zendesk-app:", err)
		return 1
	}
	if err := os.WriteFile(*out, buf.Bytes(), 0o644); err != nil {
		fmt.Fprintln(stderr, "bridge zendesk-app:", err)
		return 1
	}
	fmt.Fprintf(stdout, "wrote %s: upload it in Zendesk Admin Center > Apps and integrations > Zendesk Support apps > Upload private app\n", *out)
	return 0
}

// runGorgiasWidget prints the template of the default layout. A sidebar
// with its own layout gets its template from GET /v1/widgets/gorgias/template.
func runGorgiasWidget(stdout io.Writer) int {
	v := widgets.NewView("", config.Sidebar{Kind: config.SidebarGorgias, Language: "en"})
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(widgets.GorgiasTemplate(v)); err != nil {
		return 1
	}
	return 0
}
