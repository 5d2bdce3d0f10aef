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
	"github.com/helpdesk-bridge/bridge/orders"
	"github.com/helpdesk-bridge/bridge/widgets"
)

// widgetPath is the Gorgias sidebar's read.
const widgetPath = "/v1/widgets/gorgias"

// The customer every worker of the "widget" target reads: one buyer with
// widgetOrders orders, each with 2 or 3 lines and one shipment, as a busy
// customer of a marketplace seller has. Customer data is made up.
const (
	widgetEmail  = "camille.durand@bench.example"
	widgetName   = "Camille Durand"
	widgetPhone  = "+33 6 12 34 56 78"
	widgetOrders = 20
)

// customer is one buyer of the widget phase's seed.
type customer struct {
	// tag is in the customer's event ids and in messages.
	tag                string
	email, name, phone string
	// n varies the customer's order ids, tracking numbers and products;
	// the orders' number, lines and shipments are the same for everyone.
	n int
}

var widgetCustomer = customer{tag: "widget", email: widgetEmail, name: widgetName, phone: widgetPhone}

// spreadBuyers are the made-up customers of the "widget-spread" target.
var spreadBuyers = []struct{ name, local string }{
	{"Léa Martin", "lea.martin"}, {"Hugo Bernard", "hugo.bernard"}, {"Chloé Petit", "chloe.petit"},
	{"Louis Robert", "louis.robert"}, {"Manon Richard", "manon.richard"}, {"Jules Moreau", "jules.moreau"},
	{"Inès Laurent", "ines.laurent"}, {"Gabriel Simon", "gabriel.simon"}, {"Zoé Michel", "zoe.michel"},
	{"Arthur Lefebvre", "arthur.lefebvre"}, {"Jade Leroy", "jade.leroy"}, {"Raphaël Roux", "raphael.roux"},
	{"Louise David", "louise.david"}, {"Nathan Bertrand", "nathan.bertrand"}, {"Alice Morel", "alice.morel"},
	{"Paul Fournier", "paul.fournier"},
}

// spreadCustomers returns n customers, none of them widgetCustomer, with
// distinct emails: past the list's end, the same names come back with a
// numbered email. Phone numbers are in the range France reserves for
// fiction.
func spreadCustomers(n int) []customer {
	out := make([]customer, n)
	for i := range out {
		b := spreadBuyers[i%len(spreadBuyers)]
		local := b.local
		if round := i / len(spreadBuyers); round > 0 {
			local += "." + strconv.Itoa(round+1)
		}
		out[i] = customer{
			tag: fmt.Sprintf("spread-%02d", i), email: local + "@bench.example", name: b.name,
			phone: fmt.Sprintf("+33 6 39 98 %02d %02d", i/100%100, i%100), n: i + 1,
		}
	}
	return out
}

// widgetURL is the Gorgias sidebar's read of c.
func widgetURL(bridgeURL string, c customer) string {
	return bridgeURL + widgetPath + emailQuery(c)
}

// emailQuery is the query of a read of c's widget.
func emailQuery(c customer) string { return "?email=" + url.QueryEscape(c.email) }

// widgetResult is phase (c): the widget, read two ways, and its two
// baselines, read by the same load generator in interleaved rounds.
type widgetResult struct {
	orders, workers, rounds int
	round, warmup           time.Duration
	// customers is how many the widget-spread target reads: one per
	// worker.
	customers int
	// docBytes is the size of a customer's stored document: what the
	// widget's one GET reads, where the baseline's reads 2 KB.
	docBytes int
	// widget, constant and get2k: the bridge's widget of one customer
	// read by every worker, the baselines server's constant JSON and its
	// one Redis GET of 2 KB. spread: the widget with worker i reading
	// customer i % customers.
	widget, constant, get2k, spread targetResult
	bridgeWarnings                  int
	bridgeErrors                    int
	baselineWarnings                int
	baselineErrors                  int
}

