package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	fapi "github.com/helpdesk-bridge/bridge/connectors/fnac/api"
	"github.com/helpdesk-bridge/bridge/connectors/fnac/fnacfake"
)

// The Fnac phases' shop, on a fake of Fnac Darty's seller API. Made up,
// in the shape of Fnac's ids.
const (
	fnacAccount = "bench-fnac"
	fnacPartner = "0B1C2D3E-0000-4000-8000-000000000001"
	fnacShop    = "0B1C2D3E-0000-4000-8000-00000000F0AC"
)

// fnacTemplate is the merchant's marketplaces block for the Fnac shop:
// the fake's base URL, then settings lines at the account's indentation.
// mark_read and archive_when_closed are left off, as they ship.
const fnacTemplate = `    marketplaces:
      - id: ` + fnacAccount + `
        kind: fnac
        store: ` + benchStore + `
        helpdesk: bench-gorgias
        base_url: "%s"
        shop_id: ` + fnacShop + `
        api_key: ${BENCH_MARKET_KEY}
        fnac:
          platform: fnac
          partner_id: ` + fnacPartner + `
        %s
`

// fakeFnac is the Fnac fake on loopback behind a recorder of when the
// bridge's syncs listed messages.
type fakeFnac struct {
	*fnacfake.Server
	url string // the server's root; the API is under /api.php
	srv *http.Server

	mu       sync.Mutex
	listings []time.Time
	requests int
}

func serveFnac(key string) (marketFake, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	f := &fakeFnac{
		Server: fnacfake.New(fnacfake.Options{Shops: []fnacfake.Shop{{PartnerID: fnacPartner, ShopID: fnacShop, Key: key, Name: "fnac"}}}),
		url:    "http://" + l.Addr().String(),
	}
	f.srv = &http.Server{Handler: f, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = f.srv.Serve(l) }()
	return f, nil
}

func (f *fakeFnac) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = f.srv.Shutdown(ctx)
}

func (f *fakeFnac) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	arrived := time.Now()
	listing := false
	if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/"+fapi.ServiceMessagesQuery) {
		// A sync's listing asks by date; reading one thread asks by its
		// order or offer.
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		r.Body = io.NopCloser(bytes.NewReader(body))
		var q fapi.MessagesQuery
		if fapi.Decode(body, &q) == nil {
			listing = q.OrderID == "" && q.OfferID == "" && q.MessageID == ""
		}
	}
	f.mu.Lock()
	f.requests++
	if listing {
		f.listings = append(f.listings, arrived)
	}
	f.mu.Unlock()
	f.Server.ServeHTTP(w, r)
}

func (f *fakeFnac) account(settings ...string) string {
	return fmt.Sprintf(fnacTemplate, f.url+"/api.php", strings.Join(settings, "\n        "))
}

// fnacOrder is an order id of Fnac's length, 13 characters.
func fnacOrder(order int) string { return fmt.Sprintf("BENCH%08d", order) }

func (f *fakeFnac) addMessage(order int, token string, at time.Time) error {
	_, err := f.AddMessage(fnacShop, f.url, fnacfake.MessageSeed{
		RefererID: fnacOrder(order), FromName: fmt.Sprintf("Client %d", order), Subject: "Question",
		Body: "Bonjour, où en est ma commande ? Ref " + token, At: at,
	})
	return err
}

func (f *fakeFnac) recorded() ([]time.Time, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.listings), f.requests
}
