package discussions

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/helpdesk-bridge/bridge/bridge/httpapi"
	"github.com/helpdesk-bridge/bridge/bridge/rdb/rdbtest"
	"github.com/helpdesk-bridge/bridge/config"
	"github.com/helpdesk-bridge/bridge/connectors"
)

// apiTestDB is these tests' database on the test Redis (see rdbtest). Each
// test flushes it, so the tests that use it do not run in parallel.
const apiTestDB = 10

// Tokens and customer data the tests send; none may reach the logs.
const (
	acmeAPIToken   = "acme-api-token-0123456789abcdef"
	globexAPIToken = "globex-api-token-0123456789abcd"
	// sharedAPIToken is listed by both merchants: it must open neither.
	sharedAPIToken = "shared-api-token-0123456789abc"
	apiBuyerEmail  = "jeanne.martin@example.com"
	apiBuyerName   = "Jeanne Martin"
)

var apiT0 = time.Date(2026, 1, 10, 12, 0, 0, 0, time.UTC)

// apiMarketplace serves threads by id and records GetThread's calls.
type apiMarketplace struct {
	mu      sync.Mutex
	threads map[string]connectors.Thread
	err     error // GetThread's answer, when set
	got     []string
}

var _ connectors.Marketplace = (*apiMarketplace)(nil)

func (f *apiMarketplace) Capabilities() connectors.MarketplaceCapabilities {
	return connectors.MarketplaceCapabilities{}
}

func (f *apiMarketplace) ListThreads(context.Context, connectors.ThreadQuery) (connectors.ThreadPage, error) {
	return connectors.ThreadPage{}, nil
}

func (f *apiMarketplace) GetThread(_ context.Context, id string) (connectors.Thread, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.got = append(f.got, id)
	if f.err != nil {
		return connectors.Thread{}, f.err
	}
	t, ok := f.threads[id]
	if !ok {
		return connectors.Thread{}, fmt.Errorf("fake: thread %s: %w", id, connectors.ErrNotFound)
	}
	return t, nil
}

func (f *apiMarketplace) Reply(context.Context, string, connectors.Reply) (connectors.SentReply, error) {
	return connectors.SentReply{}, connectors.ErrInvalid
}

func (f *apiMarketplace) DownloadAttachment(context.Context, string) (io.ReadCloser, connectors.AttachmentMeta, error) {
	return nil, connectors.AttachmentMeta{}, connectors.ErrNotFound
}

// apiHelpdesk opens numbered tickets and records appended messages;
// onAdd runs inside AddMessage, as a write racing the mirror would.
type apiHelpdesk struct {
	mu      sync.Mutex
	tickets int
	added   []connectors.Message
	onAdd   func()
}

func (f *apiHelpdesk) SetStatus(context.Context, string, connectors.Status) error { return nil }

func (f *apiHelpdesk) CreateTicket(_ context.Context, t connectors.NewTicket) (connectors.Ticket, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tickets++
	return connectors.Ticket{ID: fmt.Sprintf("T-%d", f.tickets), ExternalID: t.ExternalID}, true, nil
}

func (f *apiHelpdesk) AddMessage(_ context.Context, _ string, m connectors.Message) error {
	if f.onAdd != nil {
		f.onAdd()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.added = append(f.added, m)
	return nil
}

func (f *apiHelpdesk) ListMessages(context.Context, string) ([]connectors.TicketMessage, error) {
	return nil, nil
}

func (f *apiHelpdesk) CheckFileURL(string) error { return nil }

func (f *apiHelpdesk) DownloadAttachment(context.Context, string) (io.ReadCloser, string, error) {
	return nil, "", connectors.ErrNotFound
}

// apiQueue records tasks and refuses an id already taken, as asynq does.
type apiQueue struct {
	mu    sync.Mutex
	tasks []apiQueued
}

type apiQueued struct {
	typ, id string
	payload []byte
}

func (f *apiQueue) EnqueueContext(_ context.Context, task *asynq.Task, opts ...asynq.Option) (*asynq.TaskInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var id string
	for _, o := range opts {
		if o.Type() == asynq.TaskIDOpt {
			id = o.Value().(string)
		}
	}
	for _, q := range f.tasks {
		if id != "" && q.id == id {
			return nil, asynq.ErrTaskIDConflict
		}
	}
	f.tasks = append(f.tasks, apiQueued{typ: task.Type(), id: id, payload: task.Payload()})
	return &asynq.TaskInfo{ID: id}, nil
}

func (f *apiQueue) all() []apiQueued {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]apiQueued(nil), f.tasks...)
}

// apiFixture is a Service of two merchants on the test Redis, with its API
// mounted on the bridge's engine.
type apiFixture struct {
	t      *testing.T
	svc    *Service
	store  *Store
	rdb    *redis.Client
	mp     *apiMarketplace
	hd     *apiHelpdesk
	queue  *apiQueue
	now    time.Time
	engine http.Handler
	logs   *bytes.Buffer
}

