package rakuten_test

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/helpdesk-bridge/bridge/connectors"
	"github.com/helpdesk-bridge/bridge/connectors/fault"
	"github.com/helpdesk-bridge/bridge/connectors/marketplacetest"
	"github.com/helpdesk-bridge/bridge/connectors/rakuten"
	"github.com/helpdesk-bridge/bridge/connectors/rakuten/api"
	"github.com/helpdesk-bridge/bridge/connectors/rakuten/rakutenfake"
)

const (
	login = "vendeur"
	token = "the-token"
	// prefix mounts the fake below a path, so that a client dropping the
	// base URL's path fails every test.
	prefix = "/rk"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	marketplacetest.RunConformanceTests(t, func(t *testing.T) marketplacetest.Harness {
		return startFake(t, setup{})
	})
}

type setup struct {
	fake   rakutenfake.Options
	client func(*rakuten.Options)
}

// fakeHarness is the contract suite's view of a fresh fake account, and
// its Seeder.
type fakeHarness struct {
	fake  *rakutenfake.Server
	url   string
	mp    *rakuten.Client
	wrong *rakuten.Client
	hc    *http.Client

	mu     sync.Mutex
	nextID int
	sales  map[string]*rakutenfake.SaleSeed // by purchase id
}

func startFake(t *testing.T, s setup) *fakeHarness {
	t.Helper()
	s.fake.Accounts = []rakutenfake.Account{{Login: login, Token: token, SellerID: "18352654"}}
	s.fake.PathPrefix = prefix
	fake := rakutenfake.New(s.fake)
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	hc := srv.Client()
	hc.Timeout = time.Second
	h := &fakeHarness{fake: fake, url: srv.URL, hc: hc, nextID: 150000000, sales: map[string]*rakutenfake.SaleSeed{}}
	h.mp = h.client(t, token, s.client)
	h.wrong = h.client(t, "not-the-token", s.client)
	return h
}

func (h *fakeHarness) client(t *testing.T, tok string, adjust func(*rakuten.Options)) *rakuten.Client {
	t.Helper()
	opts := rakuten.Options{BaseURL: h.url + prefix, Login: login, Token: tok, HTTPClient: h.hc}
	if adjust != nil {
		adjust(&opts)
	}
	c, err := rakuten.New(opts)
	if err != nil {
		t.Fatalf("rakuten.New: %v", err)
	}
	return c
}

func (h *fakeHarness) Marketplace() connectors.Marketplace      { return h.mp }
func (h *fakeHarness) WrongCredentials() connectors.Marketplace { return h.wrong }
func (h *fakeHarness) Faults() *fault.Injector                  { return h.fake.Faults() }
func (h *fakeHarness) Seeder() marketplacetest.Seeder           { return h }

func action(r *http.Request) string { return r.URL.Query().Get(api.ParamAction) }

func (h *fakeHarness) Quirks() marketplacetest.Quirk {
	return marketplacetest.Quirk{
		ThreadPerCorrespondent: true,
		RepliesToTheThread:     true,
		NoFiles:                true,
		TimeGrain:              api.Grain,
		SingleUnitLines:        true,
		IsReply: func(r *http.Request) bool {
			a := action(r)
			return a == api.ActionContactUserAboutItem || a == api.ActionContactUsAboutItem
		},
		IsOrderAction: func(r *http.Request) bool {
			return slices.Contains([]string{api.ActionAcceptSale, api.ActionRefuseSale, api.ActionSetTrackingPackage, api.ActionCancelItem}, action(r))
		},
		// A sale gives no tracking, total nor update time; its date is to
		// the minute, its lines one unit each, its buyer's name the
		// billing address's.
		ListedOrder: func(o connectors.Order) connectors.Order {
			o.CreatedAt = o.CreatedAt.Truncate(api.Grain)
			o.UpdatedAt = time.Time{}
			o.CommercialID = o.ID // Rakuten has the purchaseid only
			o.TrackingNumber, o.TrackingURL, o.Carrier, o.Total = "", "", "", ""
			o.Actions = nil
			for i := range o.Lines {
				o.Lines[i].Quantity = 1
			}
			return o
		},
	}
}

// itemOf is the item of a thread id.
func itemOf(t *testing.T, threadID string) (string, string) {
	t.Helper()
	item, corr, ok := strings.Cut(threadID, "/")
	if !ok {
		t.Fatalf("not a thread id: %s", threadID)
	}
	return item, corr
}