// widgetPhase seeds the customers through signed events, waits until the
// bridge's widget shows all of each, then reads the widget of one
// customer, the two baselines and the widget of one customer per worker
// in turns.
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

	o := r.o
	// One customer per worker: no two reads of the widget-spread target
	// are identical, so none shares a GET. Seeding them all takes a few
	// seconds, which the quick run can afford too.
	spread := spreadCustomers(o.widgetWorkers)
	auth := http.Header{"Authorization": {"Bearer " + r.sidebarToken}}
	r.logf("widget read: seeding %d customers with %d orders each, with lines and a shipment each", 1+len(spread), widgetOrders)
	seedStart := time.Now()
	if err := r.seedWidgets(ctx, b, append([]customer{widgetCustomer}, spread...), auth); err != nil {
		return nil, b.explain(err)
	}
	r.logf("widget read: seeded in %s", time.Since(seedStart).Round(time.Millisecond))
	docBytes, err := r.docBytes(ctx, b, widgetCustomer)
	if err != nil {
		return nil, err
	}

	spreadURLs := make([]string, len(spread))
	for i, c := range spread {
		spreadURLs[i] = widgetURL(b.url, c)
	}
	widget := target{name: "widget", urls: []string{widgetURL(b.url, widgetCustomer)}, header: auth, check: freshWidget}
	targets := []target{
		widget,
		widget.like("const", b.url+widgetPath, base.url+constRoute),
		widget.like("get2k", b.url+widgetPath, base.url+getRoute),
		{name: "widget-spread", urls: spreadURLs, header: auth, check: freshWidget},
	}
	r.logf("widget read: %d workers, %s warm-up per target, then %d rounds of %s per target, interleaved", o.widgetWorkers, o.widgetWarmup, o.widgetRounds, o.widgetRound)
	gen := newLoadGen(o.widgetWorkers)
	gen.counter = r.redisGets
	defer gen.close()
	res, err := gen.interleave(ctx, targets, o.widgetWarmup, o.widgetRound, o.widgetRounds, func(i int, t target, rr roundResult) {
		r.logf("widget read: round %d/%d %-13s %8.1f req/s", i, o.widgetRounds, t.name, rr.rate())
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
		customers: len(spread), docBytes: docBytes, widget: res[0], constant: res[1], get2k: res[2], spread: res[3],
		bridgeWarnings: b.logs.warnings(), bridgeErrors: b.logs.errors(),
		baselineWarnings: base.logs.warnings(), baselineErrors: base.logs.errors(),
	}, nil
}