func newAPIFixture(t *testing.T) *apiFixture {
	t.Helper()
	f := &apiFixture{
		t: t, rdb: rdbtest.Client(t, apiTestDB), mp: &apiMarketplace{threads: map[string]connectors.Thread{}},
		hd: &apiHelpdesk{}, queue: &apiQueue{}, now: apiT0, logs: &bytes.Buffer{},
	}
	f.store = NewStore(f.rdb, "test:")
	cfg := &config.Config{
		Worker: config.Worker{MaxRetry: 3},
		Merchants: []config.Merchant{
			{
				ID:        "acme",
				APITokens: []config.Secret{config.NewSecret(acmeAPIToken), config.NewSecret(sharedAPIToken)},
				Helpdesks: []config.Helpdesk{{ID: "acme-gorgias", Kind: config.KindGorgias}},
				Marketplaces: []config.Marketplace{{
					ID: "acme-carrefour", Kind: config.KindMirakl, Name: "carrefour", ShopID: "2042", Store: "acme-fr", Helpdesk: "acme-gorgias",
				}},
			},
			{
				ID:        "globex",
				APITokens: []config.Secret{config.NewSecret(globexAPIToken), config.NewSecret(sharedAPIToken)},
				Helpdesks: []config.Helpdesk{{ID: "globex-zendesk", Kind: config.KindZendesk}},
				Marketplaces: []config.Marketplace{{
					ID: "globex-darty", Kind: config.KindMirakl, Name: "darty", Store: "globex-fr", Helpdesk: "globex-zendesk",
				}},
			},
		},
	}
	f.svc = NewService(Options{
		Config: cfg, Store: f.store, Queue: f.queue, Now: func() time.Time { return f.now },
		Marketplaces: map[string]connectors.Marketplace{"acme-carrefour": f.mp, "globex-darty": &apiMarketplace{}},
		Helpdesks:    map[string]Helpdesk{"acme-gorgias": f.hd, "globex-zendesk": &apiHelpdesk{}},
	})
	e := httpapi.NewEngine(zerolog.New(f.logs), nil)
	f.svc.RegisterAPI(e)
	f.engine = e
	t.Cleanup(func() {
		for _, secret := range []string{acmeAPIToken, globexAPIToken, sharedAPIToken, apiBuyerEmail, apiBuyerName, "Jeanne"} {
			if strings.Contains(f.logs.String(), secret) {
				t.Errorf("the logs contain %q", secret)
			}
		}
	})
	return f
}

// seed saves discussions of acme's Carrefour account unless they say
// otherwise.
func (f *apiFixture) seed(ds ...Discussion) {
	f.t.Helper()
	for _, d := range ds {
		d.Merchant = apiOr(d.Merchant, "acme")
		d.Account = apiOr(d.Account, "acme-carrefour")
		d.Marketplace = apiOr(d.Marketplace, "carrefour")
		d.Status = apiOr(d.Status, StatusOpen)
		d.Type = apiOr(d.Type, connectors.EntityOther)
		if err := f.store.Save(context.Background(), d); err != nil {
			f.t.Fatal(err)
		}
	}
}

func apiOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func (f *apiFixture) get(merchant, account, thread string) Discussion {
	f.t.Helper()
	d, err := f.store.Get(context.Background(), merchant, account, thread)
	if err != nil {
		f.t.Fatalf("get %s/%s: %v", account, thread, err)
	}
	return d
}

// call sends a request to the API and decodes its JSON answer.
func (f *apiFixture) call(method, path, token string, body any) (int, http.Header, map[string]any) {
	f.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	default:
		raw, _ := json.Marshal(b)
		r = bytes.NewReader(raw)
	}
	req := httptest.NewRequest(method, path, r)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	f.engine.ServeHTTP(rec, req)
	var out map[string]any
	if rec.Body.Len() > 0 {
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			f.t.Fatalf("%s %s: answer is not JSON: %v: %s", method, path, err, rec.Body)
		}
	}
	return rec.Code, rec.Header(), out
}

func apiThreadIDs(ds []Discussion) []string {
	out := []string{}
	for _, d := range ds {
		out = append(out, d.ThreadID)
	}
	return out
}

// apiSeeds are acme's five discussions (and one of globex), newest first.
func apiSeeds(f *apiFixture) {
	f.seed(
		Discussion{
			ThreadID: "t01", Type: connectors.EntityOrder, EntityID: "FR-1001", Subject: "Where is my parcel?",
			Participants: []string{apiBuyerName, "Marketplace operator"}, CustomerName: apiBuyerName, CustomerEmail: apiBuyerEmail,
			Status: StatusOpen, UpdatedAt: apiT0.Add(10 * time.Minute), TicketID: "101", MerchantTicketID: "101", Helpdesk: "acme-gorgias",
		},
		Discussion{
			ThreadID: "t02", Type: connectors.EntityProduct, EntityID: "OFFER-9", Subject: "Is it waterproof?",
			Participants: []string{"Paul Durand"}, CustomerName: "Paul Durand", Status: StatusPending, Read: true, UpdatedAt: apiT0.Add(9 * time.Minute),
		},
		Discussion{
			ThreadID: "t03", Subject: "Catalogue import", Participants: []string{"Marketplace operator"},
			Status: StatusSolved, Read: true, UpdatedAt: apiT0.Add(8 * time.Minute),
		},
		Discussion{
			ThreadID: "t04", Type: connectors.EntityOrder, EntityID: "FR-1002", Subject: "Broken MUG",
			Participants: []string{"Paul Durand"}, Status: StatusClosed, UpdatedAt: apiT0.Add(7 * time.Minute),
		},
		Discussion{
			ThreadID: "t05", Account: "acme-darty", Marketplace: "darty", Type: connectors.EntityOrder, EntityID: "FR-1001",
			Subject: "Refund for my parcel", Participants: []string{"J. Martin"}, CustomerEmail: apiBuyerEmail,
			Status: StatusOpen, Read: true, UpdatedAt: apiT0.Add(6 * time.Minute),
		},
		Discussion{
			Merchant: "globex", Account: "globex-darty", Marketplace: "darty", ThreadID: "g01", Type: connectors.EntityOrder,
			EntityID: "FR-1001", Subject: "Where is my parcel?", Participants: []string{apiBuyerName}, UpdatedAt: apiT0.Add(11 * time.Minute),
		},
	)
}

