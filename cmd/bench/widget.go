package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/helpdesk-bridge/bridge/bridge/events"
	"github.com/helpdesk-bridge/bridge/widgets"
)

// widgetPath is the Gorgias sidebar's read.
const widgetPath = "/v1/widgets/gorgias"

// The customer the widget phase reads: one buyer with widgetOrders orders,
// each with 2 or 3 lines and one shipment, as a busy customer of a
// marketplace seller has. Customer data is made up.
const (
	widgetEmail  = "camille.durand@bench.example"
	widgetName   = "Camille Durand"
	widgetPhone  = "+33 6 12 34 56 78"
	widgetOrders = 20
)

// widgetResult is phase (c): the widget and its two baselines read by the
// same load generator, in interleaved rounds.
type widgetResult struct {
	orders, workers, rounds int
	round, warmup           time.Duration
	// widget, constant and get2k: the bridge's widget, the baselines
	// server's constant JSON and its one Redis GET of 2 KB.
	widget, constant, get2k targetResult
	bridgeWarnings          int
	bridgeErrors            int
	baselineWarnings        int
	baselineErrors          int
}

// widgetPhase seeds one customer through signed events, waits until the
// bridge's widget shows all of it, then reads the widget and the two
// baselines in turns.
func (r *rig) widgetPhase(ctx context.Context) (*widgetResult, error) {
	if err := r.flush(ctx); err != nil {
		return nil, err
	}
	setCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	err := r.rdb.Set(setCtx, get2kKey, get2kValue(), 0).Err()
	cancel()
	if err != nil {
		return nil, fmt.Errorf("set the 2 KB baseline value: %w", err)
	}
	// The widget phase calls no helpdesk: the alerts' URL is never used.
	b, err := r.startBridge(ctx, "widget", "http://127.0.0.1:1", "")
	if err != nil {
		return nil, err
	}
	defer b.stop()
	base, err := r.startBaselines(ctx)
	if err != nil {
		return nil, err
	}
	defer base.stop()

	widgetURL := b.url + widgetPath + "?email=" + url.QueryEscape(widgetEmail)
	auth := http.Header{"Authorization": {"Bearer " + r.sidebarToken}}
	r.logf("widget read: seeding %d orders with lines and a shipment each", widgetOrders)
	if err := r.seedWidget(ctx, b, widgetURL, auth); err != nil {
		return nil, b.explain(err)
	}

	o := r.o
	targets := []target{
		{name: "widget", url: widgetURL, header: auth, check: freshWidget},
		{name: "const", url: base.url + constRoute},
		{name: "get2k", url: base.url + getRoute},
	}
	r.logf("widget read: %d workers, %s warm-up per target, then %d rounds of %s per target, interleaved", o.widgetWorkers, o.widgetWarmup, o.widgetRounds, o.widgetRound)
	gen := newLoadGen(o.widgetWorkers)
	gen.counter = r.redisGets
	defer gen.close()
	res, err := gen.interleave(ctx, targets, o.widgetWarmup, o.widgetRound, o.widgetRounds, func(i int, t target, rr roundResult) {
		r.logf("widget read: round %d/%d %-6s %8.1f req/s", i, o.widgetRounds, t.name, rr.rate())
	})
	if err != nil {
		return nil, b.explain(base.explain(err))
	}
	for _, p := range []*bridgeProc{b, base} {
		if p.exited() {
			return nil, p.explain(fmt.Errorf("%s exited during the widget phase: %v", p.what, p.err))
		}
	}
	b.stop()
	base.stop()
	return &widgetResult{
		orders: widgetOrders, workers: o.widgetWorkers, rounds: o.widgetRounds, round: o.widgetRound, warmup: o.widgetWarmup,
		widget: res[0], constant: res[1], get2k: res[2],
		bridgeWarnings: b.logs.warnings(), bridgeErrors: b.logs.errors(),
		baselineWarnings: base.logs.warnings(), baselineErrors: base.logs.errors(),
	}, nil
}

// redisGets is how many GET commands the Redis server has run. Read
// around each round, it tells how many round trips an answer cost: the
// widget's identical concurrent reads share one GET, the baseline's do
// not. The bridge's background work (asynq) issues few GETs, if any.
func (r *rig) redisGets(ctx context.Context) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	info, err := r.rdb.Info(ctx, "commandstats").Result()
	if err != nil {
		return 0, err
	}
	return parseCalls(info, "get")
}

