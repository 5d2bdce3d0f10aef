package miraklfake_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/helpdesk-bridge/bridge/connectors/fault"
	"github.com/helpdesk-bridge/bridge/connectors/mirakl/api"
	"github.com/helpdesk-bridge/bridge/connectors/mirakl/miraklfake"
)

const (
	key      = "shop-key"
	multiKey = "multi-shop-key"
	shopID   = "2001"
	otherID  = "2002"
	prefix   = "/carrefour"
)

// clock is a settable clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newFake(t *testing.T, opts miraklfake.Options) (*miraklfake.Server, *clock) {
	t.Helper()
	clk := newClock()
	if opts.Shops == nil {
		opts.Shops = []miraklfake.Shop{
			{ID: shopID, Name: "Acme", APIKeys: []string{key, multiKey}},
			{ID: otherID, Name: "Other shop", APIKeys: []string{multiKey}},
		}
	}
	if opts.Now == nil {
		opts.Now = clk.Now
	}
	opts.PathPrefix = prefix
	return miraklfake.New(opts), clk
}

// answer is a recorded response.
type answer struct {
	status int
	header http.Header
	raw    []byte
}

func (a answer) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(a.raw, v); err != nil {
		t.Fatalf("undecodable answer %q: %v", a.raw, err)
	}
}

// errorBody checks a Mirakl error answer and returns its message.
func (a answer) errorBody(t *testing.T) string {
	t.Helper()
	var e api.ErrorResponse
	a.decode(t, &e)
	if e.Status != a.status || e.Message == "" {
		t.Errorf("error body %s: want status %d and a message", a.raw, a.status)
	}
	return e.Message
}

// request is one call to the fake.
type request struct {
	method, path string
	query        url.Values
	key          string // "" sends no Authorization header
	contentType  string
	body         []byte
}

func do(t *testing.T, h http.Handler, r request) answer {
	t.Helper()
	target := prefix + r.path
	if len(r.query) > 0 {
		target += "?" + r.query.Encode()
	}
	req := httptest.NewRequest(r.method, target, bytes.NewReader(r.body))
	if r.key != "" {
		req.Header.Set("Authorization", r.key)
	}
	if r.contentType != "" {
		req.Header.Set("Content-Type", r.contentType)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return answer{status: rec.Code, header: rec.Header(), raw: rec.Body.Bytes()}
}

func get(t *testing.T, h http.Handler, path string, query url.Values) answer {
	t.Helper()
	return do(t, h, request{method: http.MethodGet, path: path, query: query, key: key})
}

// form builds an M12 body as the official SDK sends it.
type form struct {
	input       any    // JSON-encoded unless a string
	inputType   string // "" means application/json;charset=utf-8; "-" sends none
	files       []miraklfake.FileSeed
	noFileNames bool
}

func (f form) encode(t *testing.T) (contentType string, body []byte) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	if f.input != nil {
		raw, ok := f.input.(string)
		if !ok {
			b, err := json.Marshal(f.input)
			if err != nil {
				t.Fatal(err)
			}
			raw = string(b)
		}
		h := textproto.MIMEHeader{"Content-Disposition": {`form-data; name="message_input"`}}
		switch f.inputType {
		case "":
			h.Set("Content-Type", "application/json;charset=utf-8")
		case "-":
		default:
			h.Set("Content-Type", f.inputType)
		}
		w, _ := mw.CreatePart(h)
		_, _ = io.WriteString(w, raw)
	}
	for _, file := range f.files {
		disp := fmt.Sprintf(`form-data; name="files"; filename=%q`, file.Name)
		if f.noFileNames {
			disp = `form-data; name="files"`
		}
		w, _ := mw.CreatePart(textproto.MIMEHeader{"Content-Disposition": {disp}, "Content-Type": {"application/octet-stream"}})
		_, _ = w.Write(file.Content)
	}
	_ = mw.Close()
	return mw.FormDataContentType(), buf.Bytes()
}

func reply(t *testing.T, h http.Handler, threadID string, f form) answer {
	t.Helper()
	ct, body := f.encode(t)
	return do(t, h, request{method: http.MethodPost, path: "/api/inbox/threads/" + threadID + "/message", key: key, contentType: ct, body: body})
}

func input(body string, to ...string) api.MessageInput {
	in := api.MessageInput{Body: body}
	for _, typ := range to {
		in.To = append(in.To, api.Recipient{Type: typ})
	}
	return in
}