func TestDiscussionListFilters(t *testing.T) {
	f := newAPIFixture(t)
	apiSeeds(f)
	yes, no := true, false
	tests := []struct {
		name string
		q    Query
		want []string
	}{
		{"everything, newest first", Query{}, []string{"t01", "t02", "t03", "t04", "t05"}},
		{"type order", Query{Type: "order"}, []string{"t01", "t04", "t05"}},
		{"type product", Query{Type: "product"}, []string{"t02"}},
		{"type other", Query{Type: "other"}, []string{"t03"}},
		{"marketplace, any case", Query{Marketplace: "CARREFOUR"}, []string{"t01", "t02", "t03", "t04"}},
		{"marketplace darty", Query{Marketplace: "darty"}, []string{"t05"}},
		{"one status", Query{Statuses: []string{StatusOpen}}, []string{"t01", "t05"}},
		{"any of two statuses", Query{Statuses: []string{StatusClosed, StatusOpen}}, []string{"t01", "t04", "t05"}},
		{"read", Query{Read: &yes}, []string{"t02", "t03", "t05"}},
		{"unread", Query{Read: &no}, []string{"t01", "t04"}},
		{"order id", Query{OrderID: "FR-1001"}, []string{"t01", "t05"}},
		{"order id of a product thread is no order", Query{OrderID: "OFFER-9"}, []string{}},
		{"participant's name, any case", Query{Participant: "MARTIN"}, []string{"t01", "t05"}},
		{"customer's email", Query{Participant: "Jeanne.Martin@"}, []string{"t01", "t05"}},
		{"another participant", Query{Participant: "durand"}, []string{"t02", "t04"}},
		{"the operator takes part", Query{Participant: "operator"}, []string{"t01", "t03"}},
		{"subject contains, any case", Query{Subject: "PARCEL"}, []string{"t01", "t05"}},
		{"subject", Query{Subject: "mug"}, []string{"t04"}},
		{"filters combine", Query{Type: "order", Statuses: []string{StatusOpen}, Participant: "martin", Read: &yes}, []string{"t05"}},
		{"nothing matches", Query{Subject: "invoice"}, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			page, err := f.svc.List(context.Background(), "acme", tt.q)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, apiThreadIDs(page.Discussions)); diff != "" {
				t.Errorf("threads (-want +got):\n%s", diff)
			}
			if page.NextCursor != "" {
				t.Errorf("a single page has a cursor %q", page.NextCursor)
			}
		})
	}
}

// TestDiscussionListEmptyFilters: a filter given empty selects everything,
// status= too, also next to a status given.
func TestDiscussionListEmptyFilters(t *testing.T) {
	f := newAPIFixture(t)
	apiSeeds(f)
	for query, want := range map[string][]string{
		"?status=": {"t01", "t02", "t03", "t04", "t05"},
		"?type=&marketplace=&read=&status=&subject=": {"t01", "t02", "t03", "t04", "t05"},
		"?status=open&status=":                       {"t01", "t05"},
	} {
		code, _, body := f.call("GET", "/v1/discussions"+query, acmeAPIToken, nil)
		var got []string
		ds, _ := body["discussions"].([]any)
		for _, d := range ds {
			got = append(got, d.(map[string]any)["thread_id"].(string))
		}
		if code != 200 || fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: %d %v, want 200 %v: %v", query, code, got, want, body)
		}
	}
}

// apiPages lists every page of q, with the given scan budget per page.
func apiPages(t *testing.T, f *apiFixture, q Query, budget int) (ids []string, sizes []int) {
	t.Helper()
	ids = []string{}
	for range 100 {
		page, err := f.svc.list(context.Background(), "acme", q, budget)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, apiThreadIDs(page.Discussions)...)
		sizes = append(sizes, len(page.Discussions))
		if page.NextCursor == "" {
			return ids, sizes
		}
		q.Cursor = page.NextCursor
	}
	t.Fatal("the listing never ends")
	return nil, nil
}

func TestDiscussionListPages(t *testing.T) {
	f := newAPIFixture(t)
	// p2, p3 and p4 were updated in the same millisecond: pages must
	// neither repeat nor skip them, whichever page boundary falls there.
	for i, at := range []time.Duration{5, 4, 4, 4, 3, 2, 1} {
		d := Discussion{ThreadID: fmt.Sprintf("p%d", i+1), Subject: "Question", UpdatedAt: apiT0.Add(at * time.Minute)}
		if i >= 5 {
			d.Subject = "The needle"
		}
		f.seed(d)
	}
	// An index entry whose discussion is gone is passed over.
	f.rdb.ZAdd(context.Background(), "test:dsc:{acme}:all", redis.Z{Score: float64(apiT0.Add(6 * time.Minute).UnixMilli()), Member: "acme-carrefour:gone"})
	all := []string{"p1", "p4", "p3", "p2", "p5", "p6", "p7"}

	for _, limit := range []int{1, 2, 3, 6, 7, 200} {
		t.Run(fmt.Sprintf("limit %d", limit), func(t *testing.T) {
			ids, sizes := apiPages(t, f, Query{Limit: limit}, scanBudget)
			if diff := cmp.Diff(all, ids); diff != "" {
				t.Errorf("pages (-want +got):\n%s", diff)
			}
			// Full pages but the last; no empty page at the end.
			for i, n := range sizes {
				if i < len(sizes)-1 && n != limit || n == 0 {
					t.Errorf("page sizes %v with limit %d", sizes, limit)
					break
				}
			}
		})
	}
	t.Run("a rare match under a small scan budget", func(t *testing.T) {
		ids, sizes := apiPages(t, f, Query{Subject: "needle", Limit: 5}, 3)
		if diff := cmp.Diff([]string{"p6", "p7"}, ids); diff != "" {
			t.Errorf("matches (-want +got):\n%s", diff)
		}
		// gone, p1, p4 | p3, p2, p5 | p6, p7: each page reads three.
		if diff := cmp.Diff([]int{0, 0, 2}, sizes); diff != "" {
			t.Errorf("page sizes (-want +got):\n%s", diff)
		}
	})
	for _, c := range []string{"not base64!", "bm90IGpzb24", "e30"} {
		if _, err := f.svc.List(context.Background(), "acme", Query{Cursor: c}); !errors.Is(err, ErrInvalidCursor) {
			t.Errorf("cursor %q: err %v, want ErrInvalidCursor", c, err)
		}
	}
}

