package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/helpdesk-bridge/bridge/config"
	"github.com/helpdesk-bridge/bridge/connectors/gorgias/gorgiasfake"
	"github.com/helpdesk-bridge/bridge/connectors/rakuten"
	"github.com/helpdesk-bridge/bridge/connectors/rakuten/api"
	"github.com/helpdesk-bridge/bridge/connectors/rakuten/rakutenfake"
	"github.com/helpdesk-bridge/bridge/discussions"
	"github.com/helpdesk-bridge/bridge/orders"
)

// The Rakuten sellers of the Rakuten tests: one fake, two accounts, the
// first answered from Gorgias, the second from Zendesk.
const (
	rakutenLogin   = "acme-boutique"
	rakutenToken   = "rk-token-0123456789"
	rakutenLogin2  = "acme-outlet"
	rakutenToken2  = "rk-token-9876543210"
	rakutenAccount = "acme-rakuten"
	rakutenPrefix  = "/rk"
)

func rakutenFake(t *testing.T) (*rakutenfake.Server, string) {
	t.Helper()
	fake := rakutenfake.New(rakutenfake.Options{PathPrefix: rakutenPrefix, Accounts: []rakutenfake.Account{
		{Login: rakutenLogin, Token: rakutenToken, SellerID: "18352654"},
		{Login: rakutenLogin2, Token: rakutenToken2, SellerID: "18352655"},
	}})
	ts := httptest.NewServer(fake)
	t.Cleanup(ts.Close)
	return fake, ts.URL + rakutenPrefix
}

func rakutenMarketplace(id, login, token, helpdesk, baseURL string) config.Marketplace {
	return config.Marketplace{
		ID: id, Kind: config.KindRakuten, Name: "rakuten", Store: "acme-fr", Helpdesk: helpdesk,
		BaseURL: baseURL, APIKey: config.NewSecret(token),
		SyncEvery: time.Hour, Overlap: 2 * time.Minute, Backfill: 30 * 24 * time.Hour, SettleDelay: 3 * time.Second,
		RateLimit: config.RateLimit{Requests: 600, Per: time.Minute},
		Rakuten:   &config.RakutenAccount{Login: login},
	}
}

// sellItem puts a purchase of one item at login's shop, accepted, and
// returns the item's id.
func sellItem(t *testing.T, fake *rakutenfake.Server, login, purchase, buyer, email string) string {
	t.Helper()
	item := purchase + "1"
	if err := fake.PutSale(login, rakutenfake.SaleSeed{
		PurchaseID: purchase, Date: time.Now().Add(-3 * time.Hour), BuyerLogin: buyer, BuyerEmail: email, FirstName: "Lou", LastName: "Martin",
		Items: []rakutenfake.ItemSeed{{ItemID: item, SKU: "SKU-" + item, Headline: "Casque audio", Price: "59.90", Currency: "EUR", Status: api.StatusAccepted}},
	}); err != nil {
		t.Fatal(err)
	}
	return item
}

// syncer enqueues discussion syncs of the harness's accounts.
func syncer(t *testing.T, h *harness) func(account string) {
	c := asynq.NewClientFromRedisClient(h.rdb)
	t.Cleanup(func() { _ = c.Close() })
	return func(account string) {
		t.Helper()
		if _, err := c.EnqueueContext(context.Background(), discussions.NewSyncTask(discussions.SyncPayload{Merchant: "acme", Account: account}, 1)); err != nil {
			t.Fatal(err)
		}
	}
}

// rakutenTickets are the Gorgias tickets of the first account's threads,
// by thread id.
func rakutenTickets(h *harness) map[string]int64 {
	prefix := "bridge-disc-rakuten-" + rakutenAccount + "-"
	out := map[string]int64{}
	for _, tk := range h.gorgiasTickets() {
		if strings.HasPrefix(tk.ExternalID, prefix) {
			out[strings.TrimPrefix(tk.ExternalID, prefix)] = tk.ID
		}
	}
	return out
}

