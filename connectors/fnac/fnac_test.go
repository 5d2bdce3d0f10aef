package fnac_test

import (
	"net/http"
	"net/http/httptest"
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
	}
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

func (h *fakeHarness) PutOrder(t *testing.T, _ connectors.Order) {
	t.Skip("the Fnac connector does not read orders yet")
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