func TestDiscussionStoreUpdate(t *testing.T) {
	f := newAPIFixture(t)
	ctx := context.Background()
	f.seed(Discussion{ThreadID: "t01", Subject: "Before", UpdatedAt: apiT0})

	if _, err := f.store.Update(ctx, "acme", "acme-carrefour", "nope", func(*Discussion) error { return nil }); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown discussion: %v, want ErrNotFound", err)
	}
	if _, err := f.store.Update(ctx, "globex", "acme-carrefour", "t01", func(*Discussion) error { return nil }); !errors.Is(err, ErrNotFound) {
		t.Errorf("another merchant's discussion: %v, want ErrNotFound", err)
	}

	// A write between Update's read and its write makes it start over,
	// from the discussion as that write left it.
	calls := 0
	got, err := f.store.Update(ctx, "acme", "acme-carrefour", "t01", func(d *Discussion) error {
		calls++
		if calls == 1 {
			other := *d
			other.Subject = "Written meanwhile"
			if err := f.store.Save(ctx, other); err != nil {
				t.Fatal(err)
			}
		}
		d.Status = StatusSolved
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if calls != 2 || got.Subject != "Written meanwhile" || got.Status != StatusSolved {
		t.Errorf("after a conflict: %d calls, %+v; want 2 calls, both writes", calls, got)
	}
	if d := f.get("acme", "acme-carrefour", "t01"); d.Subject != "Written meanwhile" || d.Status != StatusSolved {
		t.Errorf("stored %+v, want both writes", d)
	}

	boom := errors.New("boom")
	if _, err := f.store.Update(ctx, "acme", "acme-carrefour", "t01", func(d *Discussion) error { d.Status = StatusClosed; return boom }); !errors.Is(err, boom) {
		t.Errorf("fn's error: %v", err)
	}
	if _, err := f.store.Update(ctx, "acme", "acme-carrefour", "t01", func(d *Discussion) error { d.ThreadID = "t02"; return nil }); err == nil {
		t.Error("an update moved the discussion to another key")
	}
	if d := f.get("acme", "acme-carrefour", "t01"); d.Status != StatusSolved {
		t.Errorf("an aborted update wrote: %+v", d)
	}

	// Concurrent updates lose nothing.
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, err := f.store.Update(ctx, "acme", "acme-carrefour", "t01", func(d *Discussion) error { d.Messages++; return nil }); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if d := f.get("acme", "acme-carrefour", "t01"); d.Messages != 8 {
		t.Errorf("%d increments of 8 survived", d.Messages)
	}
}

func TestDiscussionSetStatusAllOrNothing(t *testing.T) {
	f := newAPIFixture(t)
	ctx := context.Background()
	apiSeeds(f)
	refs := []ThreadRef{{"acme-carrefour", "t01"}, {"acme-carrefour", "t02"}, {"globex-darty", "g01"}}
	_, err := f.svc.SetStatus(ctx, "acme", refs, StatusSolved)
	var missing *MissingError
	if !errors.As(err, &missing) || missing.Index != 2 {
		t.Fatalf("err %v, want the third one missing", err)
	}
	if a, b := f.get("acme", "acme-carrefour", "t01"), f.get("acme", "acme-carrefour", "t02"); a.Status != StatusOpen || b.Status != StatusPending {
		t.Errorf("a refused change wrote: %s, %s", a.Status, b.Status)
	}
	ds, err := f.svc.SetStatus(ctx, "acme", refs[:2], StatusSolved)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"t01", "t02"}, apiThreadIDs(ds)); diff != "" {
		t.Errorf("answered (-want +got):\n%s", diff)
	}
	for _, id := range []string{"t01", "t02"} {
		if d := f.get("acme", "acme-carrefour", id); d.Status != StatusSolved || d.UpdatedAt.IsZero() {
			t.Errorf("%s: %+v", id, d)
		}
	}
	if _, err := f.svc.SetStatus(ctx, "acme", refs[:1], "done"); !errors.Is(err, ErrInvalidStatus) {
		t.Errorf("status done: %v", err)
	}
}

