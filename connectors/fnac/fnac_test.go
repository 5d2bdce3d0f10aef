package fnac_test

import (
	"crypto/sha256"
	"encoding/hex"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/helpdesk-bridge/bridge/connectors"
	"github.com/helpdesk-bridge/bridge/connectors/fault"
	"github.com/helpdesk-bridge/bridge/connectors/fnac"
	"github.com/helpdesk-bridge/bridge/connectors/fnac/api"
	"github.com/helpdesk-bridge/bridge/connectors/fnac/fnacfake"
	"github.com/helpdesk-bridge/bridge/connectors/marketplacetest"
)

const (
	partnerID = "11111111-1111-1111-1111-111111111111"
	fnacShop  = "22222222-2222-2222-2222-222222222222"
	fnacKey   = "fnac-key"
	dartyShop = "33333333-3333-3333-3333-333333333333"
	dartyKey  = "darty-key"
	// prefix mounts the fake below a path, so that a client dropping the
	// base URL's path fails every test.
	prefix = "/mp"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	marketplacetest.RunConformanceTests(t, func(t *testing.T) marketplacetest.Harness {
		return startFake(t, setup{})
	})
}

type setup struct {
	fake   fnacfake.Options
	client func(*fnac.Options)
}

// fakeHarness is the contract suite's view of a fresh fake account, and
// its Seeder.
type fakeHarness struct {
	fake  *fnacfake.Server
	url   string
	mp    *fnac.Client
	wrong *fnac.Client
	hc    *http.Client
	mu    sync.Mutex
	names map[string]string // thread id → customer name
}

func startFake(t *testing.T, s setup) *fakeHarness {
	t.Helper()
	s.fake.Shops = []fnacfake.Shop{
		{PartnerID: partnerID, ShopID: fnacShop, Key: fnacKey, Name: "Acme"},
		{PartnerID: partnerID, ShopID: dartyShop, Key: dartyKey, Name: "Acme on Darty"},
	}
	s.fake.PathPrefix = prefix
	fake := fnacfake.New(s.fake)
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	hc := srv.Client()
	hc.Timeout = time.Second
	h := &fakeHarness{fake: fake, url: srv.URL, hc: hc, names: map[string]string{}}
	h.mp = h.client(t, fnacShop, fnacKey, s.client)
	h.wrong = h.client(t, fnacShop, "not-the-key", s.client)
	return h
}

func (h *fakeHarness) client(t *testing.T, shop, key string, adjust func(*fnac.Options)) *fnac.Client {
	t.Helper()
	opts := fnac.Options{BaseURL: h.url + prefix + "/api.php", PartnerID: partnerID, ShopID: shop, Key: key, HTTPClient: h.hc}
	if adjust != nil {
		adjust(&opts)
	}
	c, err := fnac.New(opts)
	if err != nil {
		t.Fatalf("fnac.New: %v", err)
	}
	return c
}

func (h *fakeHarness) Marketplace() connectors.Marketplace      { return h.mp }
func (h *fakeHarness) WrongCredentials() connectors.Marketplace { return h.wrong }
func (h *fakeHarness) Faults() *fault.Injector                  { return h.fake.Faults() }
func (h *fakeHarness) Seeder() marketplacetest.Seeder           { return h }
func (h *fakeHarness) ExpireSessions(*testing.T)                { h.fake.ExpireTokens() }

func (h *fakeHarness) Quirks() marketplacetest.Quirk {
	return marketplacetest.Quirk{
		ThreadPerCorrespondent: true,
		UnlistedRecipients:     true,
		UnsizedAttachments:     true,
		IsReply: func(r *http.Request) bool {
			return strings.HasSuffix(r.URL.Path, "/"+api.ServiceMessagesUpdate)
		},
		OrderID:              fnacOrderID,
		LineID:               func(_ string, n int) string { return strconv.Itoa(n) },
		NoCommercialID:       true,
		UnlistedOrderUpdates: true,
		NoTrackingURL:        true,
		UnlistedCarrier:      true,
		CancelReason:         "no_stock",
		WholeLinesOnly:       true,
		IsOrderAction: func(r *http.Request) bool {
			return strings.HasSuffix(r.URL.Path, "/"+api.ServiceOrdersUpdate)
		},
	}
}

