package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/helpdesk-bridge/bridge/config"
	"github.com/helpdesk-bridge/bridge/connectors/gorgias/gorgiasfake"
	"github.com/helpdesk-bridge/bridge/connectors/zendesk/zendeskfake"
)

// The demo's credentials are public on purpose: they only open the fakes
// the demo itself runs on loopback.
const (
	demoSecret   = "demo-event-secret"
	demoAdmin    = "demo-admin-password"
	demoAgent    = "agent@demo.example"
	demoGorgKey  = "demo-gorgias-key"
	demoZendTok  = "demo-zendesk-token"
	demoMerchant = "demo"
)

// demoConfig is the seeded configuration: one merchant, two stores, a
// Gorgias account (English) and a Zendesk account (French).
const demoConfig = `
server:
  listen: "%s"
  admin:
    username: admin
    password: ${DEMO_ADMIN_PASSWORD}
merchants:
  - id: demo
    name: Demo Shop
    event_secrets: ["${DEMO_EVENT_SECRET}"]
    stores:
      - id: demo-fr
        name: Demo Shop France
        order_url: "https://backoffice.example/orders/{order_id}"
      - id: demo-de
        name: Demo Shop Germany
    helpdesks:
      - id: demo-gorgias
        kind: gorgias
        base_url: "%s"
        email: ` + demoAgent + `
        api_key: ${DEMO_GORGIAS_KEY}
        stores: [demo-fr, demo-de]
        tag_prefix: "bigblue-"
        language: en
      - id: demo-zendesk
        kind: zendesk
        base_url: "%s"
        email: ` + demoAgent + `
        api_key: ${DEMO_ZENDESK_TOKEN}
        stores: [demo-fr]
        alerts: [action-required, bad-rating-with-comment]
        tag_prefix: "bigblue-"
        language: fr
`

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:8080", "address of the bridge")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	log := newLogger(stderr)

	gorg := gorgiasfake.New(gorgiasfake.Options{Accounts: map[string]string{demoAgent: demoGorgKey}})
	zend := zendeskfake.New(zendeskfake.Options{Agents: map[string]string{demoAgent: demoZendTok}})
	gorgURL, stopG, err := serveLoopback(gorg)
	if err != nil {
		fmt.Fprintln(stderr, "demo:", err)
		return 1
	}
	defer stopG()
	zendURL, stopZ, err := serveLoopback(zend)
	if err != nil {
		fmt.Fprintln(stderr, "demo:", err)
		return 1
	}
	defer stopZ()

	env := map[string]string{
		"DEMO_EVENT_SECRET": demoSecret, "DEMO_ADMIN_PASSWORD": demoAdmin,
		"DEMO_GORGIAS_KEY": demoGorgKey, "DEMO_ZENDESK_TOKEN": demoZendTok,
	}
	cfg, err := config.Parse([]byte(fmt.Sprintf(demoConfig, *listen, gorgURL, zendURL)), func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	})
	if err != nil {
		fmt.Fprintln(stderr, "demo: seeded configuration:", err)
		return 1
	}
	cfg.Redis = config.Redis{} // always the embedded Redis

	app, err := Build(ctx, cfg, ModeServe, log, Overrides{})
	if err != nil {
		fmt.Fprintln(stderr, "demo:", err)
		return 1
	}
	fmt.Fprint(stdout, demoBanner("http://"+app.Addr(), gorgURL, zendURL))
	if err := app.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintln(stderr, "demo:", err)
		return 1
	}
	return 0
}

// serveLoopback runs h on a free loopback port.
func serveLoopback(h http.Handler) (string, func(), error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(l) }()
	return "http://" + l.Addr().String(), func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}

// demoBanner tells what runs and gives a command to paste: it signs an
// event with the demo secret (HMAC-SHA256 over "timestamp.body") and posts it.
func demoBanner(bridgeURL, gorgURL, zendURL string) string {
	body := `{"id":"evt-'$(date +%s%N)'","kind":"order.action_required","occurred_at":"'$(date -u +%Y-%m-%dT%H:%M:%SZ)'","data":{"order_id":"ORD-1001","store":"demo-fr","buyer":{"name":"Jeanne Martin","email":"jeanne.martin@example.com"},"reason":"invalid_address","details":"The postcode 7500 does not exist in Paris","order":{"marketplace":"carrefour","total":"49.90","currency":"EUR","lines":[{"sku":"MUG-01","name":"Blue mug","quantity":2}]}}}`
	var b strings.Builder
	fmt.Fprintf(&b, `
The bridge demo is running on an embedded Redis (nothing is kept when it stops).

  bridge            %[1]s
  fake Gorgias      %[2]s   (agent %[4]s, key %[5]s)
  fake Zendesk      %[3]s   (agent %[4]s, token %[6]s)
  dashboard         %[1]s/monitoring   (user admin, password %[7]s)
  metrics           %[1]s/metrics

Raise an alert: paste this into another terminal (it needs openssl and curl).

BODY='%[8]s'
TS=$(date +%%s); SIG=$(printf '%%s.%%s' "$TS" "$BODY" | openssl dgst -sha256 -hmac '%[9]s' | sed 's/^.*= //')
curl -sS -X POST %[1]s/v1/events -H 'Content-Type: application/json' -H 'X-Bridge-Merchant: %[10]s' -H "X-Bridge-Timestamp: $TS" -H "X-Bridge-Signature: sha256=$SIG" -d "$BODY"; echo

Then see the ticket it created in each fake helpdesk:

curl -sS %[2]s/_fake/tickets; echo
curl -sS %[3]s/_fake/tickets; echo

Stop the demo with Ctrl-C.
`, bridgeURL, gorgURL, zendURL, demoAgent, demoGorgKey, demoZendTok, demoAdmin, body, demoSecret, demoMerchant)
	return b.String()
}