// Mirror writes its result with Update: what the API sets while a mirror
// runs survives it, unless a new message from the customer or the
// operator reopens the discussion.
func TestDiscussionMirrorKeepsWhatTheAPISetMeanwhile(t *testing.T) {
	f := newAPIFixture(t)
	ctx := context.Background()
	customer := connectors.Party{Type: connectors.PartyCustomer, Name: apiBuyerName}
	thread := connectors.Thread{
		ID: "th1", Topic: "Where is my parcel?", Entity: connectors.ThreadEntity{Type: connectors.EntityOrder, ID: "FR-1001"},
		Participants: []connectors.Party{customer}, Customer: &customer, CreatedAt: apiT0, UpdatedAt: apiT0,
		Messages: []connectors.ThreadMessage{{ID: "m1", Body: "Hello?", CreatedAt: apiT0, From: customer}},
	}
	mirror := func() {
		t.Helper()
		if err := f.svc.Mirror(ctx, MirrorPayload{Merchant: "acme", Account: "acme-carrefour", Thread: thread}); err != nil {
			t.Fatal(err)
		}
	}
	mirror()
	if d := f.get("acme", "acme-carrefour", "th1"); d.TicketID != "T-1" || d.MerchantTicketID != "T-1" || d.Status != StatusOpen {
		t.Fatalf("first mirror: %+v", d)
	}

	// A message the shop wrote in the back office reopens nothing; the
	// API's writes land while it is appended.
	thread.UpdatedAt = apiT0.Add(time.Minute)
	thread.Messages = append(thread.Messages, connectors.ThreadMessage{ID: "m2", Body: "On its way.", CreatedAt: thread.UpdatedAt, From: connectors.Party{Type: connectors.PartyShop}})
	f.hd.onAdd = func() {
		if _, err := f.svc.SetStatus(ctx, "acme", []ThreadRef{{"acme-carrefour", "th1"}}, StatusSolved); err != nil {
			t.Error(err)
		}
		if _, err := f.svc.SetRead(ctx, "acme", "acme-carrefour", "th1", true); err != nil {
			t.Error(err)
		}
		if _, err := f.svc.SetMerchantTicketID(ctx, "acme", "acme-carrefour", "th1", "CRM-7"); err != nil {
			t.Error(err)
		}
	}
	mirror()
	f.hd.onAdd = nil
	d := f.get("acme", "acme-carrefour", "th1")
	want := struct {
		Status, MerchantTicketID, TicketID string
		Read                               bool
		Messages                           int
	}{StatusSolved, "CRM-7", "T-1", true, 2}
	got := want
	got.Status, got.MerchantTicketID, got.TicketID, got.Read, got.Messages = d.Status, d.MerchantTicketID, d.TicketID, d.Read, d.Messages
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("after a mirror that raced the API (-want +got):\n%s", diff)
	}

	// The customer writes again: open and unread, the merchant's ticket
	// id kept.
	thread.UpdatedAt = apiT0.Add(2 * time.Minute)
	thread.Messages = append(thread.Messages, connectors.ThreadMessage{ID: "m3", Body: "Thanks!", CreatedAt: thread.UpdatedAt, From: customer})
	mirror()
	if d := f.get("acme", "acme-carrefour", "th1"); d.Status != StatusOpen || d.Read || d.MerchantTicketID != "CRM-7" || d.Messages != 3 {
		t.Errorf("after the customer wrote again: %+v", d)
	}
}

