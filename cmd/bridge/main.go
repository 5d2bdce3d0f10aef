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
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/helpdesk-bridge/bridge/config"
	"github.com/helpdesk-bridge/bridge/widgets"
)

const usage = `usage: bridge [command] [flags]

commands:
  serve           HTTP API, Asynq workers and scheduler in one process (the default)
  api             the HTTP API only
  worker          the Asynq workers and scheduler only (with /healthz, /readyz, /metrics)
  demo            run on an embedded Redis with fake helpdesks and a seeded configuration
  config check    validate a configuration file and print every problem
  orders export   write a merchant's orders as CSV on stdout
  helpdesk-setup  print the trigger and rule conditions each helpdesk account needs
  healthcheck     exit 0 when /healthz answers (for container health checks)
  zendesk-app     write the Zendesk sidebar app, ready to upload
  gorgias-widget  print the default Gorgias widget template (POST /api/widgets body)
  help            print this help

Without a command, bridge serves: "bridge -config FILE" is "bridge serve -config FILE".
Run "bridge COMMAND -h" for the usage of one command.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	} else if len(args) > 0 && isHelp(args[0]) {
		// Before serve takes every flag as its own.
		cmd, args = "help", args[1:]
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	switch cmd {
	case "serve", "api", "worker":
		return runService(ctx, Mode(cmd), args, stdout, stderr)
	case "demo":
		return runDemo(ctx, args, stdout, stderr)
	case "config":
		return runConfig(args, stdout, stderr)
	case "orders":
		return runOrders(ctx, args, stdout, stderr)
	case "helpdesk-setup":
		return runHelpdeskSetup(args, stdout, stderr)
	case "healthcheck":
		return runHealthcheck(ctx, args, stdout, stderr)
	case "zendesk-app":
		return runZendeskApp(args, stdout, stderr)
	case "gorgias-widget":
		return runGorgiasWidget(args, stdout, stderr)
	case "help":
		if len(args) > 0 && !isHelp(args[0]) {
			// bridge help COMMAND: that command's usage.
			return run(append(slices.Clone(args), "-h"), stdout, stderr)
		}
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "bridge: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
}

// isHelp tells whether an argument asks for help, in any of the spellings
// people type.
func isHelp(arg string) bool {
	switch arg {
	case "-h", "-help", "--help", "--h":
		return true
	}
	return false
}

// command is one command's flags and usage.
type command struct {
	*flag.FlagSet
	synopsis, about string
}

// newCommand returns the flags of "bridge <name>"; synopsis follows the
// name in the usage line, about says what the command does.
func newCommand(name, synopsis, about string, stderr io.Writer) *command {
	c := &command{FlagSet: flag.NewFlagSet(name, flag.ContinueOnError), synopsis: synopsis, about: about}
	c.SetOutput(stderr)
	c.Usage = func() { c.printUsage(c.Output()) }
	return c
}

func (c *command) printUsage(w io.Writer) {
	fmt.Fprintf(w, "usage: bridge %s %s\n\n%s\n", c.Name(), c.synopsis, c.about)
	has := false
	c.VisitAll(func(*flag.Flag) { has = true })
	if has {
		fmt.Fprintln(w, "\nflags:")
		out := c.Output()
		c.SetOutput(w)
		c.PrintDefaults()
		c.SetOutput(out)
	}
}

// parse reads the command's flags. done is true when the command must not
// run, with the exit code: 0 after printing the usage that was asked for
// (on stdout), 2 after a mistake (the flag package explains it).
func (c *command) parse(args []string, stdout io.Writer) (code int, done bool) {
	for _, a := range args {
		if a == "--" {
			break
		}
		if isHelp(a) {
			c.printUsage(stdout)
			return 0, true
		}
	}
	if err := c.Parse(args); err != nil {
		return 2, true
	}
	return 0, false
}

func runService(ctx context.Context, mode Mode, args []string, stdout, stderr io.Writer) int {
	about := map[Mode]string{
		ModeServe:  "Serves the HTTP API and runs the Asynq workers and scheduler in one process.",
		ModeAPI:    "Serves the HTTP API only; run workers apart with bridge worker.",
		ModeWorker: "Runs the Asynq workers and scheduler only; it still serves /healthz, /readyz and /metrics.",
	}[mode]
	fs := newCommand(string(mode), "[-config FILE]", about, stderr)
	path := fs.String("config", envOr("BRIDGE_CONFIG", "bridge.yaml"), "configuration file ($BRIDGE_CONFIG)")
	if code, done := fs.parse(args, stdout); done {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "bridge %s: unexpected argument %q\n", mode, fs.Arg(0))
		fs.Usage()
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

const configUsage = `usage: bridge config check FILE

