package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/helpdesk-bridge/bridge/orders"
)

// exportRSSGoal is the bridge's peak RSS the export phase aims under.
const exportRSSGoal = 100 << 20

// exportBatch is how many orders the baseline reads at a time, as the
// export does.
const exportBatch = 250

type exportResult struct {
	orders, rows   int
	seeded         bool
	seeding        time.Duration
	elapsed        time.Duration // the bridge's export, first byte asked to last received
	baseline       time.Duration // reading the same orders raw from Redis
	baselineOrders int
	peakRSS        int64
}

// exportPhase measures GET /v1/orders.csv over n orders: rows and orders
// per second against reading the same orders' raw values from Redis, a
// batch at a time, which is the export's floor; and the bridge's peak
// RSS, from a bridge started for the export alone. Orders left by the
// ingest phase are exported as they are; otherwise n orders, one
// customer's each, are applied to the read model first.
func (r *rig) exportPhase(ctx context.Context, n int) (*exportResult, error) {
	res := &exportResult{}
	_, cfg, err := r.renderConfig("127.0.0.1:1", "http://127.0.0.1:1", "", "")
	if err != nil {
		return nil, err
	}
	store := orders.NewStore(r.rdb, cfg.Redis.KeyPrefix, cfg.Widgets.Retention, cfg.Widgets.MaxOrders, time.Now)
	index := cfg.Redis.KeyPrefix + "w:{" + benchMerchant + "}:idx"
	have, err := r.rdb.ZCard(ctx, index).Result()
	if err != nil {
		return nil, err
	}
	if have < int64(n) {
		if err := r.flush(ctx); err != nil {
			return nil, err
		}
		r.logf("export: applying %d orders to the read model", n)
		start := time.Now()
		if err := seedExportOrders(ctx, store, n); err != nil {
			return nil, err
		}
		res.seeded, res.seeding = true, time.Since(start)
	}
	if have, err = r.rdb.ZCard(ctx, index).Result(); err != nil {
		return nil, err
	}
	res.orders = int(have)

	b, err := r.startBridge(ctx, "export", "http://127.0.0.1:1", "")
	if err != nil {
		return nil, err
	}
	defer b.stop()
	r.logf("export: GET /v1/orders.csv of %d orders", res.orders)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.url+"/v1/orders.csv", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+r.apiToken)
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, b.explain(err)
	}
	rows, err := countRows(resp.Body)
	_ = resp.Body.Close()
	res.elapsed = time.Since(start)
	if err != nil || resp.StatusCode != http.StatusOK {
		return nil, b.explain(fmt.Errorf("export: %d after %d rows: %v", resp.StatusCode, rows, err))
	}
	res.rows = rows - 1 // the header
	res.peakRSS = peakRSS(b.cmd.Process.Pid)
	b.stop()

	r.logf("baseline: reading the same orders raw from Redis, %d at a time", exportBatch)
	start = time.Now()
	if res.baselineOrders, err = readRaw(ctx, r.rdb, index); err != nil {
		return nil, err
	}
	res.baseline = time.Since(start)
	return res, nil
}

// countRows counts the CSV's records; a line end inside quotes is part of
// a field, not a record.
func countRows(body io.Reader) (int, error) {
	br := bufio.NewReaderSize(body, 256<<10)
	rows, quoted := 0, false
	for {
		chunk, err := br.ReadSlice('\n')
		quoted = quoted != (bytes.Count(chunk, []byte{'"'})%2 == 1)
		if len(chunk) > 0 && chunk[len(chunk)-1] == '\n' && !quoted {
			rows++
		}
		switch err {
		case nil, bufio.ErrBufferFull:
		case io.EOF:
			return rows, nil
		default:
			return rows, err
		}
	}
}

// readRaw reads every order of the index as the export does, without
// decoding: the index a batch at a time and one MGET per batch.
func readRaw(ctx context.Context, rdb *redis.Client, index string) (int, error) {
	n := 0
	for start := int64(0); ; start += exportBatch {
		members, err := rdb.ZRevRange(ctx, index, start, start+exportBatch-1).Result()
		if err != nil {
			return n, err
		}
		if len(members) == 0 {
			return n, nil
		}
		keys := make([]string, len(members))
		for i, m := range members {
			keys[i] = strings.TrimSuffix(index, "idx") + "o:" + m
		}
		vals, err := rdb.MGet(ctx, keys...).Result()
		if err != nil {
			return n, err
		}
		for _, v := range vals {
			if s, ok := v.(string); ok {
				_, _ = io.Discard.Write([]byte(s))
				n++
			}
		}
	}
}

// seedExportOrders applies n orders of two or three lines, each its own
// customer's, with 32 writers.
func seedExportOrders(ctx context.Context, store *orders.Store, n int) error {
	now := time.Now().UTC().Truncate(time.Second)
	return eachIndex(ctx, n, 32, func(i int) error {
		id := "ORD-" + strconv.Itoa(i)
		o := &orders.Order{
			ID: id, Store: benchStore, Marketplace: "carrefour", Status: orders.StatusShipped, MarketplaceStatus: "SHIPPED",
			CreatedAt: now.Add(-time.Duration(n-i) * time.Second), Total: "49.90", Currency: "EUR",
			URL:             "https://backoffice.example/orders/" + id,
			Buyer:           orders.Buyer{Name: "Jeanne Martin", Phone: "+33 6 12 34 56 78"},
			ShippingAddress: &orders.Address{Name: "Jeanne Martin", Line1: "12 rue de la Paix", PostalCode: "75002", City: "Paris", Country: "FR"},
		}
		for l := range 2 + i%2 {
			o.Lines = append(o.Lines, orders.Line{SKU: "SKU-" + strconv.Itoa(l), Name: "Blue mug", Quantity: 1 + l})
		}
		c := orders.Change{Merchant: benchMerchant, Store: benchStore, OrderID: id, Email: "c" + strconv.Itoa(i) + "@example.com", Order: o, UpdatedAt: now}
		_, err := store.Apply(ctx, c)
		return err
	})
}

func (e *exportResult) print(w io.Writer) {
	fmt.Fprintf(w, "\n(j) export: GET /v1/orders.csv of %d orders (%d rows, one per order line)\n", e.orders, e.rows)
	bridge, raw := perSecond(e.orders, e.elapsed), perSecond(e.baselineOrders, e.baseline)
	fmt.Fprintf(w, "  exported orders/s %9.1f   raw Redis reads/s %9.1f   ratio %.3f   <- headline\n", bridge, raw, ratio(bridge, raw))
	fmt.Fprintf(w, "  export rows/s %9.1f; %d orders in %s, the baseline in %s\n", perSecond(e.rows, e.elapsed), e.orders, e.elapsed.Round(time.Millisecond), e.baseline.Round(time.Millisecond))
	if e.seeded {
		fmt.Fprintf(w, "  (the orders were applied to the read model first, in %s)\n", e.seeding.Round(time.Second))
	}
	if e.peakRSS <= 0 {
		fmt.Fprintln(w, "  bridge peak RSS: not measured (no /proc)")
		return
	}
	verdict := "PASS"
	if e.peakRSS >= exportRSSGoal {
		verdict = "above goal"
	}
	fmt.Fprintf(w, "  bridge peak RSS %.1f MB, start-up included  %s (goal < %d MB)\n", float64(e.peakRSS)/(1<<20), verdict, exportRSSGoal>>20)
}
