package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-imap/backend/memory"
	imapserver "github.com/emersion/go-imap/server"

	"github.com/helpdesk-bridge/bridge/bridge/events"
	"github.com/helpdesk-bridge/bridge/config"
	"github.com/helpdesk-bridge/bridge/connectors/email/relayfake"
	"github.com/helpdesk-bridge/bridge/connectors/gorgias"
	gapi "github.com/helpdesk-bridge/bridge/connectors/gorgias/api"
	"github.com/helpdesk-bridge/bridge/connectors/gorgias/gorgiasfake"
	mapi "github.com/helpdesk-bridge/bridge/connectors/mirakl/api"
	"github.com/helpdesk-bridge/bridge/connectors/mirakl/miraklfake"
	"github.com/helpdesk-bridge/bridge/connectors/zendesk/zendeskfake"
	"github.com/helpdesk-bridge/bridge/orders"
)

// The demo's credentials are public on purpose: they only open the fakes
// the demo itself runs on loopback.
const (
	demoSecret   = "demo-event-secret-for-the-local-demo"
	demoAdmin    = "demo-admin-password"
	demoAgent    = "agent@demo.example"
	demoGorgKey  = "demo-gorgias-key"
	demoZendTok  = "demo-zendesk-token"
	demoMerchant = "demo"
	demoSidebar  = "demo-sidebar-token-for-the-local-demo"
	demoMirakl   = "demo-mirakl-key"
	demoHook     = "demo-webhook-secret-for-replies"
	demoCustomer = "jeanne.martin@example.com"
	demoAPIToken = "demo-api-token-for-the-local-demo"
	demoSeller   = "seller@demo.example"
)

// demoAmazonMail is a buyer's question as Amazon's relay delivers it.
const demoAmazonMail = "From: \"Camille - Amazon Marketplace\" <k7r2m9x4p1q8w3z6@marketplace.amazon.fr>\r\n" +
	"To: " + demoSeller + "\r\n" +
	"Subject: Demande de renseignements de la part du client Amazon Camille (Commande : 171-1234567-7654321)\r\n" +
	"Message-ID: <demo-amazon-0001@email.amazonses.com>\r\n" +
	"Date: Sat, 05 Dec 2026 09:12:44 +0000\r\n" +
	"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n" +
	"Bonjour, ma théière n'est toujours pas arrivée. Pouvez-vous me donner le numéro de suivi ?\r\nMerci, Camille\r\n"

