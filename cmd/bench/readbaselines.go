package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/rs/zerolog"

	"github.com/helpdesk-bridge/bridge/bridge/httpapi"
	"github.com/helpdesk-bridge/bridge/bridge/rdb"
	"github.com/helpdesk-bridge/bridge/bridge/telemetry"
	"github.com/helpdesk-bridge/bridge/config"
)

// serveBaselinesFlag, first on the command line, turns the bench binary
// into the baselines server of the widget phase. It is left out of the
// usage: only the bench itself starts it.
const serveBaselinesFlag = "-serve-baselines"

// The baselines server's routes and the key its Redis route reads.
const (
	constRoute   = "/baseline/const"
	getRoute     = "/baseline/get"
	get2kKey     = "bench:baseline:2k"
	get2kSize    = 2048
	constPayload = `{"status":"ok","baseline":"const"}`
	// getDocRoute reads getDocKey, which the ingest phase sets to a value
	// the size of an ingested customer's stored document.
	getDocRoute = "/baseline/get-doc"
	getDocKey   = "bench:baseline:doc"
	// getServedRoute reads getServedKey, which the ingest phase sets to a
	// value the size of the widget the bridge answers for such a customer.
	getServedRoute = "/baseline/get-served"
	getServedKey   = "bench:baseline:served"
)

// get2kValue is the JSON document the bench SETs under get2kKey: an
// object of exactly get2kSize bytes, so that the route answers valid JSON
// of the size the issue names. 2048 bytes is also as much as net/http
// buffers before it falls back to chunked encoding: this answer goes out
// with a Content-Length in one write, which a larger body written by
// c.Data (no Content-Length) would not.
func get2kValue() []byte {
	head, tail := `{"baseline":"get2k","padding":"`, `"}`
	return []byte(head + strings.Repeat("x", get2kSize-len(head)-len(tail)) + tail)
}

// startBaselines runs this very binary as the baselines server on the
// bench's configuration. Under `go test` the binary is the test binary,
// whose TestMain hands serveBaselinesFlag to run.
func (r *rig) startBaselines(ctx context.Context) (*bridgeProc, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find the bench binary to run the baselines server: %w", err)
	}
	// The baselines serve no alerts: the helpdesk URL is never called.
	return r.startChild(ctx, baselinesChild, "baselines", "http://127.0.0.1:1", "", func(config string) *exec.Cmd {
		return exec.Command(self, serveBaselinesFlag, "-config", config)
	})
}

// serveBaselines is the baselines server: the bridge's HTTP side with the
// two routes the widget is compared with instead of the bridge's own. It
// is built as cmd/bridge builds its HTTP side (configuration loaded the
// same way, Redis opened by rdb.Open, the same engine and middleware, the
// same logger and http.Server settings) so that the ratios measure the
// widget's handler and nothing else.
func serveBaselines(ctx context.Context, args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench "+serveBaselinesFlag, flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "the bench's configuration file")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg, err := config.Load(*path, os.LookupEnv)
	if err != nil {
		fmt.Fprintf(stderr, "baselines: configuration %s:\n%v\n", *path, err)
		return 1
	}
	log := childLogger(os.Stdout)
	if err := runBaselines(ctx, cfg, log); err != nil && !errors.Is(err, context.Canceled) {
		log.Error().Err(err).Msg("baselines server stopped with an error")
		return 1
	}
	return 0
}

// childLogger is cmd/bridge's root logger: JSON lines on stdout, level
// from BRIDGE_LOG_LEVEL, info by default. The bench sets warn for both
// children, so neither writes an access log line per request.
func childLogger(w io.Writer) zerolog.Logger {
	level, err := zerolog.ParseLevel(os.Getenv("BRIDGE_LOG_LEVEL"))
	if err != nil || os.Getenv("BRIDGE_LOG_LEVEL") == "" {
		level = zerolog.InfoLevel
	}
	return zerolog.New(w).Level(level).With().Timestamp().Str("service", "bench-baselines").Logger()
}

func runBaselines(ctx context.Context, cfg *config.Config, log zerolog.Logger) error {
	conn, err := rdb.Open(ctx, cfg.Redis, log)
	if err != nil {
		return err
	}
	defer conn.Close()
	e := httpapi.NewEngine(log, telemetry.New().GinMiddleware())
	httpapi.Health(e, conn)
	constBody := []byte(constPayload)
	e.GET(constRoute, func(c *gin.Context) {
		c.Data(http.StatusOK, "application/json", constBody)
	})
	e.GET(getRoute, func(c *gin.Context) {
		v, err := conn.Client.Get(c.Request.Context(), get2kKey).Bytes()
		if err != nil {
			httpapi.Fail(c, fmt.Errorf("baselines: get %s: %w", get2kKey, err))
			return
		}
		c.Data(http.StatusOK, "application/json", v)
	})

	for route, key := range map[string]string{getDocRoute: getDocKey, getServedRoute: getServedKey} {
		e.GET(route, func(c *gin.Context) {
			v, err := conn.Client.Get(c.Request.Context(), key).Bytes()
			if err != nil {
				httpapi.Fail(c, fmt.Errorf("baselines: get %s: %w", key, err))
				return
			}
			c.Data(http.StatusOK, "application/json", v)
		})
	}

	l, err := net.Listen("tcp", cfg.Server.Listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.Server.Listen, err)
	}
	// cmd/bridge's server settings: its idle timeout (ReadTimeout, since
	// IdleTimeout is unset) decides how long kept-alive connections last.
	srv := &http.Server{Handler: e, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 60 * time.Second}
	errc := make(chan error, 1)
	go func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- err
		}
	}()
	select {
	case <-ctx.Done():
	case err := <-errc:
		return err
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.Server.ShutdownTimeout)
	defer cancel()
	return srv.Shutdown(shutdownCtx)
}