// fnacOrderID makes a Fnac-shaped order id (13 characters, as
// 57BEAFDA828A8) of one of the suite's names.
func fnacOrderID(name string) string {
	sum := sha256.Sum256([]byte(name))
	return strings.ToUpper(hex.EncodeToString(sum[:])[:api.OrderIDLen])
}

// AddThread seeds the thread's first message. The suite's orders are put
// in incident status, so that replies may go to the call centre too.
func (h *fakeHarness) AddThread(t *testing.T, th marketplacetest.SeedThread) string {
	t.Helper()
	order := th.OrderID
	from := api.FromClient
	if order == "" || th.Message.From == connectors.PartyOperator {
		from = api.FromCallCenter
	}
	if order == "" {
		order = "NOORDER" + strings.ToUpper(strings.ReplaceAll(time.Now().Format("150405.000000"), ".", ""))
	}
	h.fake.OpenIncident(fnacShop, order)
	id := fnac.ThreadID(api.TypeOrder, order, from)
	h.mu.Lock()
	h.names[id] = th.CustomerName
	h.mu.Unlock()
	h.add(t, id, th.Topic, th.Message)
	return id
}

func (h *fakeHarness) AddMessage(t *testing.T, threadID string, m marketplacetest.SeedMessage) {
	t.Helper()
	h.add(t, threadID, "", m)
}

func (h *fakeHarness) add(t *testing.T, threadID, topic string, m marketplacetest.SeedMessage) {
	t.Helper()
	parts := strings.Split(threadID, "/")
	if len(parts) != 3 {
		t.Fatalf("not a thread id: %s", threadID)
	}
	from := parts[2]
	switch m.From {
	case connectors.PartyCustomer:
		from = api.FromClient
	case connectors.PartyOperator:
		from = api.FromCallCenter
	}
	h.mu.Lock()
	name := h.names[threadID]
	h.mu.Unlock()
	if from == api.FromCallCenter {
		name = "Fnac"
	}
	seed := fnacfake.MessageSeed{
		RefererType: parts[0], RefererID: parts[1], From: from, FromName: name,
		Subject: topic, Body: m.Body, At: m.At,
	}
	if seed.Subject == "" {
		seed.Subject = "Question"
	}
	for _, f := range m.Files {
		seed.Files = append(seed.Files, fnacfake.FileSeed{Name: f.Name, Content: f.Content})
	}
	if _, err := h.fake.AddMessage(fnacShop, h.url, seed); err != nil {
		t.Fatalf("seeding a message: %v", err)
	}
}

// seedStates are the states PutOrder seeds an order's lines in for its
// Status: an order in progress can be shipped.
var seedStates = map[connectors.OrderStatus]string{
	connectors.OrderNew:        api.LineToAccept,
	connectors.OrderInProgress: api.OrderToShip,
	connectors.OrderShipped:    api.OrderShipped,
	connectors.OrderClosed:     api.OrderReceived,
	connectors.OrderCanceled:   api.OrderCancelled,
}