func TestDiscussionAPIErrors(t *testing.T) {
	f := newAPIFixture(t)
	apiSeeds(f)
	many := make([]map[string]string, MaxStatusChange+1)
	for i := range many {
		many[i] = map[string]string{"account": "acme-carrefour", "thread_id": "t01"}
	}
	ref := func(account, thread string) map[string]string {
		return map[string]string{"account": account, "thread_id": thread}
	}
	tests := []struct {
		name          string
		method, path  string
		token         string
		header        string // a raw Authorization header instead of token
		body          any
		status        int
		code, field   string
		authChallenge bool
	}{
		{name: "no token", method: "GET", path: "/v1/discussions", status: 401, code: "missing_token", field: "Authorization", authChallenge: true},
		{name: "not a bearer token", method: "GET", path: "/v1/discussions", header: "Basic " + acmeAPIToken, status: 401, code: "missing_token", field: "Authorization", authChallenge: true},
		{name: "unknown token", method: "GET", path: "/v1/discussions", token: acmeAPIToken + "x", status: 401, code: "invalid_token", field: "Authorization", authChallenge: true},
		{name: "a token two merchants list", method: "GET", path: "/v1/discussions", token: sharedAPIToken, status: 401, code: "invalid_token", field: "Authorization", authChallenge: true},
		{name: "no token, on a write", method: "PATCH", path: "/v1/discussions/status", body: map[string]any{"discussions": []any{ref("acme-carrefour", "t01")}, "status": "solved"}, status: 401, code: "missing_token", field: "Authorization", authChallenge: true},

		{name: "type", method: "GET", path: "/v1/discussions?type=refund", token: acmeAPIToken, status: 422, code: "invalid_field", field: "type"},
		{name: "second status", method: "GET", path: "/v1/discussions?status=open&status=done", token: acmeAPIToken, status: 422, code: "invalid_field", field: "status"},
		{name: "read", method: "GET", path: "/v1/discussions?read=yes", token: acmeAPIToken, status: 422, code: "invalid_field", field: "read"},
		{name: "limit 0", method: "GET", path: "/v1/discussions?limit=0", token: acmeAPIToken, status: 422, code: "invalid_field", field: "limit"},
		{name: "limit 201", method: "GET", path: "/v1/discussions?limit=201", token: acmeAPIToken, status: 422, code: "invalid_field", field: "limit"},
		{name: "limit not a number", method: "GET", path: "/v1/discussions?limit=ten", token: acmeAPIToken, status: 422, code: "invalid_field", field: "limit"},
		{name: "cursor", method: "GET", path: "/v1/discussions?cursor=abc", token: acmeAPIToken, status: 422, code: "invalid_field", field: "cursor"},
		{name: "subject too long", method: "GET", path: "/v1/discussions?subject=" + strings.Repeat("a", 256), token: acmeAPIToken, status: 422, code: "invalid_field", field: "subject"},

		{name: "unknown discussion", method: "GET", path: "/v1/discussions/acme-carrefour/nope", token: acmeAPIToken, status: 404, code: "not_found", field: "thread"},
		{name: "another merchant's discussion", method: "GET", path: "/v1/discussions/acme-carrefour/t01", token: globexAPIToken, status: 404, code: "not_found", field: "thread"},
		{name: "mark another merchant's read", method: "POST", path: "/v1/discussions/acme-carrefour/t01/read", token: globexAPIToken, status: 404, code: "not_found", field: "thread"},
		{name: "mark unknown unread", method: "POST", path: "/v1/discussions/acme-carrefour/nope/unread", token: acmeAPIToken, status: 404, code: "not_found", field: "thread"},
		{name: "resync another merchant's thread", method: "POST", path: "/v1/discussions/acme-carrefour/t01/resync", token: globexAPIToken, status: 404, code: "not_found", field: "account"},
		{name: "resync another merchant's account", method: "POST", path: "/v1/discussions/acme-carrefour/resync", token: globexAPIToken, status: 404, code: "not_found", field: "account"},
		{name: "resync an unknown account", method: "POST", path: "/v1/discussions/acme-darty/resync", token: acmeAPIToken, status: 404, code: "not_found", field: "account"},
		{name: "resync full neither true nor false", method: "POST", path: "/v1/discussions/acme-carrefour/resync?full=yes", token: acmeAPIToken, status: 422, code: "invalid_field", field: "full"},
		{name: "resync full empty", method: "POST", path: "/v1/discussions/acme-carrefour/resync?full=", token: acmeAPIToken, status: 422, code: "invalid_field", field: "full"},

		{name: "status: empty body", method: "PATCH", path: "/v1/discussions/status", token: acmeAPIToken, body: "", status: 400, code: "malformed_body"},
		{name: "status: not JSON", method: "PATCH", path: "/v1/discussions/status", token: acmeAPIToken, body: "{", status: 400, code: "malformed_body"},
		{name: "status: none listed", method: "PATCH", path: "/v1/discussions/status", token: acmeAPIToken, body: map[string]any{"discussions": []any{}, "status": "solved"}, status: 422, code: "invalid_field", field: "discussions"},
		{name: "status: over 100", method: "PATCH", path: "/v1/discussions/status", token: acmeAPIToken, body: map[string]any{"discussions": many, "status": "solved"}, status: 422, code: "invalid_field", field: "discussions"},
		{name: "status: a thread id missing", method: "PATCH", path: "/v1/discussions/status", token: acmeAPIToken, body: map[string]any{"discussions": []any{ref("acme-carrefour", "t01"), map[string]string{"account": "acme-carrefour"}}, "status": "solved"}, status: 422, code: "invalid_field", field: "discussions[1].thread_id"},
		{name: "status: unknown status", method: "PATCH", path: "/v1/discussions/status", token: acmeAPIToken, body: map[string]any{"discussions": []any{ref("acme-carrefour", "t01")}, "status": "done"}, status: 422, code: "invalid_field", field: "status"},
		{name: "status: the third is unknown", method: "PATCH", path: "/v1/discussions/status", token: acmeAPIToken, body: map[string]any{"discussions": []any{ref("acme-carrefour", "t01"), ref("acme-carrefour", "t02"), ref("acme-carrefour", "nope")}, "status": "solved"}, status: 404, code: "not_found", field: "discussions[2]"},
		{name: "status: another merchant's", method: "PATCH", path: "/v1/discussions/status", token: globexAPIToken, body: map[string]any{"discussions": []any{ref("globex-darty", "g01"), ref("acme-carrefour", "t01")}, "status": "solved"}, status: 404, code: "not_found", field: "discussions[1]"},
		{name: "status: too large", method: "PATCH", path: "/v1/discussions/status", token: acmeAPIToken, body: `{"status":"solved","x":"` + strings.Repeat("a", MaxStatusBody) + `"}`, status: 413, code: "body_too_large"},

		{name: "ticket id: empty", method: "PUT", path: "/v1/discussions/acme-carrefour/t01/merchant-ticket-id", token: acmeAPIToken, body: map[string]string{"merchant_ticket_id": ""}, status: 422, code: "invalid_field", field: "merchant_ticket_id"},
		{name: "ticket id: too long", method: "PUT", path: "/v1/discussions/acme-carrefour/t01/merchant-ticket-id", token: acmeAPIToken, body: map[string]string{"merchant_ticket_id": strings.Repeat("é", 256)}, status: 422, code: "invalid_field", field: "merchant_ticket_id"},
		{name: "ticket id: not printable", method: "PUT", path: "/v1/discussions/acme-carrefour/t01/merchant-ticket-id", token: acmeAPIToken, body: map[string]string{"merchant_ticket_id": "CRM\n42"}, status: 422, code: "invalid_field", field: "merchant_ticket_id"},
		{name: "ticket id: not a string", method: "PUT", path: "/v1/discussions/acme-carrefour/t01/merchant-ticket-id", token: acmeAPIToken, body: map[string]int{"merchant_ticket_id": 42}, status: 400, code: "malformed_body", field: "merchant_ticket_id"},
		{name: "ticket id: another merchant's", method: "PUT", path: "/v1/discussions/acme-carrefour/t01/merchant-ticket-id", token: globexAPIToken, body: map[string]string{"merchant_ticket_id": "CRM-42"}, status: 404, code: "not_found", field: "thread"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r io.Reader
			switch b := tt.body.(type) {
			case nil:
			case string:
				r = strings.NewReader(b)
			default:
				raw, _ := json.Marshal(b)
				r = bytes.NewReader(raw)
			}
			req := httptest.NewRequest(tt.method, tt.path, r)
			switch {
			case tt.header != "":
				req.Header.Set("Authorization", tt.header)
			case tt.token != "":
				req.Header.Set("Authorization", "Bearer "+tt.token)
			}
			rec := httptest.NewRecorder()
			f.engine.ServeHTTP(rec, req)
			var got struct{ Error httpapi.Error }
			_ = json.Unmarshal(rec.Body.Bytes(), &got)
			if rec.Code != tt.status || got.Error.Code != tt.code || got.Error.Field != tt.field {
				t.Errorf("%d %q on %q, want %d %q on %q: %s", rec.Code, got.Error.Code, got.Error.Field, tt.status, tt.code, tt.field, rec.Body)
			}
			if challenge := rec.Header().Get("WWW-Authenticate"); tt.authChallenge != strings.HasPrefix(challenge, "Bearer ") {
				t.Errorf("WWW-Authenticate %q", challenge)
			}
		})
	}
	// Nothing a refused request named changed.
	for _, id := range []string{"t01", "t02"} {
		if d := f.get("acme", "acme-carrefour", id); d.Status == StatusSolved || d.MerchantTicketID == "CRM-42" {
			t.Errorf("%s changed: %+v", id, d)
		}
	}
}

