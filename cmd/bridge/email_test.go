package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/helpdesk-bridge/bridge/config"
	"github.com/helpdesk-bridge/bridge/connectors/amazon/amazonfake"
	"github.com/helpdesk-bridge/bridge/connectors/email/dovecottest"
	"github.com/helpdesk-bridge/bridge/connectors/email/relayfake"
	"github.com/helpdesk-bridge/bridge/connectors/gorgias/gorgiasfake"
	"github.com/helpdesk-bridge/bridge/discussions"
	"github.com/helpdesk-bridge/bridge/orders"
)

const amazonSeller = "orders@acme.example"

// amazonAccount is an Amazon e-mail account of acme's on the test
// Dovecot's mailbox, replies going to the relay fake at relay.
func amazonAccount(id, helpdesk string, dc dovecottest.Server, mailbox, relay string) config.Marketplace {
	return config.Marketplace{
		ID: id, Kind: config.KindEmail, Name: "amazon", Store: "acme-fr", Helpdesk: helpdesk,
		SyncEvery: time.Hour, Overlap: 2 * time.Minute, Backfill: 30 * 24 * time.Hour, SettleDelay: 3 * time.Second,
		Email: &config.EmailAccount{
			Profile: "amazon", From: amazonSeller,
			IMAP: config.MailServer{Addr: dc.Addr, TLS: "starttls", Username: dc.User, Password: config.NewSecret(dc.Password), Mailbox: mailbox},
			// The relay fake's certificate is its own: plain SMTP on
			// loopback here; smtpout's STARTTLS is tested against it.
			SMTP: config.MailServer{Addr: relay, TLS: "none"},
		},
	}
}