// PutOrder seeds an order as Fnac lists it: a line's price is its unit
// price, and what the total holds beyond the lines' prices is the first
// line's shipping price. The tracking URL and the carrier have no place
// in Fnac's answers.
func (h *fakeHarness) PutOrder(t *testing.T, o connectors.Order) {
	t.Helper()
	first, last, _ := strings.Cut(o.CustomerName, " ")
	state := o.State
	if state == "" {
		if state = seedStates[o.Status]; state == "" {
			t.Fatalf("no state to seed an order %s in", o.Status)
		}
	}
	order := api.Order{
		ClientID: o.CustomerID, ClientFirstname: first, ClientLastname: last, ClientEmail: o.CustomerEmail,
		OrderID: o.ID, CreatedAt: api.FormatTime(o.CreatedAt),
	}
	if len(o.Lines) == 0 {
		// The order's state: the lines' but for a new order.
		order.State = state
		if state == api.LineToAccept {
			order.State = api.OrderCreated
		}
	}
	lines := new(big.Rat)
	for _, l := range o.Lines {
		price, ok := new(big.Rat).SetString(l.Price)
		if !ok || l.Quantity < 1 {
			t.Fatalf("line %s: price %q for %d units", l.ID, l.Price, l.Quantity)
		}
		lines.Add(lines, price)
		d := api.OrderDetail{
			ID: l.ID, State: state, Quantity: l.Quantity, ProductName: l.Title, OfferSellerID: l.SKU,
			Price: new(big.Rat).Quo(price, big.NewRat(int64(l.Quantity), 1)).FloatString(2), Fees: "0",
			ProductFnacID: "1468739", OfferFnacID: "647BCF58-4DB6-541E-F5E6-8284EB4E130A", ProductState: "11",
			ShippingPrice: "0", ShippingMethod: "20", CreatedAt: api.FormatTime(o.CreatedAt),
			TrackingNumber: o.TrackingNumber,
		}
		if state != api.LineToAccept && state != api.OrderAccepted {
			d.DebitedAt = api.FormatTime(o.CreatedAt)
		}
		order.Details = append(order.Details, d)
	}
	if total, ok := new(big.Rat).SetString(o.Total); ok && len(order.Details) > 0 {
		order.Details[0].ShippingPrice = new(big.Rat).Sub(total, lines).FloatString(2)
	}
	if err := h.fake.PutOrder(fnacShop, order, o.UpdatedAt); err != nil {
		t.Fatalf("seeding an order: %v", err)
	}
}

// advances are the moves AdvanceOrder makes, by target status: billing,
// then the customer's receipt.
var advances = map[connectors.OrderStatus][2]string{
	connectors.OrderInProgress: {api.OrderAccepted, api.OrderToShip},
	connectors.OrderClosed:     {api.OrderShipped, api.OrderReceived},
}

func (h *fakeHarness) AdvanceOrder(t *testing.T, orderID string, to connectors.OrderStatus) {
	t.Helper()
	move, ok := advances[to]
	if !ok {
		t.Fatalf("cannot advance an order to %s", to)
	}
	if err := h.fake.MoveOrder(fnacShop, orderID, move[0], move[1]); err != nil {
		t.Fatal(err)
	}
}

// Sent returns the replies to the thread: those answering one of its
// correspondent's messages.
func (h *fakeHarness) Sent(t *testing.T, threadID string) []marketplacetest.SentMessage {
	t.Helper()
	var out []marketplacetest.SentMessage
	for _, s := range h.fake.Sent(fnacShop) {
		parent, ok := h.fake.Message(fnacShop, s.ParentID)
		if !ok || fnac.ThreadID(parent.Referer.Type, parent.Referer.ID, parent.From.Type) != threadID {
			continue
		}
		var to []connectors.PartyType
		switch s.To {
		case api.ToClient:
			to = []connectors.PartyType{connectors.PartyCustomer}
		case api.ToCallCenter:
			to = []connectors.PartyType{connectors.PartyOperator}
		case api.ToAll:
			to = []connectors.PartyType{connectors.PartyCustomer, connectors.PartyOperator}
		}
		out = append(out, marketplacetest.SentMessage{MessageID: s.MessageID, Body: s.Body, To: to})
	}
	return out
}

func TestCorrespondent(t *testing.T) {
	c, err := fnac.New(fnac.Options{BaseURL: "https://vendeur.fnac.example/api.php", PartnerID: "P", ShopID: "S", Key: "K"})
	if err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]connectors.PartyType{
		fnac.ThreadID(api.TypeOrder, "57BEAFDA828A8", api.FromClient):     connectors.PartyCustomer,
		fnac.ThreadID(api.TypeOrder, "57BEAFDA828A8", api.FromCallCenter): connectors.PartyOperator,
		fnac.ThreadID(api.TypeOffer, "OFFER-1", api.FromCallCenter):       connectors.PartyOperator,
	} {
		if got, ok := c.Correspondent(id); !ok || got != want {
			t.Errorf("Correspondent(%s) = %s, %t; want %s", id, got, ok, want)
		}
	}
	if _, ok := c.Correspondent("not-a-thread"); ok {
		t.Error("Correspondent of a malformed id is known")
	}
}