func TestDiscussionAPIReadsAndWrites(t *testing.T) {
	f := newAPIFixture(t)
	apiSeeds(f)

	code, _, body := f.call("GET", "/v1/discussions?type=order&status=open&status=closed&limit=2", acmeAPIToken, nil)
	if code != 200 {
		t.Fatalf("list: %d %v", code, body)
	}
	var page Page
	page = Page{}
	apiRemarshal(t, body, &page)
	if diff := cmp.Diff([]string{"t01", "t04"}, apiThreadIDs(page.Discussions)); diff != "" || page.NextCursor == "" {
		t.Errorf("first page (-want +got):\n%s\ncursor %q", diff, page.NextCursor)
	}
	code, _, body = f.call("GET", "/v1/discussions?type=order&status=open&status=closed&limit=2&cursor="+page.NextCursor, acmeAPIToken, nil)
	page = Page{}
	apiRemarshal(t, body, &page)
	if diff := cmp.Diff([]string{"t05"}, apiThreadIDs(page.Discussions)); code != 200 || diff != "" || page.NextCursor != "" {
		t.Errorf("second page: %d (-want +got):\n%s\ncursor %q", code, diff, page.NextCursor)
	}
	if _, ok := body["next_cursor"]; ok {
		t.Error("the last page names a next_cursor")
	}

	// Each merchant sees its own.
	code, _, body = f.call("GET", "/v1/discussions?subject=parcel", globexAPIToken, nil)
	page = Page{}
	apiRemarshal(t, body, &page)
	if diff := cmp.Diff([]string{"g01"}, apiThreadIDs(page.Discussions)); code != 200 || diff != "" {
		t.Errorf("globex's list: %d (-want +got):\n%s", code, diff)
	}

	code, _, body = f.call("GET", "/v1/discussions/acme-carrefour/t01", acmeAPIToken, nil)
	if code != 200 || body["thread_id"] != "t01" || body["ticket_id"] != "101" || body["merchant_ticket_id"] != "101" || body["customer_email"] != apiBuyerEmail {
		t.Errorf("one discussion: %d %v", code, body)
	}

	refs := []map[string]string{{"account": "acme-carrefour", "thread_id": "t04"}, {"account": "acme-darty", "thread_id": "t05"}}
	code, _, body = f.call("PATCH", "/v1/discussions/status", acmeAPIToken, map[string]any{"discussions": refs, "status": "pending"})
	if code != 200 {
		t.Fatalf("status: %d %v", code, body)
	}
	var changed struct{ Discussions []Discussion }
	apiRemarshal(t, body, &changed)
	if len(changed.Discussions) != 2 || changed.Discussions[0].Status != StatusPending || changed.Discussions[1].ThreadID != "t05" {
		t.Errorf("status answer: %+v", changed)
	}
	if f.get("acme", "acme-darty", "t05").Status != StatusPending {
		t.Error("t05's status did not change")
	}

	code, _, body = f.call("POST", "/v1/discussions/acme-carrefour/t01/read", acmeAPIToken, nil)
	if code != 200 || body["read"] != true || !f.get("acme", "acme-carrefour", "t01").Read {
		t.Errorf("read: %d %v", code, body)
	}
	code, _, body = f.call("POST", "/v1/discussions/acme-carrefour/t01/unread", acmeAPIToken, nil)
	if code != 200 || body["read"] != false || f.get("acme", "acme-carrefour", "t01").Read {
		t.Errorf("unread: %d %v", code, body)
	}

	code, _, body = f.call("PUT", "/v1/discussions/acme-carrefour/t01/merchant-ticket-id", acmeAPIToken, map[string]string{"merchant_ticket_id": "CRM 42 · é"})
	if d := f.get("acme", "acme-carrefour", "t01"); code != 200 || body["merchant_ticket_id"] != "CRM 42 · é" || d.MerchantTicketID != "CRM 42 · é" || d.TicketID != "101" {
		t.Errorf("merchant ticket id: %d %v; stored %q, ticket %q", code, body, d.MerchantTicketID, d.TicketID)
	}

	// A discussion without participants lists none, never null.
	f.seed(Discussion{ThreadID: "t06", UpdatedAt: apiT0})
	code, _, body = f.call("GET", "/v1/discussions/acme-carrefour/t06", acmeAPIToken, nil)
	if p, ok := body["participants"].([]any); code != 200 || !ok || len(p) != 0 {
		t.Errorf("participants of t06: %d %v", code, body["participants"])
	}
}