// Amazon buyers' mail, read over IMAP from a real Dovecot, becomes one
// Gorgias ticket per buyer and order, its requester the buyer's relay
// address; newsletters become nothing; an agent's reply in Gorgias goes
// back through the relay, from the registered address to the buyer's
// alias, In-Reply-To the buyer's mail, as plain text; one the relay
// would refuse becomes a note; and new mail is read as soon as it
// arrives.
func TestAmazonMailBecomesTicketsAndRepliesGoBack(t *testing.T) {
	dc := dovecottest.Restartable(t) // restarted below
	admin := dc.Admin(t)
	mailbox := dc.Mailbox(t, admin)
	zdMailbox := dc.Mailbox(t, admin) // another shop's, answered in Zendesk
	dovecottest.Deliver(t, admin, zdMailbox, corpusMail(t, "amazon-uk-buyer-jpeg-utf8.eml"))
	for _, name := range []string{"amazon-fr-buyer-qp-latin1.eml", "amazon-de-buyer-html-b64-win1252.eml", "amazon-newsletter.eml"} {
		dovecottest.Deliver(t, admin, mailbox, corpusMail(t, name))
	}
	relay, err := relayfake.Start(relayfake.Config{RegisteredSenders: []string{amazonSeller}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = relay.Close() })

	// Amazon's Selling Partner API, for the buyer's order.
	const clientID, clientSecret, refresh = "amzn1.application-oa2-client.test", "lwa-secret", "Atzr|refresh"
	amz := amazonfake.New(amazonfake.Options{
		ClientID: clientID, ClientSecret: clientSecret, RefreshTokens: []string{refresh},
		MarketplaceIDs: []string{"A13V1IB3VIYZZH"}, RestrictedRole: true, NoThrottle: true, ListingDelay: -1,
	})
	amzTS := httptest.NewServer(amz)
	t.Cleanup(amzTS.Close)
	amz.PutOrder(amazonfake.Order{
		AmazonOrderID: "171-1234567-7654321", PurchaseDate: time.Now().Add(-48 * time.Hour), OrderStatus: "Unshipped",
		MarketplaceID: "A13V1IB3VIYZZH", OrderTotal: &amazonfake.Money{CurrencyCode: "EUR", Amount: "34.90"},
		BuyerEmail: "k7r2m9x4p1q8w3z6@marketplace.amazon.fr", BuyerName: "Camille",
		Items: []amazonfake.Item{{OrderItemID: "1", ASIN: "B000TEST01", SellerSKU: "TEAPOT-1", Title: "Cast-iron teapot", QuantityOrdered: 1, ItemPrice: &amazonfake.Money{CurrencyCode: "EUR", Amount: "34.90"}}},
	})

	h := newHarness(t, harnessOptions{before: func(h *harness) {
		h.mailRoots = dc.Roots
		amz := amazonAccount("acme-amazon", "acme-gorgias", dc, mailbox, relay.Addr())
		amz.SyncOrders = true
		amz.Email.AmazonOrders = &config.AmazonOrders{
			BaseURL: amzTS.URL, LWAURL: amzTS.URL + "/auth/o2/token", ClientID: clientID,
			ClientSecret: config.NewSecret(clientSecret), RefreshToken: config.NewSecret(refresh),
			MarketplaceIDs: []string{"A13V1IB3VIYZZH"}, RestrictedData: true,
		}
		h.cfg.Merchants[0].Marketplaces = append(h.cfg.Merchants[0].Marketplaces, amz,
			amazonAccount("acme-amazon-uk", "acme-zendesk", dc, zdMailbox, relay.Addr()))
	}})
	c := asynq.NewClientFromRedisClient(h.rdb)
	defer c.Close()
	if _, err := c.EnqueueContext(context.Background(), discussions.NewSyncTask(discussions.SyncPayload{Merchant: "acme", Account: "acme-amazon"}, 1)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.EnqueueContext(context.Background(), orders.NewSyncTask(orders.SyncPayload{Merchant: "acme", Account: "acme-amazon"}, 1)); err != nil {
		t.Fatal(err)
	}
	// The buyer's Amazon order in the sidebar, found by the relay address
	// the ticket's requester is.
	eventually(t, 30*time.Second, "the Amazon order in the widget", func() bool {
		resp, body := h.widget("/v1/widgets/gorgias", sidebarToken, emailQuery("k7r2m9x4p1q8w3z6@marketplace.amazon.fr"), nil)
		var w struct {
			Orders []struct {
				ID, Status, Total string
			} `json:"orders"`
		}
		return resp.StatusCode == 200 && json.Unmarshal(body, &w) == nil && len(w.Orders) == 1 &&
			w.Orders[0].ID == "171-1234567-7654321" && w.Orders[0].Status == "InProgress" && w.Orders[0].Total == "34.90"
	})
	prefix := "bridge-disc-amazon-acme-amazon-"
	var fr int64
	eventually(t, 30*time.Second, "a ticket per buyer and order", func() bool {
		n := 0
		for _, tk := range h.gorgiasTickets() {
			if !strings.HasPrefix(tk.ExternalID, prefix) {
				continue
			}
			n++
			if tk.Customer != nil && strings.HasSuffix(tk.Customer.Email, "@marketplace.amazon.fr") {
				fr = tk.ID
			}
		}
		return n == 2 && fr != 0
	})
	// Amazon's "no response needed" link stays under the buyer's text,
	// for an agent signed in to Seller Central.
	if full, _ := h.gorg.Ticket(fr); len(full.Messages) == 0 ||
		!strings.Contains(full.Messages[0].BodyText, "No reply needed? Mark it so in Seller Central: https://sellercentral.amazon.fr/messaging/no-response-needed?") {
		t.Errorf("the buyer's message in the ticket lacks the no-response link: %+v", full.Messages)
	}

	h.agentReply(fr, gorgiasfake.AgentReply{BodyText: "Bonjour Camille, votre colis part aujourd'hui."})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := relay.WaitFor(ctx, 1, 0); err != nil {
		t.Fatalf("the reply never reached the relay: %v", err)
	}
	got := relay.Accepted()[0]
	if got.From != amazonSeller || len(got.To) != 1 || !strings.HasSuffix(got.To[0], "@marketplace.amazon.fr") ||
		got.InReplyTo != "0100018e-fr-0001@email.amazonses.com" || !strings.Contains(got.Text, "votre colis part aujourd'hui") {
		t.Errorf("the relay got %+v", got)
	}

	// A reply the relay would refuse is not sent: a note says why.
	h.agentReply(fr, gorgiasfake.AgentReply{BodyText: "Écrivez-moi à jeanne.martin@example.com"})
	eventually(t, 20*time.Second, "the refusal note", func() bool {
		full, _ := h.gorg.Ticket(fr)
		last := full.Messages[len(full.Messages)-1]
		return last.Public != nil && !*last.Public && strings.Contains(last.BodyText, "e-mail address")
	})

	// New mail wakes the bridge (IMAP IDLE): its ticket comes within
	// seconds, though the account's periodic sync is an hour away.
	dovecottest.Deliver(t, admin, mailbox, corpusMail(t, "amazon-uk-buyer-jpeg-utf8.eml"))
	eventually(t, 15*time.Second, "the new mail's ticket, without a periodic sync", func() bool {
		n := 0
		for _, tk := range h.gorgiasTickets() {
			if strings.HasPrefix(tk.ExternalID, prefix) {
				n++
			}
		}
		return n == 3
	})
	// The other shop's buyer, answered from Zendesk.
	if _, err := c.EnqueueContext(context.Background(), discussions.NewSyncTask(discussions.SyncPayload{Merchant: "acme", Account: "acme-amazon-uk"}, 1)); err != nil {
		t.Fatal(err)
	}
	var zt int64
	eventually(t, 30*time.Second, "the Zendesk ticket", func() bool {
		for _, tk := range h.zend.Tickets() {
			if strings.HasPrefix(tk.ExternalID, "bridge-disc-amazon-acme-amazon-uk-") {
				zt = tk.ID
			}
		}
		return zt != 0
	})
	zbody, _ := json.Marshal(map[string]any{"html_body": "<p>Hello, a replacement ships today.</p>"})
	zresp, err := http.Post(h.zendTS.URL+"/acme/_fake/tickets/"+strconv.FormatInt(zt, 10)+"/agent-reply", "application/json", bytes.NewReader(zbody))
	if err != nil {
		t.Fatal(err)
	}
	zresp.Body.Close()
	if err := relay.WaitFor(ctx, 2, 0); err != nil {
		t.Fatalf("the Zendesk reply never reached the relay: %v", err)
	}
	if got := relay.Accepted()[1]; !strings.HasSuffix(got.To[0], "@marketplace.amazon.co.uk") || got.Text == "" || !strings.Contains(got.Text, "a replacement ships today") {
		t.Errorf("the relay got %+v", got)
	}

	// Dovecot restarts: the bridge reconnects, and mail that came
	// meanwhile is read (the watch waits a little before reconnecting;
	// a sync asked for by hand does not).
	dc.RestartServer(t)
	admin = dc.Admin(t)
	dovecottest.Deliver(t, admin, mailbox, corpusMail(t, "amazon-es-buyer-alternative-b64.eml"))
	if _, err := c.EnqueueContext(context.Background(), discussions.NewSyncTask(discussions.SyncPayload{Merchant: "acme", Account: "acme-amazon"}, 1)); err != nil {
		t.Fatal(err)
	}
	eventually(t, 40*time.Second, "the ticket of the mail that came while Dovecot restarted", func() bool {
		n := 0
		for _, tk := range h.gorgiasTickets() {
			if strings.HasPrefix(tk.ExternalID, prefix) {
				n++
			}
		}
		return n == 4
	})

	// The newsletter is no ticket: the admin sees it.
	oa := loadOpenAPI(t)
	for _, tc := range []struct {
		path, user string
		status     int
	}{
		{"/v1/admin/mail/acme-amazon/unmatched", "admin", 200},
		{"/v1/admin/mail/acme-carrefour/unmatched", "admin", 404},
		{"/v1/admin/mail/acme-amazon/unmatched?limit=0", "admin", 422},
		{"/v1/admin/mail/acme-amazon/unmatched", "", 401},
	} {
		req, _ := http.NewRequest(http.MethodGet, h.url+tc.path, nil)
		if tc.user != "" {
			req.SetBasicAuth(tc.user, adminPW)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("GET %s: %d %s, want %d", tc.path, resp.StatusCode, raw, tc.status)
		}
		if err := oa.checkResponse(req, resp, raw); err != nil {
			t.Errorf("GET %s: the answer does not match openapi.yaml: %v", tc.path, err)
		}
		if tc.status == 200 {
			var got struct {
				Mails []struct{ Subject, Reason string } `json:"mails"`
				Total int                                `json:"total"`
			}
			if json.Unmarshal(raw, &got) != nil || len(got.Mails) != 1 || got.Mails[0].Reason == "" || got.Total != 1 {
				t.Errorf("unmatched mail %s", raw)
			}
		}
	}
	h.settle()
	if n := len(relay.Accepted()); n != 2 {
		t.Errorf("%d mails reached the relay, want the two replies only", n)
	}
}

// corpusMail is one of the e-mail parser's sample mails.
func corpusMail(t *testing.T, name string) []byte {
	t.Helper()
	raw, err := os.ReadFile("../../connectors/email/mailparse/testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// fiftyMail is the i-th of 50 buyers' mails across 20 orders in three
// languages, every fifth with a PDF.
func fiftyMail(i int) []byte {
	order := i % 20
	alias := fmt.Sprintf("buyerx%04d", order)
	var from, subject string
	switch order % 3 {
	case 0:
		from, subject = alias+"@marketplace.amazon.fr", fmt.Sprintf("Demande de renseignements de la part du client Amazon (Commande : 171-0000000-%07d)", order)
	case 1:
		from, subject = alias+"@marketplace.amazon.de", fmt.Sprintf("Anfrage von Amazon-Kunde (Bestellung: 302-0000000-%07d)", order)
	default:
		from, subject = alias+"@marketplace.amazon.co.uk", fmt.Sprintf("Inquiry from Amazon customer (Order: 203-0000000-%07d)", order)
	}
	head := fmt.Sprintf("From: <%s>\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <fifty-%03d@email.amazonses.com>\r\nDate: Sat, 05 Dec 2026 10:%02d:00 +0000\r\nMIME-Version: 1.0\r\n",
		from, amazonSeller, subject, i, i)
	text := fmt.Sprintf("Message %02d about my order.", i)
	if i%5 != 0 {
		return []byte(head + "Content-Type: text/plain; charset=utf-8\r\n\r\n" + text + "\r\n")
	}
	return []byte(head + "Content-Type: multipart/mixed; boundary=b1\r\n\r\n--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + text +
		"\r\n--b1\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"photo.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQKJSVFT0YK\r\n--b1--\r\n")
}

// 50 Amazon buyers' mails across 20 orders in three languages become
// exactly 20 tickets, every message once and in order, files copied.
func TestFiftyAmazonMailsTwentyTickets(t *testing.T) {
	dc := dovecottest.Get(t)
	admin := dc.Admin(t)
	mailbox := dc.Mailbox(t, admin)
	for i := range 50 {
		dovecottest.Deliver(t, admin, mailbox, fiftyMail(i))
	}
	relay, err := relayfake.Start(relayfake.Config{RegisteredSenders: []string{amazonSeller}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = relay.Close() })
	h := newHarness(t, harnessOptions{before: func(h *harness) {
		h.mailRoots = dc.Roots
		// Gorgias's own limit would pace 70 calls over half a minute.
		h.cfg.Merchants[0].Helpdesks[0].RateLimit = config.RateLimit{Requests: 1000, Per: 20 * time.Second}
		h.cfg.Merchants[0].Marketplaces = append(h.cfg.Merchants[0].Marketplaces, amazonAccount("acme-amazon", "acme-gorgias", dc, mailbox, relay.Addr()))
	}})
	c := asynq.NewClientFromRedisClient(h.rdb)
	defer c.Close()
	if _, err := c.EnqueueContext(context.Background(), discussions.NewSyncTask(discussions.SyncPayload{Merchant: "acme", Account: "acme-amazon"}, 1)); err != nil {
		t.Fatal(err)
	}
	messages := func() int {
		n := 0
		for _, tk := range h.gorgiasTickets() {
			if full, ok := h.gorg.Ticket(tk.ID); ok && strings.HasPrefix(tk.ExternalID, "bridge-disc-amazon-") {
				n += len(full.Messages)
			}
		}
		return n
	}
	eventually(t, 120*time.Second, "50 messages in the tickets", func() bool { return messages() >= 50 })
	h.settleDiscussions(t, 30*time.Second)
	tickets, files := 0, 0
	for _, tk := range h.gorgiasTickets() {
		if !strings.HasPrefix(tk.ExternalID, "bridge-disc-amazon-") {
			continue
		}
		tickets++
		full, _ := h.gorg.Ticket(tk.ID)
		last := -1
		for _, m := range full.Messages {
			var k int
			if _, err := fmt.Sscanf(strings.TrimSpace(m.BodyText), "Message %d", &k); err != nil || k <= last || last >= 0 && k%20 != last%20 {
				t.Errorf("ticket %d: message %q after %d", tk.ID, m.BodyText, last)
			}
			last = k
			files += len(m.Attachments)
		}
	}
	if tickets != 20 || messages() != 50 || files != 10 {
		t.Errorf("%d tickets, %d messages, %d files; want 20, 50 and 10", tickets, messages(), files)
	}
}