// demoConfig is the seeded configuration: one merchant, two stores, a
// Gorgias account (English) and a Zendesk account (French).
const demoConfig = `
server:
  listen: "%s"
  public_url: "http://%s"
  # The demo's fake helpdesks serve their files on this machine.
  allow_private_file_hosts: true
  admin:
    username: admin
    password: ${DEMO_ADMIN_PASSWORD}
merchants:
  - id: demo
    name: Demo Shop
    event_secrets: ["${DEMO_EVENT_SECRET}"]
    api_tokens: ["${DEMO_API_TOKEN}"]
    stores:
      - id: demo-fr
        name: Demo Shop France
        order_url: "https://backoffice.example/orders/{order_id}"
        invoices:
          seller:
            name: Demo Shop SAS
            address: |
              12 rue de la Paix
              75002 Paris
            siren: "732829320"
            vat_number: FR44732829320
            mentions: SAS au capital de 10 000 EUR, RCS Paris
          product_vat: "20"
          shipping_vat: "20"
          prefix: F-
          digits: 6
          footer_html: <p>Merci pour votre commande.</p>
      - id: demo-de
        name: Demo Shop Germany
    helpdesks:
      - id: demo-gorgias
        kind: gorgias
        base_url: "%s"
        email: ` + demoAgent + `
        api_key: ${DEMO_GORGIAS_KEY}
        webhook_secret: ${DEMO_WEBHOOK_SECRET}
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
    sidebars:
      - id: demo-sidebar
        kind: gorgias
        token: ${DEMO_SIDEBAR_TOKEN}
        stores: [demo-fr, demo-de]
        actions: [accept, refuse, ship, cancel, cancel_lines]
    marketplaces:
      - id: demo-carrefour
        kind: mirakl
        name: carrefour
        base_url: "%s"
        api_key: ${DEMO_MIRAKL_KEY}
        store: demo-fr
        helpdesk: demo-gorgias
        sync_every: 10s
        sync_orders: true
      # An Amazon seller mailbox: buyers' mail relayed by Amazon, read over
      # IMAP (a mail server in the demo's memory), replies sent through a
      # fake of Amazon's relay.
      - id: demo-amazon
        kind: email
        name: amazon
        store: demo-fr
        helpdesk: demo-gorgias
        sync_every: 10s
        email:
          profile: amazon
          from: ` + demoSeller + `
          imap: {addr: "%s", tls: none, username: username, password: "${DEMO_IMAP_PASSWORD}"}
          smtp: {addr: "%s", tls: none}
`

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newCommand("demo", "[-listen ADDR]",
		"Runs the bridge on an embedded Redis with a fake Gorgias, Zendesk and Mirakl\nand a seeded configuration, and prints commands to try it. Needs nothing else.", stderr)
	listen := fs.String("listen", "127.0.0.1:8080", "address of the bridge")
	if code, done := fs.parse(args, stdout); done {
		return code
	}
	log := newLogger(stderr)

	// The bridge's address comes first: the fake Gorgias calls it back
	// when an agent replies, as the real HTTP integration would.
	l, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintf(stderr, "demo: %v\nThe demo listens on %s; choose another address with -listen, e.g. bridge demo -listen 127.0.0.1:8081\n", err, *listen)
		return 1
	}
	bridgeAddr := l.Addr().String()
	gorg := gorgiasfake.New(gorgiasfake.Options{
		Accounts:     map[string]string{demoAgent: demoGorgKey},
		Integrations: []gapi.Integration{gorgias.Integration("http://"+bridgeAddr+"/v1/webhooks/helpdesks/demo-gorgias", demoHook)},
	})
	zend := zendeskfake.New(zendeskfake.Options{Agents: map[string]string{demoAgent: demoZendTok}})
	mkl := miraklfake.New(miraklfake.Options{Shops: []miraklfake.Shop{{ID: "2042", Name: "Demo Shop", APIKeys: []string{demoMirakl}}}})
	if _, err := mkl.AddThread(miraklfake.ThreadSeed{
		EntityType: mapi.EntityOrder, EntityID: "ORD-1001", Topic: "My mug arrived broken", CustomerID: "c-1001", CustomerName: "Jeanne Martin",
		Message: miraklfake.MessageSeed{Body: "<p>Hello, one of the two mugs arrived broken. Photo attached.</p>",
			Attachments: []miraklfake.FileSeed{{Name: "mug.txt", ContentType: "text/plain", Content: []byte("(a photo of a broken mug)")}}},
	}); err != nil {
		fmt.Fprintln(stderr, "demo:", err)
		return 1
	}
	// Two of Jeanne's Carrefour orders, which the bridge syncs: one to
	// ship, one waiting for the shop's acceptance.
	for id, state := range map[string]string{"CRF-3003-A": "SHIPPING", "CRF-3004-A": "WAITING_ACCEPTANCE"} {
		if _, err := mkl.PutOrder("2042", mapi.Order{
			OrderID: id, OrderState: state, CustomerNotificationEmail: demoCustomer, CurrencyISOCode: "EUR",
			TotalPrice: "29.90", Price: "29.90", ShippingPrice: "0",
			Customer: mapi.Customer{CustomerID: "c-1001", Firstname: "Jeanne", Lastname: "Martin", BillingAddress: &mapi.Address{
				Firstname: "Jeanne", Lastname: "Martin", Street1: "3 place de la Gare", ZipCode: "67000", City: "Strasbourg", Country: "France", CountryISOCode: "FRA",
			}},
			OrderLines: []mapi.OrderLine{{OrderLineID: id + "-1", OfferSKU: "TEAPOT-1", ProductTitle: "Cast-iron teapot", Quantity: 1, Price: "29.90", OrderLineState: state}},
		}); err != nil {
			fmt.Fprintln(stderr, "demo:", err)
			return 1
		}
	}
	urls := make([]string, 3)
	for i, h := range []http.Handler{gorg, zend, mkl} {
		u, stop, err := serveLoopback(h)
		if err != nil {
			fmt.Fprintln(stderr, "demo:", err)
			return 1
		}
		defer stop()
		urls[i] = u
	}
	gorgURL, zendURL, mklURL := urls[0], urls[1], urls[2]
	imapAddr, relay, err := demoMail()
	if err != nil {
		fmt.Fprintln(stderr, "demo:", err)
		return 1
	}
	defer relay.Close()

	env := map[string]string{
		"DEMO_EVENT_SECRET": demoSecret, "DEMO_ADMIN_PASSWORD": demoAdmin,
		"DEMO_GORGIAS_KEY": demoGorgKey, "DEMO_ZENDESK_TOKEN": demoZendTok, "DEMO_SIDEBAR_TOKEN": demoSidebar,
		"DEMO_MIRAKL_KEY": demoMirakl, "DEMO_WEBHOOK_SECRET": demoHook, "DEMO_API_TOKEN": demoAPIToken, "DEMO_IMAP_PASSWORD": "password",
	}
	cfg, err := config.Parse([]byte(fmt.Sprintf(demoConfig, bridgeAddr, bridgeAddr, gorgURL, zendURL, mklURL, imapAddr, relay.Addr())), func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	})
	if err != nil {
		fmt.Fprintln(stderr, "demo: seeded configuration:", err)
		return 1
	}
	cfg.Redis = config.Redis{} // always the embedded Redis

	app, err := Build(ctx, cfg, ModeServe, log, Overrides{Listener: l})
	if err != nil {
		fmt.Fprintln(stderr, "demo:", err)
		return 1
	}
	bridgeURL := "http://" + app.Addr()
	go func() {
		if err := seedDemo(ctx, bridgeURL); err != nil {
			fmt.Fprintln(stderr, "demo: seeding the sample orders:", err)
		}
	}()
	fmt.Fprint(stdout, demoBanner(bridgeURL, gorgURL, zendURL, mklURL))
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
func demoBanner(bridgeURL, gorgURL, zendURL, mklURL string) string {
	body := `{"id":"evt-'$(date +%s%N)'","kind":"order.action_required","occurred_at":"'$(date -u +%Y-%m-%dT%H:%M:%SZ)'","data":{"order_id":"ORD-1001","store":"demo-fr","buyer":{"name":"Jeanne Martin","email":"jeanne.martin@example.com"},"reason":"invalid_address","details":"The postcode 7500 does not exist in Paris","order":{"marketplace":"carrefour","total":"49.90","currency":"EUR","lines":[{"sku":"MUG-01","name":"Blue mug","quantity":2}]}}}`
	var b strings.Builder
	fmt.Fprintf(&b, `
The bridge demo is running on an embedded Redis (nothing is kept when it stops).

  bridge            %[1]s
  fake Gorgias      %[2]s   (agent %[4]s, key %[5]s)
  fake Zendesk      %[3]s   (agent %[4]s, token %[6]s)
  fake Mirakl       %[13]s   (a Carrefour shop, key %[14]s)
  dashboard         %[1]s/monitoring   (user admin, password %[7]s)
  metrics           %[1]s/metrics

Raise an alert: paste this into another terminal (it needs openssl and curl).

BODY='%[8]s'
TS=$(date +%%s); SIG=$(printf '%%s.%%s' "$TS" "$BODY" | openssl dgst -sha256 -hmac '%[9]s' | sed 's/^.*= //')
curl -sS -X POST %[1]s/v1/events -H 'Content-Type: application/json' -H 'X-Bridge-Merchant: %[10]s' -H "X-Bridge-Timestamp: $TS" -H "X-Bridge-Signature: sha256=$SIG" -d "$BODY"; echo

Then see the ticket it created in each fake helpdesk:

curl -sS %[2]s/_fake/tickets; echo
curl -sS %[3]s/_fake/tickets; echo

The sidebar widget of a sample customer, as Gorgias and an HTML sidebar get it:

curl -sS -H 'Authorization: Bearer %[11]s' '%[1]s/v1/widgets/gorgias?email=%[12]s'; echo
curl -sS -H 'Authorization: Bearer %[11]s' '%[1]s/v1/widgets/html?email=%[12]s' > widget.html

An Amazon buyer's mail, waiting in the demo's mailbox, becomes a Gorgias
ticket too (its external id starts with bridge-disc-amazon-); an agent's
reply to it goes back through a fake of Amazon's e-mail relay.

Act on a marketplace order. The sidebar above has buttons for Jeanne's
Carrefour orders (synced from the fake Mirakl): open widget.html in a
browser and press Ship, or Accept, and confirm. Or ship through the API:

curl -sS -X POST %[1]s/v1/orders/demo-fr/CRF-3003-A/actions -H 'Authorization: Bearer %[15]s' -H 'Content-Type: application/json' -d '{"action":"ship","carrier_code":"UPS","tracking_number":"1Z999AA10123456784"}'; echo
curl -sS -H 'Authorization: Bearer %[15]s' %[1]s/v1/order-actions; echo

Invoice that order, and download its PDF (the sidebar then links to it):

curl -sS -X POST -H 'Authorization: Bearer %[15]s' %[1]s/v1/orders/demo-fr/CRF-3003-A/invoice; echo
curl -sS -H 'Authorization: Bearer %[15]s' -o F-000001.pdf %[1]s/v1/orders/demo-fr/CRF-3003-A/invoice.pdf

A customer's Mirakl discussion is mirrored into the fake Gorgias within 10 s
(its ticket's external id starts with bridge-disc-). Answer it as an agent
would, with the ticket's id, and see the reply reach Mirakl:

curl -sS -X POST %[2]s/_fake/tickets/TICKET_ID/agent-reply -H 'Content-Type: application/json' -d '{"body_html":"<p>Sorry! A new mug is on its way.</p>"}'; echo
curl -sS %[13]s/_fake/replies; echo

Stop the demo with Ctrl-C.
`, bridgeURL, gorgURL, zendURL, demoAgent, demoGorgKey, demoZendTok, demoAdmin, body, demoSecret, demoMerchant, demoSidebar, demoCustomer, mklURL, demoMirakl, demoAPIToken)
	return b.String()
}

