package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	rapi "github.com/helpdesk-bridge/bridge/connectors/rakuten/api"
	"github.com/helpdesk-bridge/bridge/connectors/rakuten/rakutenfake"
)

// The Rakuten phases' seller, on a fake of Rakuten France's sales_ws.
// Made up.
const (
	rakutenAccount = "bench-rakuten"
	rakutenLogin   = "bench-boutique"
	rakutenSeller  = "18350001"
)

// rakutenTemplate is the merchant's marketplaces block for the Rakuten
// seller: the fake's base URL, then settings lines at the account's
// indentation. The key is the seller's web service token.
const rakutenTemplate = `    marketplaces:
      - id: ` + rakutenAccount + `
        kind: rakuten
        store: ` + benchStore + `
        helpdesk: bench-gorgias
        base_url: "%s"
        api_key: ${BENCH_MARKET_KEY}
        rakuten:
          login: ` + rakutenLogin + `
        %s
`

// fakeRakuten is the Rakuten fake on loopback behind a recorder of when
// the bridge's syncs listed messages. The fake's hourly quota is off:
// the bench measures the bridge, not the quota.
type fakeRakuten struct {
	*rakutenfake.Server
	url string
	srv *http.Server

	mu       sync.Mutex
	listings []time.Time
	requests int
	sold     map[int]bool // orders put on sale
}

func serveRakuten(key string) (marketFake, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	f := &fakeRakuten{
		Server: rakutenfake.New(rakutenfake.Options{Accounts: []rakutenfake.Account{{Login: rakutenLogin, Token: key, SellerID: rakutenSeller}}}),
		url:    "http://" + l.Addr().String(),
		sold:   map[int]bool{},
	}
	f.srv = &http.Server{Handler: f, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = f.srv.Serve(l) }()
	return f, nil
}

func (f *fakeRakuten) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = f.srv.Shutdown(ctx)
}

func (f *fakeRakuten) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	arrived := time.Now()
	// Rakuten lists nothing by date: a sync's listing starts with the
	// todo list, then reads each item on it.
	listing := r.URL.Query().Get(rapi.ParamAction) == rapi.ActionGetItemTodoList
	f.mu.Lock()
	f.requests++
	if listing {
		f.listings = append(f.listings, arrived)
	}
	f.mu.Unlock()
	f.Server.ServeHTTP(w, r)
}

func (f *fakeRakuten) account(settings ...string) string {
	return fmt.Sprintf(rakutenTemplate, f.url, strings.Join(settings, "\n        "))
}

// rakutenPurchase and rakutenItem are an order's purchase and its one
// item, numeric as Rakuten's are.
func rakutenPurchase(order int) string { return fmt.Sprintf("9%08d", order) }
func rakutenItem(order int) string     { return rakutenPurchase(order) + "1" }

// addMessage sells the order's item the first time it sees the order,
// an hour before the message (well within the contact windows), then
// adds the buyer's message about it.
func (f *fakeRakuten) addMessage(order int, token string, at time.Time) error {
	f.mu.Lock()
	sold := f.sold[order]
	f.sold[order] = true
	f.mu.Unlock()
	item := rakutenItem(order)
	if !sold {
		date := at
		if date.IsZero() {
			date = time.Now()
		}
		if err := f.PutSale(rakutenLogin, rakutenfake.SaleSeed{
			PurchaseID: rakutenPurchase(order), Date: date.Add(-time.Hour),
			BuyerLogin: fmt.Sprintf("acheteur%d", order), BuyerEmail: fmt.Sprintf("b%d@rakuten-relay.example", order),
			FirstName: "Client", LastName: fmt.Sprint(order),
			Items: []rakutenfake.ItemSeed{{ItemID: item, SKU: "SKU-" + item, Headline: "Casque audio", Price: "59.90", Currency: "EUR", Status: rapi.StatusAccepted}},
		}); err != nil {
			return err
		}
	}
	return f.AddBuyerMessage(rakutenLogin, item, "Bonjour, où en est ma commande ? Ref "+token, at)
}

func (f *fakeRakuten) recorded() ([]time.Time, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.listings), f.requests
}