// orderThread seeds a thread about an order, opened by its customer.
func orderThread(t *testing.T, s *miraklfake.Server, orderID string, at time.Time) api.Thread {
	t.Helper()
	th, err := s.AddThread(miraklfake.ThreadSeed{
		EntityType: api.EntityOrder, EntityID: orderID, Topic: "Where is my parcel?",
		CustomerID: "cust-" + orderID, CustomerName: "Jane Doe",
		Message: miraklfake.MessageSeed{Body: "Hello, where is my parcel?", At: at},
	})
	if err != nil {
		t.Fatal(err)
	}
	return th
}

func TestAuth(t *testing.T) {
	t.Parallel()
	s, clk := newFake(t, miraklfake.Options{})
	th := orderThread(t, s, "O-1", clk.Now())
	other, err := s.AddThread(miraklfake.ThreadSeed{ShopID: otherID, Message: miraklfake.MessageSeed{Body: "To the other shop"}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		key    string
		query  url.Values
		status int
		want   string // the thread listed
	}{
		{"no key", "", nil, http.StatusUnauthorized, ""},
		{"bearer scheme", "Bearer " + key, nil, http.StatusUnauthorized, ""},
		{"wrong key", "nope", nil, http.StatusUnauthorized, ""},
		{"default shop", key, nil, http.StatusOK, th.ID},
		{"multi-shop key, default shop", multiKey, nil, http.StatusOK, th.ID},
		{"multi-shop key, other shop", multiKey, url.Values{"shop_id": {otherID}}, http.StatusOK, other.ID},
		{"shop of another user", key, url.Values{"shop_id": {otherID}}, http.StatusForbidden, ""},
		{"malformed shop_id", key, url.Values{"shop_id": {"acme"}}, http.StatusBadRequest, ""},
	}
	for _, tc := range tests {
		a := do(t, s, request{method: http.MethodGet, path: "/api/inbox/threads", key: tc.key, query: tc.query})
		if a.status != tc.status {
			t.Errorf("%s: HTTP %d, want %d (%s)", tc.name, a.status, tc.status, a.raw)
			continue
		}
		if tc.status != http.StatusOK {
			a.errorBody(t)
			continue
		}
		var list api.ThreadList
		a.decode(t, &list)
		if len(list.Data) != 1 || list.Data[0].ID != tc.want {
			t.Errorf("%s: listed %+v, want thread %s only", tc.name, list.Data, tc.want)
		}
	}
	if n := s.Requests()["GET /api/inbox/threads"]; n != 3 {
		t.Errorf("requests reaching the handler = %d, want 3: refused ones must not", n)
	}
}

func TestPathPrefix(t *testing.T) {
	t.Parallel()
	s, _ := newFake(t, miraklfake.Options{})
	req := httptest.NewRequest(http.MethodGet, "/api/inbox/threads", nil)
	req.Header.Set("Authorization", key)
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	if rec.Code != http.StatusNotFound {
		t.Errorf("request outside the prefix: HTTP %d, want 404", rec.Code)
	}
	if a := get(t, s, "/api/nothing", nil); a.status != http.StatusNotFound {
		t.Errorf("unknown route: HTTP %d, want 404", a.status)
	} else {
		a.errorBody(t)
	}
}

func TestListThreadsRefusals(t *testing.T) {
	t.Parallel()
	s, clk := newFake(t, miraklfake.Options{})
	for i := range 3 {
		orderThread(t, s, fmt.Sprintf("O-%d", i), clk.Now())
	}
	var page api.ThreadList
	get(t, s, "/api/inbox/threads", url.Values{"limit": {"1"}}).decode(t, &page)
	tampered := page.NextPageToken[:len(page.NextPageToken)-2] + "xx"
	for _, body := range []string{"a", "b"} {
		if _, err := s.AddThread(miraklfake.ThreadSeed{ShopID: otherID, Message: miraklfake.MessageSeed{Body: body}}); err != nil {
			t.Fatal(err)
		}
	}
	var otherPage api.ThreadList
	do(t, s, request{method: http.MethodGet, path: "/api/inbox/threads", key: multiKey, query: url.Values{"shop_id": {otherID}, "limit": {"1"}}}).decode(t, &otherPage)
	otherShopToken := otherPage.NextPageToken
	tests := []struct {
		name  string
		query url.Values
	}{
		{"entity_id without entity_type", url.Values{"entity_id": {"O-1"}}},
		{"unknown entity_type", url.Values{"entity_type": {"ORDER"}}},
		{"limit over 100", url.Values{"limit": {"101"}}},
		{"limit 0", url.Values{"limit": {"0"}}},
		{"limit not a number", url.Values{"limit": {"ten"}}},
		{"updated_since not a date", url.Values{"updated_since": {"yesterday"}}},
		{"with_messages not a boolean", url.Values{"with_messages": {"yes"}}},
		{"tampered page_token", url.Values{"page_token": {tampered}}},
		{"another shop's page_token", url.Values{"page_token": {otherShopToken}}},
	}
	for _, tc := range tests {
		a := get(t, s, "/api/inbox/threads", tc.query)
		if a.status != http.StatusBadRequest {
			t.Errorf("%s: HTTP %d, want 400", tc.name, a.status)
			continue
		}
		a.errorBody(t)
	}
}

// listAll pages through M11 and returns the thread ids in order.
func listAll(t *testing.T, s http.Handler, first url.Values) (ids []string, pages int) {
	t.Helper()
	q := first
	for {
		var page api.ThreadList
		a := get(t, s, "/api/inbox/threads", q)
		if a.status != http.StatusOK {
			t.Fatalf("M11: HTTP %d: %s", a.status, a.raw)
		}
		a.decode(t, &page)
		pages++
		for _, th := range page.Data {
			ids = append(ids, th.ID)
		}
		if page.NextPageToken == "" {
			return ids, pages
		}
		// Every other parameter is ignored when page_token is present.
		q = url.Values{"page_token": {page.NextPageToken}, "limit": {"1"}, "updated_since": {"2100-01-01T00:00:00Z"}}
	}
}

func TestListThreadsSeekPagination(t *testing.T) {
	t.Parallel()
	s, clk := newFake(t, miraklfake.Options{})
	var want []string
	base := clk.Now()
	for i := range 250 {
		// Pairs of threads share an update time: the id breaks the tie.
		th := orderThread(t, s, fmt.Sprintf("O-%03d", i), base.Add(time.Duration(i/2)*time.Second))
		want = append(want, th.ID)
	}
	ids, pages := listAll(t, s, url.Values{"limit": {"100"}})
	if pages != 3 || len(ids) != 250 {
		t.Fatalf("listed %d threads in %d pages, want 250 in 3", len(ids), pages)
	}
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			t.Errorf("thread %s listed twice", id)
		}
		seen[id] = true
	}
	// Most recently updated first.
	threads := map[string]api.Thread{}
	for _, th := range s.Threads() {
		threads[th.ID] = th
	}
	for i := 1; i < len(ids); i++ {
		if threads[ids[i]].DateUpdated.After(threads[ids[i-1]].DateUpdated.Time) {
			t.Fatalf("listing not most recently updated first at %d", i)
		}
	}
	for _, id := range want {
		if !seen[id] {
			t.Errorf("thread %s never listed", id)
		}
	}

	// The default limit is 50, and previous_page_token goes back.
	var p1, p2, back api.ThreadList
	get(t, s, "/api/inbox/threads", nil).decode(t, &p1)
	if len(p1.Data) != api.DefaultThreadLimit || p1.PreviousPageToken != "" {
		t.Fatalf("first page: %d threads, previous token %q; want 50 and none", len(p1.Data), p1.PreviousPageToken)
	}
	get(t, s, "/api/inbox/threads", url.Values{"page_token": {p1.NextPageToken}}).decode(t, &p2)
	get(t, s, "/api/inbox/threads", url.Values{"page_token": {p2.PreviousPageToken}}).decode(t, &back)
	if diff := cmp.Diff(threadIDs(p1.Data), threadIDs(back.Data)); diff != "" {
		t.Errorf("previous page of the second (-first page +got):\n%s", diff)
	}
}

