package mirakl_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/helpdesk-bridge/bridge/connectors"
	"github.com/helpdesk-bridge/bridge/connectors/fault"
	"github.com/helpdesk-bridge/bridge/connectors/marketplacetest"
	"github.com/helpdesk-bridge/bridge/connectors/mirakl"
	"github.com/helpdesk-bridge/bridge/connectors/mirakl/api"
	"github.com/helpdesk-bridge/bridge/connectors/mirakl/miraklfake"
)

const (
	apiKey    = "test-shop-key"
	shopID    = "2001"
	outletID  = "2002"
	otherKey  = "other-shop-key"
	otherShop = "3001"
	// prefix mounts the fake below a path, so that a client dropping the
	// base URL's path fails every test.
	prefix = "/carrefour"
)

var fixedNow = time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)

func TestConformance(t *testing.T) {
	t.Parallel()
	marketplacetest.RunConformanceTests(t, func(t *testing.T) marketplacetest.Harness {
		return startFake(t, setup{})
	})
}

// setup adjusts a harness over the fake.
type setup struct {
	// wrap sits between the client and the fake, to record or to alter.
	wrap   func(http.Handler) http.Handler
	fake   miraklfake.Options
	shopID string        // the client's ShopID option
	window time.Duration // the client's EvaluationWindow option
	base   string        // appended to the server's URL; default prefix
}

// fakeHarness is the contract suite's view of a fresh fake shop, and its
// Seeder.
type fakeHarness struct {
	fake  *miraklfake.Server
	mp    *mirakl.Client
	wrong *mirakl.Client
	// baseURL and hc build other clients of the same fake.
	baseURL string
	hc      *http.Client
}

func startFake(t *testing.T, s setup) *fakeHarness {
	t.Helper()
	s.fake.Shops = []miraklfake.Shop{
		{ID: shopID, Name: "Acme", APIKeys: []string{apiKey}},
		{ID: outletID, Name: "Acme Outlet", APIKeys: []string{apiKey}},
		{ID: otherShop, Name: "Someone else", APIKeys: []string{otherKey}},
	}
	s.fake.PathPrefix = prefix
	if s.base == "" {
		s.base = prefix
	}
	fake := miraklfake.New(s.fake)
	var h http.Handler = fake
	if s.wrap != nil {
		h = s.wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	hc := srv.Client()
	hc.Timeout = time.Second
	client := func(key string) *mirakl.Client {
		c, err := mirakl.New(mirakl.Options{BaseURL: srv.URL + s.base, APIKey: key, ShopID: s.shopID, HTTPClient: hc, EvaluationWindow: s.window})
		if err != nil {
			t.Fatalf("mirakl.New: %v", err)
		}
		return c
	}
	return &fakeHarness{fake: fake, mp: client(apiKey), wrong: client("not-the-key"), baseURL: srv.URL + s.base, hc: hc}
}

func (h *fakeHarness) Marketplace() connectors.Marketplace      { return h.mp }
func (h *fakeHarness) WrongCredentials() connectors.Marketplace { return h.wrong }
func (h *fakeHarness) Faults() *fault.Injector                  { return h.fake.Faults() }
func (h *fakeHarness) Seeder() marketplacetest.Seeder           { return h }

func (h *fakeHarness) AddThread(t *testing.T, th marketplacetest.SeedThread) string {
	t.Helper()
	seed := miraklfake.ThreadSeed{Topic: th.Topic, CustomerName: th.CustomerName, Message: messageSeed(th.Message)}
	if th.OrderID != "" {
		seed.EntityType, seed.EntityID, seed.EntityLabel = api.EntityOrder, th.OrderID, th.OrderID
	}
	got, err := h.fake.AddThread(seed)
	if err != nil {
		t.Fatalf("seeding a thread: %v", err)
	}
	return got.ID
}

func (h *fakeHarness) AddMessage(t *testing.T, threadID string, m marketplacetest.SeedMessage) {
	t.Helper()
	if _, err := h.fake.AddMessage(threadID, messageSeed(m)); err != nil {
		t.Fatalf("seeding a message: %v", err)
	}
}

func messageSeed(m marketplacetest.SeedMessage) miraklfake.MessageSeed {
	seed := miraklfake.MessageSeed{Body: m.Body, At: m.At}
	switch m.From {
	case connectors.PartyCustomer:
		seed.From = api.SenderCustomer
	case connectors.PartyOperator:
		seed.From = api.SenderOperator
	}
	for _, f := range m.Files {
		seed.Attachments = append(seed.Attachments, miraklfake.FileSeed{Name: f.Name, Content: f.Content})
	}
	return seed
}

// seedStates are the states PutOrder seeds an order in for its Status.
var seedStates = map[connectors.OrderStatus]string{
	connectors.OrderNew:        api.StateWaitingAcceptance,
	connectors.OrderInProgress: api.StateShipping,
	connectors.OrderShipped:    api.StateShipped,
	connectors.OrderClosed:     api.StateClosed,
	connectors.OrderCanceled:   api.StateCanceled,
}

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
		OrderID: o.ID, CommercialID: o.CommercialID, OrderState: state,
		CreatedDate: api.NewTime(o.CreatedAt), LastUpdatedDate: api.NewTime(o.UpdatedAt),
		CustomerNotificationEmail: o.CustomerEmail,
		Customer:                  api.Customer{CustomerID: o.CustomerID, Firstname: first, Lastname: last},
		ShippingTracking:          o.TrackingNumber, ShippingTrackingURL: o.TrackingURL, ShippingCompany: o.Carrier,
		TotalPrice: json.Number(o.Total), CurrencyISOCode: o.Currency,
	}
	for _, l := range o.Lines {
		order.OrderLines = append(order.OrderLines, api.OrderLine{
			OrderLineID: l.ID, OfferSKU: l.SKU, ProductTitle: l.Title, Quantity: l.Quantity, Price: json.Number(l.Price),
		})
	}
	if _, err := h.fake.PutOrder("", order); err != nil {
		t.Fatalf("seeding an order: %v", err)
	}
}