func apiRemarshal(t *testing.T, from any, to any) {
	t.Helper()
	b, _ := json.Marshal(from)
	if err := json.Unmarshal(b, to); err != nil {
		t.Fatal(err)
	}
}

func TestDiscussionAPIResync(t *testing.T) {
	f := newAPIFixture(t)
	customer := connectors.Party{Type: connectors.PartyCustomer, Name: apiBuyerName}
	f.mp.threads["t01"] = connectors.Thread{
		ID: "t01", Topic: "Where is my parcel?", Customer: &customer, UpdatedAt: apiT0,
		Messages: []connectors.ThreadMessage{{ID: "m1", Body: "Hello?", From: customer}, {ID: "m2", Body: "Any news?", From: customer}},
	}

	for range 2 {
		code, _, body := f.call("POST", "/v1/discussions/acme-carrefour/t01/resync", acmeAPIToken, nil)
		if code != 202 || body["status"] != "enqueued" || body["thread_id"] != "t01" {
			t.Fatalf("resync: %d %v", code, body)
		}
	}
	tasks := f.queue.all()
	if len(tasks) != 2 || tasks[0].id == tasks[1].id || !strings.HasPrefix(tasks[0].id, "discussion-resync-") {
		t.Fatalf("two resyncs enqueued %+v; want two mirror tasks with fresh ids", tasks)
	}
	var p MirrorPayload
	if err := json.Unmarshal(tasks[0].payload, &p); err != nil {
		t.Fatal(err)
	}
	if tasks[0].typ != TypeMirror || p.Merchant != "acme" || p.Account != "acme-carrefour" || p.Thread.ID != "t01" || len(p.Thread.Messages) != 2 {
		t.Errorf("mirror task %s: %+v", tasks[0].typ, p)
	}
	if diff := cmp.Diff([]string{"t01", "t01"}, f.mp.got); diff != "" {
		t.Errorf("GetThread calls (-want +got):\n%s", diff)
	}

	tests := []struct {
		name        string
		thread      string
		err         error
		status      int
		code        string
		retryAfter  string
		wantEnqueue bool
	}{
		{name: "unknown to the marketplace", thread: "nope", status: 404, code: "not_found"},
		{name: "rate limited", thread: "t01", err: fmt.Errorf("mirakl: %w", &connectors.RateLimitedError{RetryAfter: 2500 * time.Millisecond}), status: 503, code: "marketplace_unavailable", retryAfter: "3"},
		{name: "down", thread: "t01", err: fmt.Errorf("mirakl: %w", connectors.ErrUnavailable), status: 503, code: "marketplace_unavailable", retryAfter: "5"},
		{name: "key revoked", thread: "t01", err: &connectors.APIError{Status: 401, Kind: connectors.ErrUnauthorized}, status: 502, code: "marketplace_error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.mp.err = tt.err
			defer func() { f.mp.err = nil }()
			code, header, body := f.call("POST", "/v1/discussions/acme-carrefour/"+tt.thread+"/resync", acmeAPIToken, nil)
			e, _ := body["error"].(map[string]any)
			if code != tt.status || e["code"] != tt.code || header.Get("Retry-After") != tt.retryAfter {
				t.Errorf("%d %v, Retry-After %q; want %d %s, %q", code, body, header.Get("Retry-After"), tt.status, tt.code, tt.retryAfter)
			}
		})
	}
	if n := len(f.queue.all()); n != 2 {
		t.Errorf("failed resyncs enqueued: %d tasks", n)
	}

	// The account's sync: once per minute, however often asked.
	f.now = apiT0.Add(10 * time.Second)
	for i, want := range []string{"enqueued", "already_enqueued"} {
		code, _, body := f.call("POST", "/v1/discussions/acme-carrefour/resync", acmeAPIToken, nil)
		if code != 202 || body["status"] != want || body["account"] != "acme-carrefour" {
			t.Errorf("account resync %d: %d %v, want %s", i, code, body, want)
		}
	}
	f.now = apiT0.Add(70 * time.Second)
	if code, _, body := f.call("POST", "/v1/discussions/acme-carrefour/resync", acmeAPIToken, nil); code != 202 || body["status"] != "enqueued" {
		t.Errorf("account resync the next minute: %d %v", code, body)
	}
	var syncs []string
	for _, q := range f.queue.all() {
		if q.typ == TypeSync {
			var p SyncPayload
			_ = json.Unmarshal(q.payload, &p)
			syncs = append(syncs, q.id+" "+p.Merchant+"/"+p.Account)
		}
	}
	want := []string{
		"discussion-sync-now-acme-acme-carrefour-202601101200 acme/acme-carrefour",
		"discussion-sync-now-acme-acme-carrefour-202601101201 acme/acme-carrefour",
	}
	if diff := cmp.Diff(want, syncs); diff != "" {
		t.Errorf("sync tasks (-want +got):\n%s", diff)
	}
}