// parseCalls finds cmd's calls in the answer of INFO commandstats, whose
// lines read "cmdstat_get:calls=12,usec=34,...". A command never run has
// no line: zero calls.
func parseCalls(info, cmd string) (int64, error) {
	for _, line := range strings.Split(info, "\n") {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), "cmdstat_"+cmd+":")
		if !ok {
			continue
		}
		for _, field := range strings.Split(rest, ",") {
			if v, ok := strings.CutPrefix(field, "calls="); ok {
				return strconv.ParseInt(v, 10, 64)
			}
		}
		return 0, fmt.Errorf("INFO commandstats: no calls in %q", line)
	}
	return 0, nil
}

// freshWidget accepts a widget rendered from Redis: a 200 that answers
// from the last known data ("stale") or without data ("unavailable")
// would measure the fallback, not the read. The status is the payload's
// second field, so looking at its start is enough.
func freshWidget(body []byte) bool {
	return bytes.Contains(body[:min(len(body), 64)], []byte(`"status":"ok"`))
}

// seedWidget posts the orders, waits until the widget lists them all,
// then posts one shipment per order and waits until each shows. Orders go
// first so that no shipment can arrive before its order, whatever the
// workers' order.
func (r *rig) seedWidget(ctx context.Context, b *bridgeProc, widgetURL string, auth http.Header) error {
	orders, shipments, err := widgetEvents(time.Now(), r.secret)
	if err != nil {
		return err
	}
	client := &http.Client{Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	for _, step := range []struct {
		what  string
		evs   []signedEvent
		ready func(widgetView) bool
	}{
		{"orders", orders, func(v widgetView) bool { return len(v.Orders) == widgetOrders }},
		{"shipments", shipments, func(v widgetView) bool { return v.complete() }},
	} {
		for _, ev := range step.evs {
			if err := postSeed(ctx, client, b.url, ev); err != nil {
				return err
			}
		}
		if err := waitWidget(ctx, client, b, widgetURL, auth, 30*time.Second, step.ready); err != nil {
			return fmt.Errorf("waiting for the %s: %w", step.what, err)
		}
	}
	return nil
}

// postSeed posts one event and wants it accepted.
func postSeed(ctx context.Context, client *http.Client, baseURL string, ev signedEvent) error {
	req, err := eventRequest(ctx, baseURL, ev)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("POST /v1/events: %w", err)
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if err != nil {
		return fmt.Errorf("POST /v1/events: %w", err)
	}
	var res events.Result
	if resp.StatusCode != http.StatusAccepted || json.Unmarshal(raw, &res) != nil || res.Status != "accepted" {
		return fmt.Errorf("POST /v1/events: %d %s, want 202 accepted", resp.StatusCode, bytes.TrimSpace(raw))
	}
	return nil
}

// widgetView is the part of the widget's JSON that tells whether the
// seed has been applied.
type widgetView struct {
	Status string `json:"status"`
	Orders []struct {
		ID        string            `json:"id"`
		Lines     []json.RawMessage `json:"lines"`
		Shipments []json.RawMessage `json:"shipments"`
	} `json:"orders"`
}

// complete tells whether every order of the seed shows with its lines and
// its shipment.
func (v widgetView) complete() bool {
	if len(v.Orders) != widgetOrders {
		return false
	}
	for _, o := range v.Orders {
		if len(o.Lines) < 2 || len(o.Shipments) != 1 {
			return false
		}
	}
	return true
}

// waitWidget reads the widget until ready accepts it, the bridge exits,
// ctx ends or within passes.
func waitWidget(ctx context.Context, client *http.Client, b *bridgeProc, widgetURL string, auth http.Header, within time.Duration, ready func(widgetView) bool) error {
	deadline := time.Now().Add(within)
	last := "no answer yet"
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, widgetURL, nil)
		if err != nil {
			return err
		}
		req.Header = auth.Clone()
		if resp, err := client.Do(req); err != nil {
			last = err.Error()
		} else {
			raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
			resp.Body.Close()
			var v widgetView
			switch {
			case err != nil:
				last = err.Error()
			case resp.StatusCode != http.StatusOK:
				last = fmt.Sprintf("%d %s", resp.StatusCode, clip(raw, 300))
			case json.Unmarshal(raw, &v) != nil:
				last = "200 with a body that is not a widget: " + clip(raw, 300)
			case v.Status == widgets.StateOK && ready(v):
				return nil
			default:
				last = fmt.Sprintf("200 %s with %d orders", v.Status, len(v.Orders))
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the widget was not ready within %s; last answer: %s", within, last)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-b.done:
			return fmt.Errorf("%s exited: %v", b.what, b.err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// product is one item of the seed's catalogue.
type product struct {
	sku, name string
	cents     int
}

var catalogue = []product{
	{"MUG-BLU-350", "Blue stoneware mug, 350 ml", 1490},
	{"TEA-GRN-100", "Sencha green tea, 100 g", 890},
	{"KTL-STL-17", "Stainless steel kettle, 1.7 l", 5990},
	{"TWL-LIN-5070", "Linen tea towel, 50 x 70 cm", 1250},
	{"CUP-ESP-4", "Espresso cups, set of 4", 2400},
	{"BRD-OAK-40", "Oak chopping board, 40 cm", 3900},
	{"CND-FIG-200", "Fig scented candle, 200 g", 2290},
	{"PLT-CER-27", "Ceramic dinner plate, 27 cm", 1190},
	{"GLS-WAT-6", "Water glasses, set of 6", 2750},
	{"NPK-COT-4", "Cotton napkins, set of 4", 1850},
	{"KNF-CHF-20", "Chef's knife, 20 cm", 6900},
	{"JAR-GLS-1L", "Glass storage jar, 1 l", 990},
}

var (
	marketplaces = []struct{ name, status string }{{"carrefour", "SHIPPED"}, {"fnac", "RECEIVED"}, {"darty", "CLOSED"}, {"boulanger", "SHIPPING"}}
	carriers     = []string{"Colissimo", "Chronopost", "Mondial Relay", "DPD"}
)

// widgetEvents returns the seed's order.upserted and shipment.upserted
// events: one order every nine days back from now, most recent first.
func widgetEvents(now time.Time, secret string) (orders, shipments []signedEvent, err error) {
	now = now.UTC().Truncate(time.Second)
	for i := range widgetOrders {
		created := now.Add(-time.Duration(i*9*24+3) * time.Hour)
		id := fmt.Sprintf("FR-2026-%05d", 48120-i*37)
		var lines []widgets.EventLine
		cents := 0
		for k := range 2 + i%2 {
			p := catalogue[(i*5+k*7)%len(catalogue)]
			q := 1 + (i+k)%3
			lines = append(lines, widgets.EventLine{SKU: p.sku, Name: p.name, Quantity: q})
			cents += q * p.cents
		}
		mp := marketplaces[i%len(marketplaces)]
		status := widgets.StatusClosed
		if i < 3 {
			status = widgets.StatusShipped
		}
		order := widgets.OrderUpserted{
			Store: benchStore, OrderID: id, UpdatedAt: created.Add(2 * time.Hour),
			Customer:    widgets.OrderCustomer{Email: widgetEmail, Name: widgetName, Phone: widgetPhone},
			Marketplace: mp.name, Status: status, MarketplaceStatus: mp.status, CreatedAt: created,
			Total: fmt.Sprintf("%d.%02d", cents/100, cents%100), Currency: "EUR", Lines: lines,
		}
		ev, err := signEvent("evt-widget-order-"+strconv.Itoa(i), widgets.KindOrderUpserted, order.UpdatedAt, order, secret)
		if err != nil {
			return nil, nil, err
		}
		orders = append(orders, ev)

		tracking := fmt.Sprintf("6A%011d", 20481736000+int64(i)*7919)
		shipStatus := "delivered"
		if i < 3 {
			shipStatus = "in_transit"
		}
		ship := widgets.ShipmentUpserted{
			Store: benchStore, OrderID: id, ShipmentID: "SHP-" + id, UpdatedAt: created.Add(26 * time.Hour),
			Status: shipStatus, Carrier: carriers[i%len(carriers)], TrackingNumber: tracking,
			TrackingURL: "https://tracking.example/parcels/" + tracking,
		}
		ev, err = signEvent("evt-widget-shipment-"+strconv.Itoa(i), widgets.KindShipmentUpserted, ship.UpdatedAt, ship, secret)
		if err != nil {
			return nil, nil, err
		}
		shipments = append(shipments, ev)
	}
	return orders, shipments, nil
}
