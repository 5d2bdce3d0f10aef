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
	"github.com/helpdesk-bridge/bridge/connectors/fnac/api"
	"github.com/helpdesk-bridge/bridge/connectors/fnac/fnacfake"
	"github.com/helpdesk-bridge/bridge/connectors/gorgias/gorgiasfake"
	"github.com/helpdesk-bridge/bridge/discussions"
	"github.com/helpdesk-bridge/bridge/orders"
)

// The Fnac and Darty shops of the Fnac tests: one Fnac Darty API, two
// accounts.
const (
	fnacPartner = "0A1B2C3D-0000-4000-8000-000000000001"
	fnacShop    = "0A1B2C3D-0000-4000-8000-00000000F0AC"
	fnacKey     = "0A1B2C3D-0000-4000-8000-0000000000EE"
	dartyShop   = "0A1B2C3D-0000-4000-8000-00000000DA27"
	dartyKey    = "0A1B2C3D-0000-4000-8000-0000000000DD"
)

func fnacAccount(id, platform, shop, key, helpdesk, baseURL string) config.Marketplace {
	return config.Marketplace{
		ID: id, Kind: config.KindFnac, Name: platform, Store: "acme-fr", Helpdesk: helpdesk,
		BaseURL: baseURL, ShopID: shop, APIKey: config.NewSecret(key),
		SyncEvery: time.Hour, Overlap: 2 * time.Minute, Backfill: 30 * 24 * time.Hour, SettleDelay: 3 * time.Second,
		RateLimit: config.RateLimit{Requests: 600, Per: time.Minute},
		Fnac:      &config.FnacAccount{Platform: platform, PartnerID: fnacPartner, MarkRead: true, ArchiveWhenClosed: true},
	}
}