// docBytes is the size of c's document in Redis.
func (r *rig) docBytes(ctx context.Context, b *bridgeProc, c customer) (int, error) {
	key := orders.NewStore(nil, b.cfg.Redis.KeyPrefix, 0, 0, nil).DocKey(benchMerchant, c.email)
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	n, err := r.rdb.StrLen(ctx, key).Result()
	if err != nil {
		return 0, fmt.Errorf("size of customer %s's document: %w", c.tag, err)
	}
	return int(n), nil
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
	// The widget reads its document with a script (a conditional GET):
	// each EVALSHA is one round trip too.
	var total int64
	for _, cmd := range []string{"get", "evalsha", "eval"} {
		n, err := parseCalls(info, cmd)
		if err != nil {
			return 0, err
		}
		total += n
	}
	return total, nil
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

// servedFresh accepts a widget answered from the render kept in Redis, as
// it is (gzipped), with current data: its headers say both, so that the
// load generator need not unzip it.
func servedFresh(h http.Header) bool {
	return h.Get("X-Widget-Status") == "ok" && h.Get("Content-Encoding") == "gzip"
}

// seedWidgets posts every customer's orders, waits until each widget
// lists them all, then posts one shipment per order and waits until each
// shows. Orders go first so that no shipment can arrive before its order,
// whatever the workers' order.
func (r *rig) seedWidgets(ctx context.Context, b *bridgeProc, customers []customer, auth http.Header) error {
	now := time.Now()
	var orderEvents, shipments []signedEvent
	for _, c := range customers {
		o, s, err := widgetEvents(now, r.secret, c)
		if err != nil {
			return err
		}
		orderEvents = append(orderEvents, o...)
		shipments = append(shipments, s...)
	}
	client := &http.Client{Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	// One customer has 30 s for each step; each more customer, one more.
	within := 30*time.Second + time.Duration(len(customers)-1)*time.Second
	for _, step := range []struct {
		what  string
		evs   []signedEvent
		ready func(widgetView) bool
	}{
		{"orders", orderEvents, func(v widgetView) bool { return len(v.Orders) == widgetOrders }},
		{"shipments", shipments, func(v widgetView) bool { return v.complete() }},
	} {
		for _, ev := range step.evs {
			if err := postSeed(ctx, client, b.url, ev); err != nil {
				return err
			}
		}
		deadline := time.Now().Add(within)
		for _, c := range customers {
			if err := waitWidget(ctx, client, b, widgetURL(b.url, c), auth, deadline, step.ready); err != nil {
				return fmt.Errorf("waiting for the %s of customer %s, %s after posting them: %w", step.what, c.tag, within, err)
			}
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
// ctx ends or the deadline passes.
func waitWidget(ctx context.Context, client *http.Client, b *bridgeProc, widgetURL string, auth http.Header, deadline time.Time, ready func(widgetView) bool) error {
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
			return fmt.Errorf("the widget was not ready in time; last answer: %s", last)
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

// widgetEvents returns c's order.upserted and shipment.upserted events:
// one order every nine days back from now, most recent first.
func widgetEvents(now time.Time, secret string, c customer) (orderEvents, shipments []signedEvent, err error) {
	now = now.UTC().Truncate(time.Second)
	for i := range widgetOrders {
		// Far enough back that the shipment, a day later, is not in the
		// future: the bridge refuses an updated_at ahead of its clock.
		created := now.Add(-time.Duration(i*9*24+27) * time.Hour)
		// A customer's ids span 37*19 < 1000: customers 1000 apart never meet.
		id := fmt.Sprintf("FR-2026-%05d", 48120+c.n*1000-i*37)
		var lines []orders.EventLine
		cents := 0
		for k := range 2 + i%2 {
			p := catalogue[(i*5+k*7+c.n*3)%len(catalogue)]
			q := 1 + (i+k)%3
			lines = append(lines, orders.EventLine{SKU: p.sku, Name: p.name, Quantity: q})
			cents += q * p.cents
		}
		mp := marketplaces[(i+c.n)%len(marketplaces)]
		status := orders.StatusClosed
		if i < 3 {
			status = orders.StatusShipped
		}
		order := orders.OrderUpserted{
			Store: benchStore, OrderID: id, UpdatedAt: created.Add(2 * time.Hour),
			Customer:    orders.OrderCustomer{Email: c.email, Name: c.name, Phone: c.phone},
			Marketplace: mp.name, Status: status, MarketplaceStatus: mp.status, CreatedAt: created,
			Total: fmt.Sprintf("%d.%02d", cents/100, cents%100), Currency: "EUR", Lines: lines,
		}
		ev, err := signEvent("evt-"+c.tag+"-order-"+strconv.Itoa(i), orders.KindOrderUpserted, order.UpdatedAt, order, secret)
		if err != nil {
			return nil, nil, err
		}
		orderEvents = append(orderEvents, ev)

		tracking := fmt.Sprintf("6A%011d", 20481736000+int64(c.n*widgetOrders+i)*7919)
		shipStatus := "delivered"
		if i < 3 {
			shipStatus = "in_transit"
		}
		ship := orders.ShipmentUpserted{
			Store: benchStore, OrderID: id, ShipmentID: "SHP-" + id, UpdatedAt: created.Add(26 * time.Hour),
			Status: shipStatus, Carrier: carriers[i%len(carriers)], TrackingNumber: tracking,
			TrackingURL: "https://tracking.example/parcels/" + tracking,
		}
		ev, err = signEvent("evt-"+c.tag+"-shipment-"+strconv.Itoa(i), orders.KindShipmentUpserted, ship.UpdatedAt, ship, secret)
		if err != nil {
			return nil, nil, err
		}
		shipments = append(shipments, ev)
	}
	return orderEvents, shipments, nil
}