// AddThread sells an item of the thread's order (a purchase of its own
// when it has none) and writes the first message about it: the buyer's,
// or Rakuten's mail.
func (h *fakeHarness) AddThread(t *testing.T, th marketplacetest.SeedThread) string {
	t.Helper()
	h.mu.Lock()
	h.nextID++
	itemID := strconv.Itoa(h.nextID)
	purchase := th.OrderID
	if purchase == "" {
		purchase = "P" + itemID
	}
	sale := h.sales[purchase]
	if sale == nil {
		sale = &rakutenfake.SaleSeed{PurchaseID: purchase, Date: time.Now().Add(-2 * time.Hour), BuyerLogin: th.CustomerName, BuyerEmail: "buyer." + itemID + "@priceminister.com"}
		h.sales[purchase] = sale
	}
	sale.Items = append(sale.Items, rakutenfake.ItemSeed{ItemID: itemID, SKU: "SKU-" + itemID, Headline: cmpOr(th.Topic, "Mug"), Price: "12.5", Status: api.StatusAccepted})
	seed := *sale
	h.mu.Unlock()
	if err := h.fake.PutSale(login, seed); err != nil {
		t.Fatalf("seeding a sale: %v", err)
	}
	corr := rakuten.CorrBuyer
	if th.OrderID == "" || th.Message.From == connectors.PartyOperator {
		corr = rakuten.CorrRakuten
	}
	id := rakuten.ThreadID(itemID, corr)
	h.AddMessage(t, id, th.Message)
	return id
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func (h *fakeHarness) AddMessage(t *testing.T, threadID string, m marketplacetest.SeedMessage) {
	t.Helper()
	item, corr := itemOf(t, threadID)
	toRakuten := m.From == connectors.PartyOperator || (m.From == "" && corr == rakuten.CorrRakuten)
	var err error
	if toRakuten {
		_, err = h.fake.AddMail(login, item, "Concernant votre vente "+item, m.Body, m.At)
	} else {
		err = h.fake.AddBuyerMessage(login, item, m.Body, m.At)
	}
	if err != nil {
		t.Fatalf("seeding a message: %v", err)
	}
}

// seedStatus is the item status PutOrder seeds for a Status.
var seedStatus = map[connectors.OrderStatus]string{
	connectors.OrderNew:        api.StatusToConfirm,
	connectors.OrderInProgress: api.StatusAccepted,
	connectors.OrderShipped:    api.StatusShipped,
	connectors.OrderClosed:     api.StatusClosed,
	connectors.OrderCanceled:   api.StatusCancelled,
}

func (h *fakeHarness) PutOrder(t *testing.T, o connectors.Order) {
	t.Helper()
	status := o.State
	if status == "" {
		status = seedStatus[o.Status]
	}
	first, last, _ := strings.Cut(o.CustomerName, " ")
	seed := rakutenfake.SaleSeed{PurchaseID: o.ID, Date: o.CreatedAt, BuyerLogin: o.CustomerID, BuyerEmail: o.CustomerEmail, FirstName: first, LastName: last}
	for _, l := range o.Lines {
		seed.Items = append(seed.Items, rakutenfake.ItemSeed{ItemID: l.ID, SKU: l.SKU, Headline: l.Title, Price: l.Price, Currency: o.Currency, Status: status})
	}
	if len(seed.Items) == 0 {
		seed.Items = []rakutenfake.ItemSeed{{ItemID: o.ID + "-1", Headline: "Article", Price: "1.0", Status: status}}
	}
	if err := h.fake.PutSale(login, seed); err != nil {
		t.Fatalf("seeding an order: %v", err)
	}
}

// AdvanceOrder: an accepted item can be shipped at once; a shipped one is
// closed by Rakuten once received.
func (h *fakeHarness) AdvanceOrder(t *testing.T, orderID string, to connectors.OrderStatus) {
	t.Helper()
	if to != connectors.OrderClosed {
		return
	}
	for i := 1; ; i++ {
		id := orderID + "-" + strconv.Itoa(i)
		it, ok := h.fake.Item(login, id)
		if !ok {
			return
		}
		if it.Status == api.StatusShipped {
			if err := h.fake.SetStatus(login, id, api.StatusClosed); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// CloseContactWindow ages the thread's item: ordered 60 days ago,
// received 40 days ago, past both windows.
func (h *fakeHarness) CloseContactWindow(t *testing.T, threadID string) {
	t.Helper()
	item, _ := itemOf(t, threadID)
	now := time.Now()
	if err := h.fake.Age(login, item, now.Add(-60*24*time.Hour), now.Add(-40*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
}

// Sent returns what the shop sent to the thread's correspondent, with the
// ids the connector gives those messages.
func (h *fakeHarness) Sent(t *testing.T, threadID string) []marketplacetest.SentMessage {
	t.Helper()
	item, corr := itemOf(t, threadID)
	want, to := api.ActionContactUserAboutItem, connectors.PartyCustomer
	if corr == rakuten.CorrRakuten {
		want, to = api.ActionContactUsAboutItem, connectors.PartyOperator
	}
	var out []marketplacetest.SentMessage
	for _, s := range h.fake.Sent(login) {
		if s.ItemID == item && s.Action == want {
			out = append(out, marketplacetest.SentMessage{Body: s.Content, To: []connectors.PartyType{to}})
		}
	}
	if len(out) == 0 {
		return nil
	}
	// The ids are the connector's: read them from the thread.
	th, err := h.mp.GetThread(t.Context(), threadID)
	if err != nil {
		t.Fatalf("reading the thread for its ids: %v", err)
	}
	i := 0
	for _, m := range th.Messages {
		if m.From.Type == connectors.PartyShop && i < len(out) && m.Body == out[i].Body {
			out[i].MessageID = m.ID
			i++
		}
	}
	return out
}