// Rakuten's discussions, end to end on a real Redis against the Rakuten
// fake: a backfill of N threads (per item and correspondent) gives N
// tickets; a new buyer message is appended once; an agent's reply from
// Gorgias reaches the buyer, and one from Zendesk Rakuten's customer
// service, as plain text; a reply outside Rakuten's contact window
// becomes a note and nothing is sent.
func TestRakutenDiscussionsEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end")
	}
	fake, baseURL := rakutenFake(t)
	const buyers = 5
	var items []string
	for i := range buyers {
		item := sellItem(t, fake, rakutenLogin, fmt.Sprintf("7000%02d", i), fmt.Sprintf("acheteur%d", i), fmt.Sprintf("b%d@rakuten-relay.example", i))
		if err := fake.AddBuyerMessage(rakutenLogin, item, fmt.Sprintf("Bonjour, où en est ma commande %d ?", i), time.Now().Add(-time.Duration(buyers-i)*time.Minute)); err != nil {
			t.Fatal(err)
		}
		items = append(items, item)
	}
	// Rakuten's customer service writes about the last item: its own thread.
	if _, err := fake.AddMail(rakutenLogin, items[buyers-1], "Concernant votre vente", "Merci de confirmer l'expédition.", time.Time{}); err != nil {
		t.Fatal(err)
	}
	const n = buyers + 1
	zItem := sellItem(t, fake, rakutenLogin2, "800001", "acheteurz", "z@rakuten-relay.example")
	if _, err := fake.AddMail(rakutenLogin2, zItem, "Réclamation", "Le client signale un colis abîmé.", time.Time{}); err != nil {
		t.Fatal(err)
	}

	h := newHarness(t, harnessOptions{before: func(h *harness) {
		h.cfg.Merchants[0].Marketplaces = append(h.cfg.Merchants[0].Marketplaces,
			rakutenMarketplace(rakutenAccount, rakutenLogin, rakutenToken, "acme-gorgias", baseURL),
			rakutenMarketplace("acme-rakuten-outlet", rakutenLogin2, rakutenToken2, "acme-zendesk", baseURL))
	}})
	sync := syncer(t, h)

	sync(rakutenAccount)
	eventually(t, 30*time.Second, "a ticket per Rakuten thread", func() bool { return len(rakutenTickets(h)) == n })
	h.settle()
	tickets := rakutenTickets(h)
	if len(tickets) != n {
		t.Fatalf("%d tickets for %d threads: %v", len(tickets), n, tickets)
	}
	if tickets[rakuten.ThreadID(items[buyers-1], rakuten.CorrRakuten)] == 0 || tickets[rakuten.ThreadID(items[buyers-1], rakuten.CorrBuyer)] == 0 {
		t.Errorf("the last item's buyer and Rakuten threads are not two tickets: %v", tickets)
	}

	// A new message from the first buyer: appended once, however often the
	// sync runs.
	first := rakuten.ThreadID(items[0], rakuten.CorrBuyer)
	tk := tickets[first]
	minute := time.Now().Truncate(time.Minute)
	// buyerWrites adds the buyer's message, dated to minute, syncs until
	// the ticket holds it and once more, and checks it is there once.
	buyerWrites := func(text string, want int) {
		t.Helper()
		if err := fake.AddBuyerMessage(rakutenLogin, items[0], text, minute); err != nil {
			t.Fatal(err)
		}
		sync(rakutenAccount)
		eventually(t, 30*time.Second, "message "+strconv.Itoa(want)+" in the ticket", func() bool {
			full, _ := h.gorg.Ticket(tk)
			return len(full.Messages) >= want
		})
		sync(rakutenAccount)
		h.settle()
		if full, _ := h.gorg.Ticket(tk); len(full.Messages) != want || !strings.Contains(full.Messages[want-1].BodyText, text) {
			t.Errorf("the ticket has %d messages, want %d ending with %q: %+v", len(full.Messages), want, text, full.Messages)
		}
	}
	buyerWrites("Des nouvelles ?", 2)
	// Another, in the same minute: Rakuten dates to the minute, so the
	// thread's update time does not move, and the message is mirrored
	// all the same (once).
	buyerWrites("Toujours rien ?", 3)

	// An agent's reply from Gorgias goes to the buyer, as plain text.
	h.agentReply(tk, gorgiasfake.AgentReply{BodyText: "Bonjour, il part aujourd'hui.", BodyHTML: "<p>Bonjour, il part <b>aujourd'hui</b>.</p>"})
	eventually(t, 20*time.Second, "the reply on Rakuten", func() bool { return len(fake.Sent(rakutenLogin)) == 1 })
	if s := fake.Sent(rakutenLogin)[0]; s.Action != api.ActionContactUserAboutItem || s.ItemID != items[0] || s.Content != "Bonjour, il part aujourd'hui." {
		t.Errorf("sent %+v, want plain text to the buyer about %s", s, items[0])
	}

	// Past the buyer's window (ordered 60 days ago, received 40 days ago):
	// refused before sending, and the agent reads why in a note.
	if err := fake.Age(rakutenLogin, items[1], time.Now().Add(-60*24*time.Hour), time.Now().Add(-40*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	late := tickets[rakuten.ThreadID(items[1], rakuten.CorrBuyer)]
	h.agentReply(late, gorgiasfake.AgentReply{BodyText: "Nous revenons vers vous."})
	eventually(t, 20*time.Second, "the refusal note", func() bool {
		full, _ := h.gorg.Ticket(late)
		last := full.Messages[len(full.Messages)-1]
		return last.Public != nil && !*last.Public && strings.HasPrefix(last.ExternalID, "bridge-refused-")
	})
	if full, _ := h.gorg.Ticket(late); !strings.Contains(full.Messages[len(full.Messages)-1].BodyText, "Rakuten no longer lets the shop write to the buyer") {
		t.Errorf("the note does not say why: %q", full.Messages[len(full.Messages)-1].BodyText)
	}
	h.settle()
	if sent := fake.Sent(rakutenLogin); len(sent) != 1 {
		t.Errorf("%d replies reached Rakuten, want the first only: %+v", len(sent), sent)
	}

	// The outlet's mail from Rakuten, answered from Zendesk: it goes to
	// Rakuten's customer service, answering its mail.
	sync("acme-rakuten-outlet")
	var zt int64
	eventually(t, 30*time.Second, "the outlet's ticket in Zendesk", func() bool {
		for _, tk := range h.zend.Tickets() {
			if tk.ExternalID == "bridge-disc-rakuten-acme-rakuten-outlet-"+rakuten.ThreadID(zItem, rakuten.CorrRakuten) {
				zt = tk.ID
			}
		}
		return zt != 0
	})
	zbody, _ := json.Marshal(map[string]any{"html_body": "<p>Le colis a été <i>remplacé</i>.</p>"})
	zresp, err := http.Post(h.zendTS.URL+"/acme/_fake/tickets/"+strconv.FormatInt(zt, 10)+"/agent-reply", "application/json", bytes.NewReader(zbody))
	if err != nil {
		t.Fatal(err)
	}
	zresp.Body.Close()
	eventually(t, 20*time.Second, "the Zendesk reply on Rakuten", func() bool { return len(fake.Sent(rakutenLogin2)) == 1 })
	if s := fake.Sent(rakutenLogin2)[0]; s.Action != api.ActionContactUsAboutItem || s.ItemID != zItem || s.MailParentID == "" || s.Content != "Le colis a été remplacé." {
		t.Errorf("the outlet sent %+v, want plain text to Rakuten answering its mail", s)
	}
	h.settle()
}

// A Rakuten sale reaches the sidebar through the order sync, and an agent
// ships it from the HTML sidebar's confirmation form: Rakuten has the
// item shipped with the tracking, and the widget shows it so.
func TestRakutenOrderShippedFromTheSidebar(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end")
	}
	fake, baseURL := rakutenFake(t)
	const purchase = "912345678"
	item := sellItem(t, fake, rakutenLogin, purchase, "acheteur", actionsBuyer)
	h := newHarness(t, harnessOptions{before: func(h *harness) {
		mk := rakutenMarketplace(rakutenAccount, rakutenLogin, rakutenToken, "acme-gorgias", baseURL)
		mk.SyncOrders = true
		h.cfg.Merchants[0].Marketplaces = append(h.cfg.Merchants[0].Marketplaces, mk)
	}})
	c := asynq.NewClientFromRedisClient(h.rdb)
	defer c.Close()
	if _, err := c.EnqueueContext(context.Background(), orders.NewSyncTask(orders.SyncPayload{Merchant: "acme", Account: rakutenAccount}, 1)); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the Rakuten order in the widget, to ship", func() bool {
		o := h.widgetOrder(purchase)
		return o != nil && o["status"] == orders.StatusInProgress
	})

	form := h.confirmForm(t, h.sidebarButton(t, "ship"))
	form.Set("carrier_code", "Colissimo")
	form.Set("tracking_number", "6A12345678901")
	if status, page := h.postForm(t, form); status != http.StatusOK {
		t.Fatalf("the confirmed form: %d %s", status, page)
	}
	eventually(t, 30*time.Second, "the item shipped on Rakuten", func() bool {
		it, _ := fake.Item(rakutenLogin, item)
		return it.Status == api.StatusShipped
	})
	if it, _ := fake.Item(rakutenLogin, item); it.Tracking.Number != "6A12345678901" || it.Tracking.Transporter != "Colissimo" {
		t.Errorf("Rakuten's item after the ship: %+v", it)
	}
	defer func() {
		if t.Failed() {
			t.Logf("the widget's order: %v", h.widgetOrder(purchase))
		}
	}()
	eventually(t, 30*time.Second, "the widget to show it shipped", func() bool {
		o := h.widgetOrder(purchase)
		return o != nil && o["status"] == orders.StatusShipped
	})
	// Rakuten does not give the tracking back: the connector kept it.
	o := h.widgetOrder(purchase)
	if ships, _ := o["shipments"].([]any); len(ships) != 1 || ships[0].(map[string]any)["tracking_number"] != "6A12345678901" {
		t.Errorf("the widget's shipments: %v", o["shipments"])
	}
}