func threadIDs(ts []api.Thread) []string {
	var out []string
	for _, th := range ts {
		out = append(out, th.ID)
	}
	return out
}

func TestListThreadsUpdatedSince(t *testing.T) {
	t.Parallel()
	s, clk := newFake(t, miraklfake.Options{})
	base := clk.Now()
	var ids []string
	for i := range 3 {
		ids = append(ids, orderThread(t, s, fmt.Sprintf("O-%d", i), base.Add(time.Duration(i)*time.Millisecond)).ID)
	}
	tests := []struct {
		since string
		want  []string
	}{
		{api.FormatTime(base.Add(time.Millisecond)), []string{ids[2], ids[1]}}, // at or after
		{"2025-03-01T10:00:00.001+01:00", []string{ids[2], ids[1]}},            // another zone
		{api.FormatTime(base.Add(3 * time.Millisecond)), nil},
	}
	for _, tc := range tests {
		got, _ := listAll(t, s, url.Values{"updated_since": {tc.since}})
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("updated_since=%s (-want +got):\n%s", tc.since, diff)
		}
	}
	// A new message moves the thread past the boundary.
	if _, err := s.AddMessage(ids[0], miraklfake.MessageSeed{Body: "Any news?", At: base.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	got, _ := listAll(t, s, url.Values{"updated_since": {api.FormatTime(base.Add(time.Minute))}})
	if diff := cmp.Diff([]string{ids[0]}, got); diff != "" {
		t.Errorf("after a new message (-want +got):\n%s", diff)
	}
}

func TestListThreadsEntityFilter(t *testing.T) {
	t.Parallel()
	s, clk := newFake(t, miraklfake.Options{})
	a := orderThread(t, s, "O-1", clk.Now())
	b := orderThread(t, s, "O-2", clk.Now())
	orderThread(t, s, "O-3", clk.Now())
	op, err := s.AddThread(miraklfake.ThreadSeed{Message: miraklfake.MessageSeed{Body: "About your fees"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		query url.Values
		want  []string
	}{
		{url.Values{"entity_type": {api.EntityOrder}, "entity_id": {"O-1,O-2"}}, []string{a.ID, b.ID}},
		{url.Values{"entity_type": {api.EntityOrder}, "entity_id": {"O-2"}}, []string{b.ID}},
		{url.Values{"entity_type": {api.EntityOffer}}, nil},
	} {
		got, _ := listAll(t, s, tc.query)
		if diff := cmp.Diff(tc.want, got, sortStrings); diff != "" {
			t.Errorf("%v (-want +got):\n%s", tc.query, diff)
		}
	}
	all, _ := listAll(t, s, nil)
	if len(all) != 4 || !slices.Contains(all, op.ID) {
		t.Errorf("unfiltered listing = %v, want the 4 threads", all)
	}
}

var sortStrings = cmpopts.SortSlices(func(a, b string) bool { return a < b })

func TestWithMessages(t *testing.T) {
	t.Parallel()
	s, clk := newFake(t, miraklfake.Options{})
	th := orderThread(t, s, "O-1", clk.Now())
	for i := 2; i <= 150; i++ {
		clk.Advance(time.Second)
		if _, err := s.AddMessage(th.ID, miraklfake.MessageSeed{Body: fmt.Sprintf("message %d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	var with, without api.ThreadList
	get(t, s, "/api/inbox/threads", url.Values{"with_messages": {"true"}}).decode(t, &with)
	m := with.Data[0].Messages
	if len(m) != api.MaxListedMessages || m[0].Body != "message 51" || m[99].Body != "message 150" {
		t.Errorf("with_messages: %d messages from %q to %q, want the last 100 (51 to 150)", len(m), m[0].Body, m[len(m)-1].Body)
	}
	if n := with.Data[0].Metadata.TotalCount; n != 150 {
		t.Errorf("total_count = %d, want 150", n)
	}
	a := get(t, s, "/api/inbox/threads", nil)
	a.decode(t, &without)
	if without.Data[0].Messages != nil || bytes.Contains(a.raw, []byte(`"messages"`)) || bytes.Contains(a.raw, []byte("no_store_reply_needed")) {
		t.Errorf("without with_messages: messages present in %s", a.raw[:200])
	}
	var full api.Thread
	get(t, s, "/api/inbox/threads/"+th.ID, nil).decode(t, &full)
	if len(full.Messages) != 150 || full.Messages[0].Body != "Hello, where is my parcel?" {
		t.Errorf("M10: %d messages, want all 150 oldest first", len(full.Messages))
	}
}

func TestSeededMessagesUpdateTheThread(t *testing.T) {
	t.Parallel()
	s, clk := newFake(t, miraklfake.Options{})
	start := clk.Now()
	th := orderThread(t, s, "O-1", start)
	if th.Metadata.ShopReplyNeededSince == nil || !th.Metadata.ShopReplyNeededSince.Equal(start) {
		t.Errorf("shop_reply_needed_since = %v, want %v", th.Metadata.ShopReplyNeededSince, start)
	}
	later := start.Add(time.Hour)
	if _, err := s.AddMessage(th.ID, miraklfake.MessageSeed{From: api.SenderOperator, Body: "The operator here.", At: later}); err != nil {
		t.Fatal(err)
	}
	got, _ := s.Thread(th.ID)
	if !got.DateUpdated.Equal(later) || got.Metadata.LastSender.Type != api.SenderOperator || got.Metadata.TotalCount != 2 {
		t.Errorf("after an operator message: date_updated %v, last sender %s, total %d", got.DateUpdated, got.Metadata.LastSender.Type, got.Metadata.TotalCount)
	}
	if !got.Metadata.ShopReplyNeededSince.Equal(start) {
		t.Errorf("shop_reply_needed_since moved to %v: it stays at the first unanswered message", got.Metadata.ShopReplyNeededSince)
	}
	for _, bad := range []miraklfake.MessageSeed{
		{Body: ""},
		{Body: "x", From: "ROBOT"},
		{Body: "x", To: []string{"NOBODY"}},
		{Body: "x", Attachments: []miraklfake.FileSeed{{Content: []byte("x")}}},
	} {
		if _, err := s.AddMessage(th.ID, bad); err == nil {
			t.Errorf("AddMessage(%+v) succeeded", bad)
		}
	}
	if _, err := s.AddMessage("nope", miraklfake.MessageSeed{Body: "x"}); err == nil {
		t.Error("AddMessage to an unknown thread succeeded")
	}
}

func TestReply(t *testing.T) {
	t.Parallel()
	s, clk := newFake(t, miraklfake.Options{})
	th := orderThread(t, s, "O-1", clk.Now())
	clk.Advance(time.Hour)
	pdf := miraklfake.FileSeed{Name: "facture é.pdf", Content: []byte("%PDF-1.4 invoice")}
	a := reply(t, s, th.ID, form{input: input("Your parcel left today.", api.ParticipantCustomer, api.ParticipantOperator), files: []miraklfake.FileSeed{pdf}})
	if a.status != http.StatusCreated {
		t.Fatalf("M12: HTTP %d: %s", a.status, a.raw)
	}
	var created api.ReplyCreated
	a.decode(t, &created)
	if created.ThreadID != th.ID || created.MessageID == "" {
		t.Errorf("M12 answer = %+v", created)
	}

	got, _ := s.Thread(th.ID)
	last := got.Messages[len(got.Messages)-1]
	now := clk.Now()
	wantMsg := api.Message{
		ID: created.MessageID, Body: "Your parcel left today.", DateCreated: api.NewTime(now),
		From: api.Sender{DisplayName: "Acme", Type: api.SenderShop, OrganizationDetails: &api.Participant{DisplayName: "Acme", ID: shopID, Type: api.ParticipantShop}},
		To: []api.Participant{
			{DisplayName: "Jane Doe", ID: "cust-O-1", Type: api.ParticipantCustomer},
			{DisplayName: miraklfake.DefaultOperatorName, Type: api.ParticipantOperator},
		},
		Attachments: []api.Attachment{{ID: last.Attachments[0].ID, Name: pdf.Name, Size: int64(len(pdf.Content))}},
	}
	if diff := cmp.Diff(wantMsg, last); diff != "" {
		t.Errorf("stored reply (-want +got):\n%s", diff)
	}
	md := got.Metadata
	if md.ShopReplyNeededSince != nil || md.LastSender.Type != api.SenderShop || md.TotalCount != 2 || !md.LastMessageDate.Equal(now) || !got.DateUpdated.Equal(now) {
		t.Errorf("metadata after the reply = %+v, date_updated %v", md, got.DateUpdated)
	}
	if len(got.CurrentParticipants) != 3 {
		t.Errorf("current participants = %+v, want customer, shop and operator", got.CurrentParticipants)
	}

	replies := s.Replies()
	if len(replies) != 1 {
		t.Fatalf("replies = %d, want 1", len(replies))
	}
	r := replies[0]
	if r.ThreadID != th.ID || r.MessageID != created.MessageID || len(r.Files) != 1 || string(r.Files[0].Content) != string(pdf.Content) ||
		r.Files[0].ContentType != "application/octet-stream" || len(r.To) != 2 {
		t.Errorf("recorded reply = %+v", r)
	}

	dl := get(t, s, "/api/inbox/threads/"+last.Attachments[0].ID+"/download", nil)
	if dl.status != http.StatusOK || string(dl.raw) != string(pdf.Content) || dl.header.Get("Content-Type") != "application/octet-stream" {
		t.Fatalf("M13: HTTP %d %q, type %s", dl.status, dl.raw, dl.header.Get("Content-Type"))
	}
	if cd := dl.header.Get("Content-Disposition"); !strings.Contains(cd, "filename*=utf-8''facture%20%C3%A9.pdf") {
		t.Errorf("Content-Disposition = %q, want the name RFC 5987-encoded", cd)
	}
}

func TestReplyRefusals(t *testing.T) {
	t.Parallel()
	s, clk := newFake(t, miraklfake.Options{})
	th := orderThread(t, s, "O-1", clk.Now())
	opThread, err := s.AddThread(miraklfake.ThreadSeed{Message: miraklfake.MessageSeed{Body: "About your fees"}})
	if err != nil {
		t.Fatal(err)
	}
	other, err := s.AddThread(miraklfake.ThreadSeed{ShopID: otherID, EntityType: api.EntityOrder, EntityID: "X-1", Message: miraklfake.MessageSeed{Body: "Hi"}})
	if err != nil {
		t.Fatal(err)
	}
	ok := input("Fine", api.ParticipantCustomer)
	tests := []struct {
		name   string
		thread string
		form   form
		raw    *request
		status int
	}{
		{"body of 2 characters", th.ID, form{input: input("ok", api.ParticipantCustomer)}, nil, 400},
		{"body of 2 UTF-16 units", th.ID, form{input: input("😀", api.ParticipantCustomer)}, nil, 400},
		{"body over 50000 characters", th.ID, form{input: input(strings.Repeat("a", 50001), api.ParticipantCustomer)}, nil, 400},
		{"no recipient", th.ID, form{input: input("Fine")}, nil, 400},
		{"unknown recipient type", th.ID, form{input: input("Fine", "ROBOT")}, nil, 400},
		{"customer on a thread without one", opThread.ID, form{input: input("Fine", api.ParticipantCustomer)}, nil, 400},
		{"recipient id of nobody", th.ID, form{input: api.MessageInput{Body: "Fine", To: []api.Recipient{{Type: api.ParticipantCustomer, ID: "cust-9"}}}}, nil, 400},
		{"unknown field", th.ID, form{input: `{"body":"Fine","to":[{"type":"CUSTOMER"}],"subject":"x"}`}, nil, 400},
		{"malformed JSON", th.ID, form{input: `{"body":`}, nil, 400},
		{"topic too short", th.ID, form{input: api.MessageInput{Body: "Fine", To: ok.To, Topic: &api.Topic{Type: api.TopicFreeText, Value: "ab"}}}, nil, 400},
		{"unknown topic type", th.ID, form{input: api.MessageInput{Body: "Fine", To: ok.To, Topic: &api.Topic{Type: "MOOD", Value: "happy"}}}, nil, 400},
		{"no message_input", th.ID, form{files: []miraklfake.FileSeed{{Name: "a.txt", Content: []byte("a")}}}, nil, 400},
		{"message_input as text", th.ID, form{input: ok, inputType: "text/plain"}, nil, 415},
		{"message_input without a type", th.ID, form{input: ok, inputType: "-"}, nil, 415},
		{"file without a name", th.ID, form{input: ok, files: []miraklfake.FileSeed{{Content: []byte("a")}}, noFileNames: true}, nil, 400},
		{"JSON instead of multipart", th.ID, form{}, &request{contentType: "application/json", body: []byte(`{"body":"Fine","to":[{"type":"CUSTOMER"}]}`)}, 415},
		{"unknown thread", "nope", form{input: ok}, nil, 404},
		{"another shop's thread", other.ID, form{input: ok}, nil, 404},
	}
	for _, tc := range tests {
		var a answer
		if tc.raw != nil {
			a = do(t, s, request{method: http.MethodPost, path: "/api/inbox/threads/" + tc.thread + "/message", key: key, contentType: tc.raw.contentType, body: tc.raw.body})
		} else {
			a = reply(t, s, tc.thread, tc.form)
		}
		if a.status != tc.status {
			t.Errorf("%s: HTTP %d, want %d (%s)", tc.name, a.status, tc.status, a.raw)
			continue
		}
		a.errorBody(t)
	}
	if n := len(s.Replies()); n != 0 {
		t.Errorf("refused replies recorded: %d", n)
	}
	for _, body := range []string{"abc", "é😀", strings.Repeat("a", 50000)} {
		if a := reply(t, s, th.ID, form{input: input(body, api.ParticipantCustomer)}); a.status != http.StatusCreated {
			t.Errorf("body of %d bytes: HTTP %d: %s", len(body), a.status, a.raw)
		}
	}
}

func TestReplyLimits(t *testing.T) {
	t.Parallel()
	s, clk := newFake(t, miraklfake.Options{})
	full := orderThread(t, s, "O-1", clk.Now())
	for range api.MaxMessagesPerThread - 1 {
		if _, err := s.AddMessage(full.ID, miraklfake.MessageSeed{Body: "filler"}); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(mustThread(t, s, full.ID).Messages); n != api.MaxMessagesPerThread {
		t.Fatalf("thread filled to %d messages", n)
	}
	if a := reply(t, s, full.ID, form{input: input("One too many", api.ParticipantCustomer)}); a.status != http.StatusBadRequest {
		t.Errorf("reply to a thread of 1000 messages: HTTP %d, want 400", a.status)
	}

	// 49 attachments across two threads of order O-2, none on O-3.
	a := orderThread(t, s, "O-2", clk.Now())
	b := orderThread(t, s, "O-2", clk.Now())
	c := orderThread(t, s, "O-3", clk.Now())
	for i, th := range []api.Thread{a, b} {
		var files []miraklfake.FileSeed
		for j := range 24 + i {
			files = append(files, miraklfake.FileSeed{Name: fmt.Sprintf("photo-%d.jpg", j), Content: []byte{byte(j)}})
		}
		if _, err := s.AddMessage(th.ID, miraklfake.MessageSeed{Body: "Photos", Attachments: files}); err != nil {
			t.Fatal(err)
		}
	}
	file := func(n int) []miraklfake.FileSeed {
		var out []miraklfake.FileSeed
		for i := range n {
			out = append(out, miraklfake.FileSeed{Name: fmt.Sprintf("label-%d.pdf", i), Content: []byte("pdf")})
		}
		return out
	}
	msg := input("Here is the label.", api.ParticipantCustomer)
	if r := reply(t, s, a.ID, form{input: msg, files: file(2)}); r.status != http.StatusBadRequest {
		t.Errorf("51st attachment on O-2: HTTP %d, want 400", r.status)
	}
	if r := reply(t, s, c.ID, form{input: msg, files: file(2)}); r.status != http.StatusCreated {
		t.Errorf("attachments on O-3: HTTP %d: %s", r.status, r.raw)
	}
	if r := reply(t, s, b.ID, form{input: msg, files: file(1)}); r.status != http.StatusCreated {
		t.Errorf("50th attachment on O-2: HTTP %d: %s", r.status, r.raw)
	}
	if r := reply(t, s, a.ID, form{input: msg}); r.status != http.StatusCreated {
		t.Errorf("reply without files past the attachment limit: HTTP %d: %s", r.status, r.raw)
	}
}

func mustThread(t *testing.T, s *miraklfake.Server, id string) api.Thread {
	t.Helper()
	th, ok := s.Thread(id)
	if !ok {
		t.Fatalf("no thread %s", id)
	}
	return th
}

func TestDownload(t *testing.T) {
	t.Parallel()
	s, _ := newFake(t, miraklfake.Options{})
	th, err := s.AddThread(miraklfake.ThreadSeed{
		EntityType: api.EntityOrder, EntityID: "O-1",
		Message: miraklfake.MessageSeed{Body: "See the photo", Attachments: []miraklfake.FileSeed{{Name: "broken.jpg", Content: []byte("jpeg")}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	other, err := s.AddThread(miraklfake.ThreadSeed{ShopID: otherID, Message: miraklfake.MessageSeed{Body: "x", Attachments: []miraklfake.FileSeed{{Name: "x.txt", Content: []byte("x")}}}})
	if err != nil {
		t.Fatal(err)
	}
	id := th.Messages[0].Attachments[0].ID
	a := get(t, s, "/api/inbox/threads/"+id+"/download", nil)
	if a.status != http.StatusOK || string(a.raw) != "jpeg" || a.header.Get("Content-Length") != "4" || a.header.Get("Content-Disposition") != `attachment; filename=broken.jpg` {
		t.Errorf("M13 = HTTP %d %q %v", a.status, a.raw, a.header)
	}
	for _, id := range []string{"nope", other.Messages[0].Attachments[0].ID} {
		if a := get(t, s, "/api/inbox/threads/"+id+"/download", nil); a.status != http.StatusNotFound {
			t.Errorf("M13 of %s: HTTP %d, want 404", id, a.status)
		}
	}
}

func TestListOrders(t *testing.T) {
	t.Parallel()
	s, clk := newFake(t, miraklfake.Options{})
	base := clk.Now()
	for i := range 25 {
		_, err := s.PutOrder("", api.Order{
			OrderID: fmt.Sprintf("O-%02d-A", i), CreatedDate: api.NewTime(base.Add(time.Duration(i) * time.Minute)),
			LastUpdatedDate: api.NewTime(base.Add(time.Duration(i) * time.Hour)),
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.PutOrder(otherID, api.Order{OrderID: "OTHER-A"}); err != nil {
		t.Fatal(err)
	}
	list := func(q url.Values) api.OrderList {
		t.Helper()
		a := get(t, s, "/api/orders", q)
		if a.status != http.StatusOK {
			t.Fatalf("OR11 %v: HTTP %d: %s", q, a.status, a.raw)
		}
		var l api.OrderList
		a.decode(t, &l)
		return l
	}
	ids := func(l api.OrderList) (out []string) {
		for _, o := range l.Orders {
			out = append(out, o.OrderID)
		}
		return out
	}
	if l := list(nil); len(l.Orders) != api.DefaultOrderMax || l.TotalCount != 25 || l.Orders[0].OrderID != "O-00-A" {
		t.Errorf("default page: %v of %d, want the 10 oldest of 25", ids(l), l.TotalCount)
	}
	if l := list(url.Values{"max": {"10"}, "offset": {"20"}}); len(l.Orders) != 5 || l.Orders[0].OrderID != "O-20-A" {
		t.Errorf("last page: %v", ids(l))
	}
	if l := list(url.Values{"paginate": {"false"}}); len(l.Orders) != 25 {
		t.Errorf("paginate=false: %d orders, want 25", len(l.Orders))
	}
	// start_update_date is widened by the margin: the order updated one
	// hour and 30 s before is listed, not the ones before it.
	since := base.Add(10*time.Hour - 30*time.Second)
	if l := list(url.Values{"start_update_date": {api.FormatTime(since)}, "max": {"100"}}); l.TotalCount != 15 || l.Orders[0].OrderID != "O-10-A" {
		t.Errorf("start_update_date: %v (%d)", ids(l), l.TotalCount)
	}
	if l := list(url.Values{"order_ids": {"O-03-A,O-04-A"}, "order_state_codes": {"SHIPPING"}}); len(l.Orders) != 2 {
		t.Errorf("order_ids: %v", ids(l))
	}
	for _, q := range []url.Values{{"max": {"101"}}, {"max": {"0"}}, {"offset": {"-1"}}, {"paginate": {"maybe"}}, {"start_update_date": {"soon"}}} {
		if a := get(t, s, "/api/orders", q); a.status != http.StatusBadRequest {
			t.Errorf("OR11 %v: HTTP %d, want 400", q, a.status)
		}
	}
}

func TestThrottle(t *testing.T) {
	t.Parallel()
	s, clk := newFake(t, miraklfake.Options{Throttle: &miraklfake.Throttle{Requests: 2, Window: 10 * time.Second}})
	do(t, s, request{method: http.MethodGet, path: "/api/orders", key: "wrong"}) // refused before counting
	for range 2 {
		if a := get(t, s, "/api/orders", nil); a.status != http.StatusOK {
			t.Fatalf("HTTP %d", a.status)
		}
	}
	clk.Advance(2500 * time.Millisecond)
	a := get(t, s, "/api/orders", nil)
	if a.status != http.StatusTooManyRequests || a.header.Get("Retry-After") != "8" {
		t.Errorf("third request: HTTP %d, Retry-After %q; want 429 and 8", a.status, a.header.Get("Retry-After"))
	}
	a.errorBody(t)
	clk.Advance(8 * time.Second)
	if a := get(t, s, "/api/orders", nil); a.status != http.StatusOK {
		t.Errorf("next window: HTTP %d", a.status)
	}
	if n := s.RateLimited(); n != 1 {
		t.Errorf("RateLimited = %d, want 1", n)
	}
}

func TestFaultsAndReset(t *testing.T) {
	t.Parallel()
	s, clk := newFake(t, miraklfake.Options{})
	orderThread(t, s, "O-1", clk.Now())
	s.Faults().Push(fault.Fault{Status: http.StatusServiceUnavailable})
	if a := get(t, s, "/api/inbox/threads", nil); a.status != http.StatusServiceUnavailable {
		t.Errorf("injected fault: HTTP %d", a.status)
	}
	if a := get(t, s, "/api/inbox/threads", nil); a.status != http.StatusOK {
		t.Errorf("after the fault: HTTP %d", a.status)
	}
	s.Reset()
	if n := len(s.Threads()); n != 0 || len(s.Requests()) != 0 {
		t.Errorf("after Reset: %d threads, requests %v", n, s.Requests())
	}
}

func TestInspectionRoutes(t *testing.T) {
	t.Parallel()
	s, clk := newFake(t, miraklfake.Options{})
	if _, err := s.PutOrder("", api.Order{OrderID: "O-1"}); err != nil {
		t.Fatal(err)
	}
	th := orderThread(t, s, "O-1", clk.Now())
	reply(t, s, th.ID, form{input: input("On its way", api.ParticipantCustomer)})
	for path, want := range map[string]string{
		"/_fake/threads": `"shop_id":"2001"`,
		"/_fake/replies": `"body":"On its way"`,
		"/_fake/orders":  `"order_id":"O-1"`,
	} {
		a := do(t, s, request{method: http.MethodGet, path: path})
		if a.status != http.StatusOK || !bytes.Contains(a.raw, []byte(want)) {
			t.Errorf("%s: HTTP %d %s, want %s", path, a.status, a.raw, want)
		}
	}
	if o := s.Orders(""); len(o) != 1 || !o[0].HasCustomerMessage {
		t.Errorf("orders = %+v, want O-1 with has_customer_message", o)
	}
	if s.Orders("9999") != nil {
		t.Error("Orders of an unknown shop")
	}
}