// advances are the moves AdvanceOrder makes, by target status and from
// state: the customer's debit, the receipt, the closing.
var advances = map[connectors.OrderStatus]map[string]string{
	connectors.OrderInProgress: {
		api.StateWaitingDebit:        api.StateWaitingDebitPayment,
		api.StateWaitingDebitPayment: api.StateShipping,
	},
	connectors.OrderClosed: {
		api.StateShipped:   api.StateReceived,
		api.StateToCollect: api.StateReceived,
		api.StateReceived:  api.StateClosed,
	},
}

func (h *fakeHarness) AdvanceOrder(t *testing.T, orderID string, to connectors.OrderStatus) {
	t.Helper()
	for {
		o, ok := h.fake.Order("", orderID)
		if !ok {
			t.Fatalf("no order %s to advance", orderID)
		}
		// In progress means ready to ship: paid for.
		if mirakl.OrderStatus(o.OrderState) == to && (to != connectors.OrderInProgress || o.OrderState == api.StateShipping) {
			return
		}
		next := advances[to][o.OrderState]
		if next == "" {
			t.Fatalf("cannot advance order %s from %s to %s", orderID, o.OrderState, to)
		}
		if _, err := h.fake.MoveOrder("", orderID, next); err != nil {
			t.Fatal(err)
		}
	}
}

func (h *fakeHarness) Evaluate(t *testing.T, e marketplacetest.SeedEvaluation) {
	t.Helper()
	if _, err := h.fake.PutEvaluation("", e.OrderID, miraklfake.EvaluationSeed{Grade: e.Grade, Comment: e.Comment, At: e.At}); err != nil {
		t.Fatalf("seeding an evaluation: %v", err)
	}
}

func (h *fakeHarness) Sent(t *testing.T, threadID string) []marketplacetest.SentMessage {
	var out []marketplacetest.SentMessage
	for _, r := range h.fake.Replies() {
		if r.ThreadID != threadID {
			continue
		}
		m := marketplacetest.SentMessage{MessageID: r.MessageID, Body: r.Body}
		for _, to := range r.To {
			m.To = append(m.To, partyType(to.Type))
		}
		for _, f := range r.Files {
			m.Files = append(m.Files, marketplacetest.File{Name: f.Name, Content: f.Content})
		}
		out = append(out, m)
	}
	return out
}

func partyType(t string) connectors.PartyType {
	switch t {
	case api.ParticipantCustomer:
		return connectors.PartyCustomer
	case api.ParticipantOperator:
		return connectors.PartyOperator
	case api.ParticipantShop:
		return connectors.PartyShop
	}
	return connectors.PartyOther
}