// Fnac's and Darty's discussions, end to end on a real Redis against the
// Fnac fake: a backfill of N threads gives N tickets; a new client
// message is appended once; an agent's reply from Gorgias reaches the
// client as plain text, one from Zendesk reaches Darty's client, and one
// to the call centre on an order without an incident, which Fnac
// refuses, becomes a note; messages are marked read once mirrored and a
// solved ticket's thread is archived, as the accounts ask.
func TestFnacDiscussionsEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end")
	}
	fake := fnacfake.New(fnacfake.Options{Shops: []fnacfake.Shop{
		{PartnerID: fnacPartner, ShopID: fnacShop, Key: fnacKey, Name: "fnac"},
		{PartnerID: fnacPartner, ShopID: dartyShop, Key: dartyKey, Name: "darty"},
	}})
	ts := httptest.NewServer(fake)
	t.Cleanup(ts.Close)
	base := time.Now().Add(-time.Hour).Truncate(time.Second)
	const n = 6
	var first string
	for i := range n {
		id, err := fake.AddMessage(fnacShop, ts.URL, fnacfake.MessageSeed{
			RefererID: fmt.Sprintf("FNAC%09d", i), FromName: fmt.Sprintf("Client %d", i), Subject: "Question",
			Body: fmt.Sprintf("Bonjour, où en est ma commande %d ?", i), At: base.Add(time.Duration(i) * time.Minute),
		})
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = id
		}
	}
	if _, err := fake.AddMessage(dartyShop, ts.URL, fnacfake.MessageSeed{RefererID: "DARTY00000001", FromName: "Client D", Subject: "Question", Body: "Le lave-linge fuit.", At: base}); err != nil {
		t.Fatal(err)
	}

	h := newHarness(t, harnessOptions{before: func(h *harness) {
		h.cfg.Merchants[0].Marketplaces = append(h.cfg.Merchants[0].Marketplaces,
			fnacAccount("acme-fnac", "fnac", fnacShop, fnacKey, "acme-gorgias", ts.URL+"/api.php"),
			fnacAccount("acme-darty", "darty", dartyShop, dartyKey, "acme-zendesk", ts.URL+"/api.php"))
	}})
	c := asynq.NewClientFromRedisClient(h.rdb)
	defer c.Close()
	sync := func(account string) {
		t.Helper()
		if _, err := c.EnqueueContext(context.Background(), discussions.NewSyncTask(discussions.SyncPayload{Merchant: "acme", Account: account}, 1)); err != nil {
			t.Fatal(err)
		}
	}
	prefix := "bridge-disc-fnac-" + fnacShop + "-"
	tickets := func() map[string]int64 {
		out := map[string]int64{}
		for _, tk := range h.gorgiasTickets() {
			if strings.HasPrefix(tk.ExternalID, prefix) {
				out[strings.TrimPrefix(tk.ExternalID, prefix)] = tk.ID
			}
		}
		return out
	}

	sync("acme-fnac")
	eventually(t, 30*time.Second, "a ticket per Fnac thread", func() bool { return len(tickets()) == n })
	h.settle()
	if got := len(tickets()); got != n {
		t.Fatalf("%d tickets for %d threads", got, n)
	}
	// Mirrored, so marked read on Fnac (mark_read).
	if m, ok := fake.Message(fnacShop, first); !ok || m.State != api.StateRead {
		t.Errorf("the first message after mirroring: %+v, want READ", m)
	}

	// A new message from the first client: appended once, however often
	// the sync runs.
	if _, err := fake.AddMessage(fnacShop, ts.URL, fnacfake.MessageSeed{RefererID: "FNAC000000000", FromName: "Client 0", Subject: "Question", Body: "Des nouvelles ?"}); err != nil {
		t.Fatal(err)
	}
	thread := "ORDER/FNAC000000000/CLIENT"
	tk := tickets()[thread]
	if tk == 0 {
		t.Fatalf("no ticket for %s among %v", thread, tickets())
	}
	sync("acme-fnac")
	eventually(t, 30*time.Second, "the new message in the ticket", func() bool {
		full, _ := h.gorg.Ticket(tk)
		return len(full.Messages) >= 2
	})
	sync("acme-fnac")
	h.settle()
	if full, _ := h.gorg.Ticket(tk); len(full.Messages) != 2 || !strings.Contains(full.Messages[1].BodyText, "Des nouvelles ?") {
		t.Errorf("the ticket has %d messages, want the two: %+v", len(full.Messages), full.Messages)
	}

	// An agent's reply goes to the client as plain text.
	h.agentReply(tk, gorgiasfake.AgentReply{BodyText: "Bonjour, elle part aujourd'hui.", BodyHTML: "<p>Bonjour, elle part <b>aujourd'hui</b>.</p>"})
	eventually(t, 20*time.Second, "the reply on Fnac", func() bool { return len(fake.Sent(fnacShop)) == 1 })
	if s := fake.Sent(fnacShop)[0]; s.To != api.ToClient || s.Body != "Bonjour, elle part aujourd'hui." {
		t.Errorf("sent %+v, want plain text to the client", s)
	}

	// To the call centre on an order without an incident: Fnac refuses,
	// and the agent reads why in a note.
	h.agentReply(tk, gorgiasfake.AgentReply{BodyText: "To: operator\nMerci de vérifier ce colis."})
	eventually(t, 20*time.Second, "the refusal note", func() bool {
		full, _ := h.gorg.Ticket(tk)
		last := full.Messages[len(full.Messages)-1]
		return last.Public != nil && !*last.Public && strings.HasPrefix(last.ExternalID, "bridge-refused-")
	})
	if n := len(fake.Sent(fnacShop)); n != 1 {
		t.Errorf("%d replies reached Fnac, want the first only", n)
	}

	// Solved: the thread is archived on Fnac (archive_when_closed).
	h.agentReply(tk, gorgiasfake.AgentReply{BodyText: "Bonne journée !", Status: "closed"})
	eventually(t, 20*time.Second, "the thread archived on Fnac", func() bool {
		m, _ := fake.Message(fnacShop, first)
		return m.Archived == "TRUE"
	})

	// Darty's shop, answered from Zendesk.
	sync("acme-darty")
	var zt int64
	eventually(t, 30*time.Second, "the Darty ticket in Zendesk", func() bool {
		for _, tk := range h.zend.Tickets() {
			if strings.HasPrefix(tk.ExternalID, "bridge-disc-darty-"+dartyShop+"-") {
				zt = tk.ID
			}
		}
		return zt != 0
	})
	zbody, _ := json.Marshal(map[string]any{"html_body": "<p>Un technicien passe <i>demain</i>.</p>"})
	zresp, err := http.Post(h.zendTS.URL+"/acme/_fake/tickets/"+strconv.FormatInt(zt, 10)+"/agent-reply", "application/json", bytes.NewReader(zbody))
	if err != nil {
		t.Fatal(err)
	}
	zresp.Body.Close()
	eventually(t, 20*time.Second, "the Zendesk reply on Darty", func() bool { return len(fake.Sent(dartyShop)) == 1 })
	if s := fake.Sent(dartyShop)[0]; s.To != api.ToClient || s.Body != "Un technicien passe demain." {
		t.Errorf("Darty got %+v, want plain text to the client", s)
	}
	h.settle()
}