// seedDemo sends the sample customer's orders through the bridge's own
// signed intake, as an order platform would, once the bridge answers.
func seedDemo(ctx context.Context, bridgeURL string) error {
	for {
		resp, err := http.Get(bridgeURL + "/healthz")
		if err == nil {
			resp.Body.Close()
			break
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(50 * time.Millisecond):
		}
	}
	now := time.Now().UTC()
	at := func(d time.Duration) string { return now.Add(d).Format(time.RFC3339) }
	customer := map[string]any{"email": demoCustomer, "name": "Jeanne Martin", "phone": "+33 6 12 34 56 78"}
	evs := []map[string]any{
		{"kind": orders.KindOrderUpserted, "data": map[string]any{
			"store": "demo-fr", "order_id": "ORD-1001", "updated_at": at(-time.Hour), "customer": customer,
			"marketplace": "carrefour", "status": "Shipped", "marketplace_status": "SHIPPED", "created_at": at(-72 * time.Hour),
			"total": "49.90", "currency": "EUR",
			"lines": []map[string]any{{"sku": "MUG-01", "name": "Blue mug", "quantity": 2}, {"sku": "TEA-7", "name": "Green tea", "quantity": 1}},
		}},
		{"kind": orders.KindShipmentUpserted, "data": map[string]any{
			"store": "demo-fr", "order_id": "ORD-1001", "shipment_id": "PKG-1", "updated_at": at(-30 * time.Minute),
			"status": "delivered", "carrier": "Colissimo", "tracking_number": "6A12345678901", "tracking_url": "https://tracking.example/6A12345678901",
		}},
		{"kind": orders.KindReturnUpserted, "data": map[string]any{
			"store": "demo-fr", "order_id": "ORD-1001", "return_id": "RET-1", "updated_at": at(-20 * time.Minute),
			"tracking_number": "RT998877", "refund_method": "original payment",
			"products": []map[string]any{{"sku": "MUG-01", "name": "Blue mug", "quantity": 1, "damaged": true}},
		}},
		{"kind": orders.KindSupportRequestUpserted, "data": map[string]any{
			"store": "demo-fr", "order_id": "ORD-1001", "request_id": "SR-1", "updated_at": at(-10 * time.Minute),
			"subject": "One mug arrived broken", "url": "https://marketplace.example/requests/SR-1",
		}},
		{"kind": orders.KindOrderUpserted, "data": map[string]any{
			"store": "demo-de", "order_id": "ORD-2002", "updated_at": at(-5 * time.Minute), "customer": customer,
			"marketplace": "decathlon", "status": "InProgress", "created_at": at(-2 * time.Hour),
			"total": "19.00", "currency": "EUR", "lines": []map[string]any{{"sku": "SOCK-3", "name": "Wool socks", "quantity": 3}},
		}},
	}
	for i, ev := range evs {
		ev["id"] = fmt.Sprintf("demo-seed-%d", i)
		ev["occurred_at"] = at(0)
		body, _ := json.Marshal(ev)
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, bridgeURL+"/v1/events", bytes.NewReader(body))
		ts := strconv.FormatInt(time.Now().Unix(), 10)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(events.HeaderMerchant, demoMerchant)
		req.Header.Set(events.HeaderTimestamp, ts)
		req.Header.Set(events.HeaderSignature, events.SignatureHeader(demoSecret, ts, body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			return fmt.Errorf("%s: status %d", ev["kind"], resp.StatusCode)
		}
	}
	return nil
}

// demoMail runs the demo's mail servers on loopback: an IMAP mailbox in
// memory holding an Amazon buyer's mail (login username, password: the
// go-imap memory backend's), and a fake of Amazon's relay for replies.
func demoMail() (imapAddr string, relay *relayfake.Server, err error) {
	be := memory.New()
	u, _ := be.Login(nil, "username", "password")
	inbox, err := u.GetMailbox("INBOX")
	if err != nil {
		return "", nil, err
	}
	if err := inbox.CreateMessage(nil, time.Now(), bytes.NewReader([]byte(demoAmazonMail))); err != nil {
		return "", nil, err
	}
	srv := imapserver.New(be)
	srv.AllowInsecureAuth = true // loopback, the demo's own mailbox
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	go func() { _ = srv.Serve(l) }()
	relay, err = relayfake.Start(relayfake.Config{RegisteredSenders: []string{demoSeller}})
	if err != nil {
		_ = srv.Close()
		return "", nil, err
	}
	return l.Addr().String(), relay, nil
}