// TestLiveConformance runs the suite's read-only part against a real shop:
//
//	MIRAKL_BASE_URL=https://marketplace.example.com MIRAKL_API_KEY=… \
//		[MIRAKL_SHOP_ID=…] go test ./connectors/mirakl -run Live -live
func TestLiveConformance(t *testing.T) {
	env := marketplacetest.LiveEnv(t, "MIRAKL_BASE_URL", "MIRAKL_API_KEY")
	base, key, shop := env["MIRAKL_BASE_URL"], env["MIRAKL_API_KEY"], os.Getenv("MIRAKL_SHOP_ID")
	hc := &http.Client{Timeout: 30 * time.Second}
	client := func(t *testing.T, key string) *mirakl.Client {
		c, err := mirakl.New(mirakl.Options{BaseURL: base, APIKey: key, ShopID: shop, HTTPClient: hc})
		if err != nil {
			t.Fatalf("mirakl.New: %v", err)
		}
		return c
	}
	marketplacetest.RunConformanceTests(t, func(t *testing.T) marketplacetest.Harness {
		return &liveHarness{mp: client(t, key), wrong: client(t, key+"-wrong")}
	})
}

// liveHarness is a real shop: it cannot be seeded, and has no faults.
type liveHarness struct{ mp, wrong *mirakl.Client }

func (h *liveHarness) Marketplace() connectors.Marketplace      { return h.mp }
func (h *liveHarness) WrongCredentials() connectors.Marketplace { return h.wrong }
func (h *liveHarness) Faults() *fault.Injector                  { return nil }
func (h *liveHarness) Seeder() marketplacetest.Seeder           { return nil }

// recorder keeps every request that passes through it, body included.
type recorder struct {
	mu   sync.Mutex
	seen []seen
}

type seen struct {
	method, path string
	query        url.Values
	header       http.Header
	body         []byte
}

func (rec *recorder) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		rec.mu.Lock()
		rec.seen = append(rec.seen, seen{r.Method, r.URL.Path, r.URL.Query(), r.Header.Clone(), body})
		rec.mu.Unlock()
		next.ServeHTTP(w, r)
	})
}

func (rec *recorder) all() []seen {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]seen(nil), rec.seen...)
}

func (rec *recorder) find(method, path string) []seen {
	var out []seen
	for _, s := range rec.all() {
		if s.method == method && s.path == prefix+path {
			out = append(out, s)
		}
	}
	return out
}

func seedThread(t *testing.T, h *fakeHarness, orderID string, messages int) string {
	t.Helper()
	id := h.AddThread(t, marketplacetest.SeedThread{OrderID: orderID, CustomerName: "Jane Doe", Message: marketplacetest.SeedMessage{Body: "Hello"}})
	for i := 1; i < messages; i++ {
		h.AddMessage(t, id, marketplacetest.SeedMessage{Body: fmt.Sprintf("message %d", i+1)})
	}
	return id
}

func TestListThreadsFetchesOnlyLongThreadsAgain(t *testing.T) {
	t.Parallel()
	h := startFake(t, setup{})
	seedThread(t, h, "O-1", 3)
	seedThread(t, h, "O-2", api.MaxListedMessages)
	long := seedThread(t, h, "O-3", api.MaxListedMessages+1)
	page, err := h.mp.ListThreads(t.Context(), connectors.ThreadQuery{})
	if err != nil {
		t.Fatalf("ListThreads: %v", err)
	}
	for _, th := range page.Threads {
		if len(th.Messages) != th.TotalMessages {
			t.Errorf("thread %s: %d of %d messages", th.ID, len(th.Messages), th.TotalMessages)
		}
	}
	if n := h.fake.Requests()["GET /api/inbox/threads/{thread_id}"]; n != 1 {
		t.Errorf("M10 calls = %d, want 1: only the thread of %d messages (%s) lacks some", n, api.MaxListedMessages+1, long)
	}
}

