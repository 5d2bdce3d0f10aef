package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/helpdesk-bridge/bridge/bridge/rdb/rdbtest"
	"github.com/helpdesk-bridge/bridge/invoices"
	"github.com/helpdesk-bridge/bridge/orders"
)

// Three `bridge serve` replicas on one redis-server issue 1,000 invoices
// at once through the API while one of them is killed (SIGKILL) twice and
// restarted: the numbers form one gapless sequence, none twice, and each
// order has exactly one invoice. A request cut by a kill is sent again
// to another replica, as a client would; whatever the killed process had
// committed, the retry finds.
func TestInvoiceNumbersGaplessAcrossReplicasAndKills(t *testing.T) {
	if testing.Short() {
		t.Skip("runs three bridge processes")
	}
	const n = 1000
	srv := rdbtest.Start(t)
	h := newHarness(t, harnessOptions{mode: ModeAPI, redisURL: srv.URL(), clientTimeout: 10 * time.Second})
	ctx := context.Background()

	// The settings through the API, so that every replica has them; the
	// orders straight into the read model.
	oa := loadOpenAPI(t)
	if resp, body := h.invoiceCall(oa, http.MethodPut, "/v1/stores/acme-fr/invoice-settings", acmeAPIKey, "", invoiceSettings()); resp.StatusCode != http.StatusOK {
		t.Fatalf("settings: %d %s", resp.StatusCode, body)
	}
	store := orders.NewStore(h.rdb, h.cfg.Redis.KeyPrefix, 0, 0, time.Now)
	at := time.Now().UTC().Add(-time.Hour)
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("FR-S%04d", i)
		o := &orders.Order{ID: ids[i], Store: "acme-fr", Status: orders.StatusShipped, CreatedAt: at, Currency: "EUR",
			Buyer: orders.Buyer{Name: "Zoé Müller"}, ShippingPrice: "4.90",
			Lines: []orders.Line{{SKU: "MUG", Name: "Mug", Quantity: 1 + i%3, UnitPrice: "19.99"}}}
		email := fmt.Sprintf("buyer%d@example.com", i%50)
		if _, err := store.Apply(ctx, orders.Change{Merchant: "acme", Store: "acme-fr", OrderID: ids[i], Email: email, Order: o, UpdatedAt: at}); err != nil {
			t.Fatal(err)
		}
	}

	addrs := make([]string, 3)
	replicas := make([]*bridgeChild, 3)
	for i := range replicas {
		addrs[i] = "127.0.0.1:" + rdbtest.FreePort(t)
		replicas[i] = h.startBridgeAt(fmt.Sprintf("r%d", i), addrs[i], "serve")
	}
	client := &http.Client{Timeout: 20 * time.Second}
	ready := func(addr string) {
		eventually(t, 60*time.Second, addr+" ready", func() bool {
			resp, err := client.Get("http://" + addr + "/readyz")
			if err != nil {
				return false
			}
			_ = resp.Body.Close()
			return resp.StatusCode == http.StatusOK
		})
	}
	for _, a := range addrs {
		ready(a)
	}

	var (
		mu      sync.Mutex
		numbers = map[string]string{} // order -> number
		done    atomic.Int64
		retries atomic.Int64
		next    atomic.Int64
	)
	post := func(addr, id string) (string, bool) {
		req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/v1/orders/acme-fr/"+id+"/invoice", bytes.NewReader(nil))
		req.Header.Set("Authorization", "Bearer "+acmeAPIKey)
		resp, err := client.Do(req)
		if err != nil {
			return "", false // the replica is down, or was killed mid-request
		}
		defer resp.Body.Close()
		var inv invoices.Invoice
		if err := json.NewDecoder(resp.Body).Decode(&inv); err != nil || (resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK) {
			if resp.StatusCode >= 500 || err != nil {
				return "", false
			}
			t.Errorf("POST %s: %d", id, resp.StatusCode)
			return "", true
		}
		return inv.Number, true
	}
	// Each kill comes after killAt[k] invoices, and the orders from
	// killAt[k]+150 on wait until the replica is back: so the kill always
	// finds requests in flight, however fast the others go.
	killAt := []int64{n / 4, n * 3 / 5}
	restarted := []chan struct{}{make(chan struct{}), make(chan struct{})}
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				for k, at := range killAt {
					if int64(i) >= at+150 {
						<-restarted[k]
					}
				}
				for try := w; ; try++ {
					number, ok := post(addrs[try%len(addrs)], ids[i])
					if ok {
						mu.Lock()
						if prev, seen := numbers[ids[i]]; seen && prev != number {
							t.Errorf("order %s answered %s, then %s", ids[i], prev, number)
						}
						numbers[ids[i]] = number
						mu.Unlock()
						done.Add(1)
						break
					}
					retries.Add(1)
					time.Sleep(20 * time.Millisecond)
				}
			}
		}()
	}
	// Kill replica 0 twice, while invoices are being issued, and bring it
	// back each time.
	for k, after := range killAt {
		eventually(t, 60*time.Second, fmt.Sprintf("%d invoices", after), func() bool { return done.Load() >= after })
		replicas[0].kill(t)
		t.Logf("replica r0 killed after %d invoices", done.Load())
		replicas[0] = h.startBridgeAt("r0", addrs[0], "serve")
		ready(addrs[0])
		close(restarted[k])
	}
	wg.Wait()
	t.Logf("%d invoices, %d requests sent again after a failure", done.Load(), retries.Load())

	// One gapless sequence, from the answers and from Redis.
	svc := invoices.NewService(h.rdb, h.cfg.Redis.KeyPrefix, invoices.NewRedisFiles(h.rdb, h.cfg.Redis.KeyPrefix, 0), time.Now)
	byNumber := map[string]string{}
	for _, id := range ids {
		inv, err := svc.ForOrder(ctx, "acme", "acme-fr", id)
		if err != nil {
			t.Fatalf("order %s: %v", id, err)
		}
		if numbers[id] != inv.Number {
			t.Errorf("order %s: answered %q, stored %q", id, numbers[id], inv.Number)
		}
		if o, err := store.Order(ctx, "acme", "acme-fr", id); err != nil {
			t.Errorf("order %s: %v", id, err)
		} else if o.Invoice != inv.Number {
			t.Errorf("order %s notes invoice %q; want %s", id, o.Invoice, inv.Number)
		}
		if other, dup := byNumber[inv.Number]; dup {
			t.Errorf("number %s issued to %s and %s", inv.Number, other, id)
		}
		byNumber[inv.Number] = id
	}
	for seq := 1; seq <= n; seq++ {
		if _, ok := byNumber[fmt.Sprintf("F-%06d", seq)]; !ok {
			t.Errorf("number F-%06d was not issued: a gap", seq)
		}
	}
	if next, number, err := svc.Next(ctx, "acme", *invoiceSettings(), "acme-fr", invoices.KindInvoice); err != nil || next != n+1 {
		t.Errorf("the series' next number is %d (%s, %v); want %d: a number was taken without an invoice", next, number, err, n+1)
	}
	records, err := h.rdb.Keys(ctx, h.cfg.Redis.KeyPrefix+"inv:{acme}:r:acme-fr:*").Result()
	if err != nil || len(records) != n {
		t.Errorf("%d invoice records (%v); want %d", len(records), err, n)
	}
}