subcommands:
  check FILE  validate a configuration file and print every problem, with its
              YAML path and line; exit 1 if there is any (-config FILE works
              too)
`

// runConfig runs "bridge config SUBCOMMAND".
func runConfig(args []string, stdout, stderr io.Writer) int {
	switch {
	case len(args) == 0:
		fmt.Fprint(stderr, configUsage)
		return 2
	case isHelp(args[0]) || args[0] == "help":
		fmt.Fprint(stdout, configUsage)
		return 0
	case args[0] == "check":
		return runConfigCheck(args[1:], stdout, stderr)
	default:
		fmt.Fprintf(stderr, "bridge config: unknown subcommand %q\n\n%s", args[0], configUsage)
		return 2
	}
}

func runConfigCheck(args []string, stdout, stderr io.Writer) int {
	fs := newCommand("config check", "FILE | -config FILE",
		"Validates a configuration file as the service would at start-up, with the\nenvironment's ${VAR} values, and prints every problem with its YAML path\nand line. Exits 0 when the file is good, 1 when it has problems.", stderr)
	// -config, as every other command takes the file, or the file alone.
	path := fs.String("config", "", "the configuration file (or give it as the argument)")
	if code, done := fs.parse(args, stdout); done {
		return code
	}
	file := *path
	switch {
	case file == "" && fs.NArg() == 1:
		file = fs.Arg(0)
	case file == "" || fs.NArg() != 0:
		fs.Usage()
		return 2
	}
	problems := config.Check(file, os.LookupEnv)
	if len(problems) == 0 {
		fmt.Fprintf(stdout, "%s: ok\n", file)
		fmt.Fprintf(stdout, "The trigger and rule conditions each helpdesk account needs: bridge helpdesk-setup -config %s\n", file)
		return 0
	}
	for _, p := range problems {
		fmt.Fprintln(stdout, p.String())
	}
	fmt.Fprintf(stdout, "%d problem(s) in %s\n", len(problems), file)
	return 1
}

// newLogger builds the one root logger: JSON lines, level from
// BRIDGE_LOG_LEVEL (info by default). A level that is no level is logged
// as a warning here; loading the configuration refuses it.
func newLogger(w io.Writer) zerolog.Logger {
	level, err := config.LogLevel(os.LookupEnv)
	log := zerolog.New(w).Level(level).With().Timestamp().Str("service", "bridge").Logger()
	if err != nil {
		log.Warn().Msg(err.Error() + "; logging at info")
	}
	return log
}

func envOr(key, def string) string {
	if v, ok := os.LookupEnv(key); ok && v != "" {
		return v
	}
	return def
}

// runHealthcheck lets a container image without curl check the service:
// it GETs $BRIDGE_HEALTHCHECK_URL (http://127.0.0.1:8080/healthz).
func runHealthcheck(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newCommand("healthcheck", "",
		"GETs $BRIDGE_HEALTHCHECK_URL (default http://127.0.0.1:8080/healthz) and exits 0\nwhen it answers 200 within 3 s, 1 otherwise: a health check for container\nimages without curl.", stderr)
	if code, done := fs.parse(args, stdout); done {
		return code
	}
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
	fs := newCommand("zendesk-app", "-url https://bridge.example.com [-o bridge-zendesk-app.zip]",
		"Writes the Zendesk sidebar app for the bridge at -url, ready to upload as a\nprivate app (Zendesk only sends the token to the domain the app names).", stderr)
	url := fs.String("url", "", "the bridge's public https URL, as Zendesk's proxy will call it (required)")
	out := fs.String("o", "bridge-zendesk-app.zip", "the zip file to write")
	if code, done := fs.parse(args, stdout); done {
		return code
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
func runGorgiasWidget(args []string, stdout, stderr io.Writer) int {
	fs := newCommand("gorgias-widget", "",
		"Prints the Gorgias widget template of the default layout, the body of\nGorgias's POST /api/widgets. A sidebar with its own layout gets its template\nfrom GET /v1/widgets/gorgias/template.", stderr)
	if code, done := fs.parse(args, stdout); done {
		return code
	}
	v := widgets.NewView("", config.Sidebar{Kind: config.SidebarGorgias, Language: "en"})
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(widgets.GorgiasTemplate(v)); err != nil {
		return 1
	}
	return 0
}