func TestRequestsAsTheSDKSendsThem(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	h := startFake(t, setup{wrap: rec.wrap, shopID: outletID})
	var thread string
	for i := range 3 {
		id, err := h.fake.AddThread(miraklfake.ThreadSeed{
			ShopID: outletID, EntityType: api.EntityOrder, EntityID: fmt.Sprintf("O-%d", i), CustomerName: "Jane Doe",
			Message: miraklfake.MessageSeed{Body: "Hi", At: fixedNow, Attachments: []miraklfake.FileSeed{{Name: "a.jpg", Content: []byte("a")}}},
		})
		if err != nil {
			t.Fatal(err)
		}
		thread = id.ID
	}
	ctx := t.Context()
	since := fixedNow.Add(-time.Hour + 123456789*time.Nanosecond)
	page, err := h.mp.ListThreads(ctx, connectors.ThreadQuery{UpdatedSince: since, Limit: 2})
	if err != nil || page.NextPageToken == "" {
		t.Fatalf("ListThreads = %d threads, next %q, err %v", len(page.Threads), page.NextPageToken, err)
	}
	if _, err := h.mp.ListThreads(ctx, connectors.ThreadQuery{PageToken: page.NextPageToken, Limit: 50}); err != nil {
		t.Fatal(err)
	}
	reply := connectors.Reply{
		Body:  "Your parcel left today.",
		To:    []connectors.PartyType{connectors.PartyCustomer, connectors.PartyOperator, connectors.PartyCustomer},
		Files: []connectors.ReplyFile{{Name: `label "1".pdf`, ContentType: "application/pdf", Content: []byte("%PDF")}},
	}
	if _, err := h.mp.Reply(ctx, thread, reply); err != nil {
		t.Fatal(err)
	}
	th, err := h.mp.GetThread(ctx, thread)
	if err != nil {
		t.Fatal(err)
	}
	rc, _, err := h.mp.DownloadAttachment(ctx, th.Messages[0].Attachments[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	rc.Close()
	if _, err := h.mp.ListOrders(ctx, connectors.OrderQuery{UpdatedSince: since}); err != nil {
		t.Fatal(err)
	}

	all := rec.all()
	if len(all) != 6 {
		t.Fatalf("%d requests, want 6", len(all))
	}
	for _, s := range all {
		if s.header.Get("Authorization") != apiKey || s.query.Get("shop_id") != outletID {
			t.Errorf("%s %s: Authorization %q, shop_id %q; want the raw key and %s", s.method, s.path, s.header.Get("Authorization"), s.query.Get("shop_id"), outletID)
		}
	}
	list := rec.find(http.MethodGet, "/api/inbox/threads")
	wantFirst := url.Values{"with_messages": {"true"}, "limit": {"2"}, "updated_since": {"2025-03-01T08:00:00.123Z"}, "shop_id": {outletID}}
	if diff := cmp.Diff(wantFirst, list[0].query); diff != "" {
		t.Errorf("first M11 query (-want +got):\n%s", diff)
	}
	wantNext := url.Values{"with_messages": {"true"}, "page_token": {page.NextPageToken}, "shop_id": {outletID}}
	if diff := cmp.Diff(wantNext, list[1].query); diff != "" {
		t.Errorf("next M11 query (-want +got):\n%s", diff)
	}
	orders := rec.find(http.MethodGet, "/api/orders")[0].query
	wantOrders := url.Values{"paginate": {"true"}, "max": {"100"}, "offset": {"0"}, "start_update_date": {"2025-03-01T08:00:00.123Z"}, "shop_id": {outletID}}
	if diff := cmp.Diff(wantOrders, orders); diff != "" {
		t.Errorf("OR11 query (-want +got):\n%s", diff)
	}
	dl := rec.find(http.MethodGet, "/api/inbox/threads/"+th.Messages[0].Attachments[0].ID+"/download")
	if len(dl) != 1 || !strings.Contains(dl[0].header.Get("Accept"), "application/octet-stream") {
		t.Errorf("M13 Accept header: %v", dl)
	}

	post := rec.find(http.MethodPost, "/api/inbox/threads/"+thread+"/message")[0]
	mt, params, err := mime.ParseMediaType(post.header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" {
		t.Fatalf("M12 Content-Type %q", post.header.Get("Content-Type"))
	}
	mr := multipart.NewReader(bytes.NewReader(post.body), params["boundary"])
	type part struct{ name, file, contentType, body string }
	var parts []part
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(p)
		parts = append(parts, part{p.FormName(), p.FileName(), p.Header.Get("Content-Type"), string(b)})
	}
	want := []part{
		{"message_input", "", "application/json;charset=utf-8", `{"body":"Your parcel left today.","to":[{"type":"CUSTOMER"},{"type":"OPERATOR"}]}` + "\n"},
		{"files", `label "1".pdf`, "application/octet-stream", "%PDF"},
	}
	if diff := cmp.Diff(want, parts, cmp.AllowUnexported(part{})); diff != "" {
		t.Errorf("M12 parts (-want +got):\n%s", diff)
	}
}

func TestShopID(t *testing.T) {
	t.Parallel()
	h := startFake(t, setup{})
	outlet := startFake(t, setup{shopID: outletID})
	forbidden := startFake(t, setup{shopID: otherShop})
	for _, s := range []*fakeHarness{h, outlet, forbidden} {
		for _, shop := range []string{shopID, outletID} {
			if _, err := s.fake.AddThread(miraklfake.ThreadSeed{ShopID: shop, Message: miraklfake.MessageSeed{Body: "To shop " + shop}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	for name, tc := range map[string]struct {
		h    *fakeHarness
		want string
	}{"default shop": {h, "To shop " + shopID}, "shop_id": {outlet, "To shop " + outletID}} {
		page, err := tc.h.mp.ListThreads(t.Context(), connectors.ThreadQuery{})
		if err != nil || len(page.Threads) != 1 || page.Threads[0].Messages[0].Body != tc.want {
			t.Errorf("%s: %+v, %v; want the thread %q only", name, page.Threads, err, tc.want)
		}
	}
	if _, err := forbidden.mp.ListThreads(t.Context(), connectors.ThreadQuery{}); !errors.Is(err, connectors.ErrForbidden) {
		t.Errorf("a shop of another user: err = %v, want ErrForbidden", err)
	}
}

func TestBaseURLWithAPISuffix(t *testing.T) {
	t.Parallel()
	h := startFake(t, setup{base: prefix + "/api/"})
	if _, err := h.mp.ListThreads(t.Context(), connectors.ThreadQuery{}); err != nil {
		t.Errorf("BaseURL ending in /api/: %v", err)
	}
}

func TestReplyRefusedBeforeSending(t *testing.T) {
	t.Parallel()
	h := startFake(t, setup{})
	id := seedThread(t, h, "O-1", 1)
	customer := []connectors.PartyType{connectors.PartyCustomer}
	var tooMany []connectors.ReplyFile
	for i := range api.MaxAttachmentsPerEntity + 1 {
		tooMany = append(tooMany, connectors.ReplyFile{Name: fmt.Sprintf("f%d.txt", i), Content: []byte("x")})
	}
	tests := []struct {
		name  string
		id    string
		reply connectors.Reply
	}{
		{"no thread id", "", connectors.Reply{Body: "Secret body text", To: customer}},
		{"blank body", id, connectors.Reply{Body: "   \n ", To: customer}},
		{"two characters", id, connectors.Reply{Body: "ok", To: customer}},
		{"two runes, three bytes", id, connectors.Reply{Body: "é!", To: customer}},
		{"over 50000 UTF-16 units", id, connectors.Reply{Body: strings.Repeat("😀", 25001), To: customer}},
		{"no recipient", id, connectors.Reply{Body: "Secret body text"}},
		{"the shop as recipient", id, connectors.Reply{Body: "Secret body text", To: []connectors.PartyType{connectors.PartyShop}}},
		{"unknown recipient", id, connectors.Reply{Body: "Secret body text", To: []connectors.PartyType{"courier"}}},
		{"file without a name", id, connectors.Reply{Body: "Secret body text", To: customer, Files: []connectors.ReplyFile{{Content: []byte("x")}}}},
		{"file name with a newline", id, connectors.Reply{Body: "Secret body text", To: customer, Files: []connectors.ReplyFile{{Name: "a\r\nb.txt"}}}},
		{"too many files", id, connectors.Reply{Body: "Secret body text", To: customer, Files: tooMany}},
	}
	for _, tc := range tests {
		_, err := h.mp.Reply(t.Context(), tc.id, tc.reply)
		if !errors.Is(err, connectors.ErrInvalid) || connectors.IsRetryable(err) {
			t.Errorf("%s: err = %v, want ErrInvalid, not retryable", tc.name, err)
		}
		if err != nil && strings.Contains(err.Error(), "Secret body") {
			t.Errorf("%s: error %q carries the body", tc.name, err)
		}
	}
	if n := h.fake.Requests()["POST /api/inbox/threads/{thread_id}/message"]; n != 0 {
		t.Errorf("refused replies reached Mirakl: %d", n)
	}
	// 50000 UTF-16 units (25000 runes outside the BMP) is the maximum.
	if _, err := h.mp.Reply(t.Context(), id, connectors.Reply{Body: strings.Repeat("😀", 25000), To: customer}); err != nil {
		t.Errorf("a body of 50000 UTF-16 units: %v", err)
	}
}

// canned serves one fixed answer to every request.
func canned(t *testing.T, status int, header http.Header, body string) *mirakl.Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		for k, v := range header {
			w.Header()[k] = v
		}
		if w.Header().Get("Content-Type") == "" {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	c, err := mirakl.New(mirakl.Options{BaseURL: srv.URL, APIKey: apiKey, HTTPClient: srv.Client(), Now: func() time.Time { return fixedNow }})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestErrorMapping(t *testing.T) {
	t.Parallel()
	reply := connectors.Reply{Body: "Dear Jane Doe, your order 1042 is late.", To: []connectors.PartyType{connectors.PartyCustomer}}
	tests := []struct {
		name        string
		status      int
		body        string
		kind        error
		wantMessage string
	}{
		{"invalid", 400, `{"status": 400, "message": "Maximum of 1000 messages on a thread"}`, connectors.ErrInvalid, "Maximum of 1000 messages on a thread"},
		{"invalid, echoing the body", 400, `{"status": 400, "message": "Cannot send 'Dear Jane Doe, your order 1042 is late.'"}`, connectors.ErrInvalid, "[message withheld: it quotes the reply]"},
		{"unauthorized", 401, `{"status": 401, "message": "Unauthorized"}`, connectors.ErrUnauthorized, "Unauthorized"},
		{"forbidden", 403, `{"status": 403, "message": "Forbidden"}`, connectors.ErrForbidden, "Forbidden"},
		{"not found", 404, `{"status": 404, "message": "Thread not found"}`, connectors.ErrNotFound, "Thread not found"},
		{"unsupported media type", 415, `{"status": 415, "message": "Unsupported"}`, connectors.ErrInvalid, "Unsupported"},
		{"too large", 413, ``, connectors.ErrTooLarge, ""},
		{"error string", 500, `{"error": "injected fault"}`, connectors.ErrUnavailable, "injected fault"},
		{"html from a proxy", 502, `<html><body>Bad gateway</body></html>`, connectors.ErrUnavailable, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := canned(t, tc.status, nil, tc.body).Reply(t.Context(), "thread-1", reply)
			var apiErr *connectors.APIError
			if !errors.As(err, &apiErr) || !errors.Is(err, tc.kind) {
				t.Fatalf("err = %v, want an *APIError of kind %v", err, tc.kind)
			}
			if apiErr.Status != tc.status || apiErr.Message != tc.wantMessage {
				t.Errorf("APIError = %d %q, want %d %q", apiErr.Status, apiErr.Message, tc.status, tc.wantMessage)
			}
			if !strings.HasPrefix(err.Error(), "mirakl: reply to thread thread-1: ") {
				t.Errorf("error %q does not name the operation and the id", err)
			}
			if strings.Contains(err.Error(), "Jane") || strings.Contains(err.Error(), apiKey) {
				t.Errorf("error %q carries customer data or the key", err)
			}
		})
	}
}

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	date := canned(t, http.StatusTooManyRequests, http.Header{"Retry-After": {fixedNow.Add(12 * time.Second).Format(http.TimeFormat)}}, "")
	if _, err := date.GetThread(t.Context(), "t"); !isDelay(err, 12*time.Second) {
		t.Errorf("Retry-After as a date: err = %v, want a rate limit of 12s from the injected clock", err)
	}
	h := startFake(t, setup{fake: miraklfake.Options{Throttle: &miraklfake.Throttle{Requests: 1, Window: time.Minute}}})
	if _, err := h.mp.ListThreads(t.Context(), connectors.ThreadQuery{}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.mp.ListThreads(t.Context(), connectors.ThreadQuery{}); !isDelay(err, time.Minute) {
		t.Errorf("throttled by the fake: err = %v, want a rate limit of 60s", err)
	}
}

func isDelay(err error, want time.Duration) bool {
	d, ok := connectors.RetryDelay(err)
	return ok && d == want && connectors.IsRetryable(err)
}

func TestUndecodableSuccessIsRetryable(t *testing.T) {
	t.Parallel()
	if _, err := canned(t, http.StatusOK, nil, `<html>maintenance</html>`).GetThread(t.Context(), "t"); !errors.Is(err, connectors.ErrUnavailable) {
		t.Errorf("err = %v, want ErrUnavailable", err)
	}
}

func TestHungReplyKeepsCustomerDataOut(t *testing.T) {
	t.Parallel()
	h := startFake(t, setup{})
	id := seedThread(t, h, "O-1", 1)
	h.fake.Faults().Push(fault.Fault{After: true, Hang: 3 * time.Second})
	_, err := h.mp.Reply(t.Context(), id, connectors.Reply{Body: "Dear Jane Doe, sorry.", To: []connectors.PartyType{connectors.PartyCustomer}})
	if !errors.Is(err, connectors.ErrUnavailable) || strings.Contains(err.Error(), "Jane") {
		t.Errorf("err = %v, want ErrUnavailable without the body", err)
	}
}

func TestAttachmentNames(t *testing.T) {
	t.Parallel()
	tests := []struct {
		disposition string
		want        string
	}{
		{`attachment; filename*=UTF-8''%C3%A9cran%20cass%C3%A9.png`, "écran cassé.png"},
		{`attachment; filename="fallback.png"; filename*=UTF-8''%C3%A9cran.png`, "écran.png"},
		{`attachment; filename="=?UTF-8?B?w6ljcmFuLnBuZw==?="`, "écran.png"},
		{`attachment; filename="écran cassé.png"`, "écran cassé.png"},
		{`attachment; filename="a b.png"; size=oops"`, "a b.png"},
		{`attachment; filename=plain.txt`, "plain.txt"},
		{``, "att-1"},
	}
	for _, tc := range tests {
		c := canned(t, http.StatusOK, http.Header{"Content-Type": {"application/octet-stream"}, "Content-Disposition": {tc.disposition}}, "content")
		rc, meta, err := c.DownloadAttachment(t.Context(), "att-1")
		if err != nil {
			t.Fatalf("%q: %v", tc.disposition, err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		if meta.Name != tc.want || string(b) != "content" || meta.Size != 7 {
			t.Errorf("%q: meta %+v, content %q; want name %q", tc.disposition, meta, b, tc.want)
		}
	}
}

// TestDecodesMiraklExamples decodes the business-value examples of the
// spec's M10 and OR11 (abridged), as Mirakl writes them.
func TestDecodesMiraklExamples(t *testing.T) {
	t.Parallel()
	thread := `{
		"authorized_participants": [{"display_name": "Shop display name", "id": "Shop id", "type": "SHOP"},
			{"display_name": "Customer display name", "id": "Customer id", "type": "CUSTOMER"}],
		"current_participants": [{"display_name": "Shop display name", "id": "Shop id", "type": "SHOP"}],
		"customer_organization": {"display_name": "Customer organization", "id": "customer-org-id"},
		"date_created": "2018-10-02T08:36:36.479Z", "date_updated": "2018-10-03T09:40:17.241Z",
		"entities": [{"id": "Entity id", "label": "Entity label", "type": "MMP_ORDER"}],
		"id": "702c3e56-dcca-41e2-b6bd-72ba3fa809be",
		"messages": [
			{"attachments": [{"id": "fce1742e", "name": "Brochure du service", "size": 200}],
			 "body": "Dear customer, ...", "date_created": "2018-10-03T09:40:17.241Z",
			 "from": {"display_name": "Shop user display name", "organization_details": {"display_name": "Shop display name", "id": "Shop id", "type": "SHOP"}, "type": "SHOP_USER"},
			 "id": "d752f26f", "to": [{"display_name": "Customer display name", "id": "Customer id", "type": "CUSTOMER"}]},
			{"body": "Hello, I have recently order a service", "date_created": "2018-10-02T08:36:36.479Z",
			 "from": {"display_name": "Customer display name", "type": "CUSTOMER_USER"},
			 "id": "df4a3163", "to": [{"display_name": "Shop display name", "id": "Shop id", "type": "SHOP"}]}],
		"metadata": {"last_message_date": "2018-10-03T09:40:17.241Z", "last_sender": {"display_name": "Shop user display name", "type": "SHOP_USER"},
			"shop_reply_needed_since": null, "total_count": 2},
		"no_store_reply_needed": [], "topic": {"type": "FREE_TEXT", "value": "Questions about my order"}, "a_new_field": true
	}`
	got, err := canned(t, http.StatusOK, nil, thread).GetThread(t.Context(), "702c3e56-dcca-41e2-b6bd-72ba3fa809be")
	if err != nil {
		t.Fatal(err)
	}
	shop := connectors.Party{Type: connectors.PartyShop, ID: "Shop id", Name: "Shop display name"}
	customer := connectors.Party{Type: connectors.PartyCustomer, ID: "Customer id", Name: "Customer display name"}
	want := connectors.Thread{
		ID: "702c3e56-dcca-41e2-b6bd-72ba3fa809be", Topic: "Questions about my order",
		Entity:       connectors.ThreadEntity{Type: connectors.EntityOrder, RawType: "MMP_ORDER", ID: "Entity id", Label: "Entity label"},
		Participants: []connectors.Party{shop, customer}, Customer: &customer,
		CreatedAt: time.Date(2018, 10, 2, 8, 36, 36, 479e6, time.UTC), UpdatedAt: time.Date(2018, 10, 3, 9, 40, 17, 241e6, time.UTC),
		Messages: []connectors.ThreadMessage{
			{ID: "df4a3163", Body: "Hello, I have recently order a service", CreatedAt: time.Date(2018, 10, 2, 8, 36, 36, 479e6, time.UTC),
				From: connectors.Party{Type: connectors.PartyCustomer, Name: "Customer display name"}, To: []connectors.Party{shop}},
			{ID: "d752f26f", Body: "Dear customer, ...", CreatedAt: time.Date(2018, 10, 3, 9, 40, 17, 241e6, time.UTC),
				From: connectors.Party{Type: connectors.PartyShop, ID: "Shop id", Name: "Shop user display name"}, To: []connectors.Party{customer},
				Attachments: []connectors.AttachmentMeta{{ID: "fce1742e", Name: "Brochure du service", Size: 200}}},
		},
		TotalMessages: 2,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("thread (-want +got):\n%s", diff)
	}

	orders := `{"orders": [{
		"order_id": "O-1-A", "commercial_id": "O-1", "order_state": "SHIPPED",
		"created_date": "2019-09-24T14:00:40Z", "last_updated_date": "2019-09-25T10:00:00.5Z",
		"customer": {"customer_id": "cust-1", "firstname": "Jane", "lastname": "Doe", "billing_address": null, "shipping_address": null},
		"customer_notification_email": "x7f3@relay.example", "currency_iso_code": "EUR",
		"price": 39.90, "shipping_price": 4.9, "total_price": 44.80, "total_commission": 5,
		"shipping_company": "", "shipping_carrier_code": "COLISSIMO", "shipping_tracking": "6A123", "shipping_tracking_url": "https://track.example/6A123",
		"order_lines": [{"order_line_id": "O-1-A-1", "order_line_state": "SHIPPED", "offer_sku": "MUG-1", "product_title": "Mug", "quantity": 2, "price": 39.90, "price_unit": 19.95}]
	}], "total_count": 1}`
	page, err := canned(t, http.StatusOK, nil, orders).ListOrders(t.Context(), connectors.OrderQuery{})
	if err != nil {
		t.Fatal(err)
	}
	wantOrder := connectors.Order{
		ID: "O-1-A", CommercialID: "O-1", State: "SHIPPED", Status: connectors.OrderShipped,
		CreatedAt: time.Date(2019, 9, 24, 14, 0, 40, 0, time.UTC), UpdatedAt: time.Date(2019, 9, 25, 10, 0, 0, 5e8, time.UTC),
		CustomerEmail: "x7f3@relay.example", CustomerName: "Jane Doe", CustomerID: "cust-1",
		Lines:          []connectors.OrderLine{{ID: "O-1-A-1", SKU: "MUG-1", Title: "Mug", Quantity: 2, Price: "39.90", Status: connectors.OrderShipped}},
		TrackingNumber: "6A123", TrackingURL: "https://track.example/6A123", Carrier: "COLISSIMO",
		Total: "44.80", Currency: "EUR", ShippingPrice: "4.9",
	}
	if diff := cmp.Diff(connectors.OrderPage{Orders: []connectors.Order{wantOrder}, Total: 1}, page); diff != "" {
		t.Errorf("orders (-want +got):\n%s", diff)
	}
}

func TestListOrdersRefusesForeignTokens(t *testing.T) {
	t.Parallel()
	h := startFake(t, setup{})
	for _, tok := range []string{"not a token", "e30"} {
		if _, err := h.mp.ListOrders(t.Context(), connectors.OrderQuery{PageToken: tok}); !errors.Is(err, connectors.ErrInvalid) {
			t.Errorf("page token %q: err = %v, want ErrInvalid", tok, err)
		}
	}
}

func TestNewValidatesOptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts mirakl.Options
		ok   bool
	}{
		{"valid", mirakl.Options{BaseURL: "https://marketplace.example.com", APIKey: apiKey}, true},
		{"valid with a path and a shop", mirakl.Options{BaseURL: "https://proxy.example.com/mirakl/api", APIKey: apiKey, ShopID: "2001"}, true},
		{"no base url", mirakl.Options{APIKey: apiKey}, false},
		{"not http", mirakl.Options{BaseURL: "ftp://marketplace.example.com", APIKey: apiKey}, false},
		{"credentials in the url", mirakl.Options{BaseURL: "https://u:p@marketplace.example.com", APIKey: apiKey}, false},
		{"a query", mirakl.Options{BaseURL: "https://marketplace.example.com?x=1", APIKey: apiKey}, false},
		{"no api key", mirakl.Options{BaseURL: "https://marketplace.example.com"}, false},
		{"shop id not a number", mirakl.Options{BaseURL: "https://marketplace.example.com", APIKey: apiKey, ShopID: "acme"}, false},
	}
	for _, tc := range tests {
		if _, err := mirakl.New(tc.opts); (err == nil) != tc.ok {
			t.Errorf("%s: err = %v, want ok = %t", tc.name, err, tc.ok)
		}
	}
}