// A bridge restarted on the same Redis mirrors nothing twice and loses
// nothing: not what it mirrored before, nor what a process read from
// Rakuten (which marks it read, off the todo list) and died before
// mirroring, nor what came while it was down.
func TestRakutenRestartMirrorsOnceLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end")
	}
	fake, baseURL := rakutenFake(t)
	var items []string
	for i := range 4 {
		item := sellItem(t, fake, rakutenLogin, fmt.Sprintf("7100%02d", i), fmt.Sprintf("acheteur%d", i), fmt.Sprintf("r%d@rakuten-relay.example", i))
		items = append(items, item)
	}
	for _, item := range items[:2] {
		if err := fake.AddBuyerMessage(rakutenLogin, item, "Bonjour, une question sur "+item, time.Now().Add(-10*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	h := newHarness(t, harnessOptions{before: func(h *harness) {
		h.cfg.Merchants[0].Marketplaces = append(h.cfg.Merchants[0].Marketplaces,
			rakutenMarketplace(rakutenAccount, rakutenLogin, rakutenToken, "acme-gorgias", baseURL))
	}})
	sync := syncer(t, h)
	sync(rakutenAccount)
	eventually(t, 30*time.Second, "the first two tickets", func() bool { return len(rakutenTickets(h)) == 2 })
	h.settle()
	h.stop()

	// While the bridge is down: the first buyer writes again, a third one
	// writes, and a process (the bridge, killed before mirroring) reads
	// the fourth buyer's message from Rakuten, which marks it read.
	if err := fake.AddBuyerMessage(rakutenLogin, items[0], "Toujours là ?", time.Time{}); err != nil {
		t.Fatal(err)
	}
	for _, item := range items[2:] {
		if err := fake.AddBuyerMessage(rakutenLogin, item, "Bonjour, une question sur "+item, time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	dying, err := rakuten.New(rakuten.Options{BaseURL: baseURL, Login: rakutenLogin, Token: rakutenToken,
		Store: rakuten.NewRedisStore(h.rdb, h.cfg.Redis.KeyPrefix, rakutenAccount, nil)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dying.GetThread(t.Context(), rakuten.ThreadID(items[3], rakuten.CorrBuyer)); err != nil {
		t.Fatal(err)
	}

	h.start(ModeServe)
	sync = syncer(t, h)
	sync(rakutenAccount)
	eventually(t, 30*time.Second, "a ticket per thread after the restart", func() bool { return len(rakutenTickets(h)) == 4 })
	first := rakutenTickets(h)[rakuten.ThreadID(items[0], rakuten.CorrBuyer)]
	eventually(t, 30*time.Second, "the first buyer's new message", func() bool {
		full, _ := h.gorg.Ticket(first)
		return len(full.Messages) >= 2
	})
	sync(rakutenAccount)
	sync(rakutenAccount)
	h.settle()
	tickets := rakutenTickets(h)
	if len(tickets) != 4 {
		t.Errorf("%d tickets, want 4: %v", len(tickets), tickets)
	}
	for i, item := range items {
		full, _ := h.gorg.Ticket(tickets[rakuten.ThreadID(item, rakuten.CorrBuyer)])
		want := 1
		if i == 0 {
			want = 2
		}
		if len(full.Messages) != want {
			t.Errorf("item %d's ticket has %d messages, want %d", i, len(full.Messages), want)
		}
	}
	var n int
	for _, tk := range h.gorgiasTickets() {
		if strings.HasPrefix(tk.ExternalID, "bridge-disc-rakuten-") {
			n++
		}
	}
	if n != 4 {
		t.Errorf("%d Rakuten tickets in Gorgias, want 4", n)
	}
}