// A Fnac order reaches the sidebar through the order sync, and an agent
// ships it from the HTML sidebar's confirmation form: Fnac has it
// shipped with the tracking, and the widget shows it so.
func TestFnacOrderShippedFromTheSidebar(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end")
	}
	fake := fnacfake.New(fnacfake.Options{Shops: []fnacfake.Shop{{PartnerID: fnacPartner, ShopID: fnacShop, Key: fnacKey, Name: "fnac"}}})
	ts := httptest.NewServer(fake)
	t.Cleanup(ts.Close)
	const orderID = "1A2B3C4D5E6F7"
	created := time.Now().Add(-2 * time.Hour).Truncate(time.Second)
	err := fake.PutOrder(fnacShop, api.Order{
		OrderID: orderID, ClientID: "C-77", ClientFirstname: "Lou", ClientLastname: "Martin", ClientEmail: actionsBuyer,
		State: "ToShip", CreatedAt: created.Format(time.RFC3339),
		Details: []api.OrderDetail{{ID: "1", State: "ToShip", Quantity: 1, Price: "59.90", ProductName: "Casque audio", OfferSellerID: "CASQUE-1"}},
	}, created)
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, harnessOptions{before: func(h *harness) {
		mk := fnacAccount("acme-fnac", "fnac", fnacShop, fnacKey, "acme-gorgias", ts.URL+"/api.php")
		mk.SyncOrders = true
		h.cfg.Merchants[0].Marketplaces = append(h.cfg.Merchants[0].Marketplaces, mk)
	}})
	c := asynq.NewClientFromRedisClient(h.rdb)
	defer c.Close()
	if _, err := c.EnqueueContext(context.Background(), orders.NewSyncTask(orders.SyncPayload{Merchant: "acme", Account: "acme-fnac"}, 1)); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the Fnac order in the widget, to ship", func() bool {
		o := h.widgetOrder(orderID)
		return o != nil && o["status"] == orders.StatusInProgress && o["marketplace_status"] == "ToShip"
	})

	form := h.confirmForm(t, h.sidebarButton(t, "ship"))
	form.Set("carrier_code", "Colissimo")
	form.Set("tracking_number", "6A12345678901")
	if status, page := h.postForm(t, form); status != http.StatusOK {
		t.Fatalf("the confirmed form: %d %s", status, page)
	}
	eventually(t, 30*time.Second, "the order shipped on Fnac", func() bool {
		o, _, _ := fake.Order(fnacShop, orderID)
		return o.State == "Shipped"
	})
	if o, carriers, _ := fake.Order(fnacShop, orderID); o.Details[0].TrackingNumber != "6A12345678901" || carriers["1"] != "Colissimo" {
		t.Errorf("Fnac's order after the ship: %+v, carriers %v", o.Details[0], carriers)
	}
	eventually(t, 30*time.Second, "the widget to show it shipped", func() bool {
		o := h.widgetOrder(orderID)
		return o != nil && o["status"] == orders.StatusShipped
	})
}
