// Live runs: a connector's contract test may also run against a real
// sandbox shop. Its live harness calls LiveEnv with the environment
// variables holding the sandbox's URL and credentials; the test then runs
// only when they are all set AND go test was given -live, and skips
// otherwise. For example:
//
//	MIRAKL_BASE_URL=… MIRAKL_API_KEY=… MIRAKL_SHOP_ID=… \
//		go test ./connectors/mirakl -run Live -live
//
// A live shop cannot be seeded (customers write in it, not tests), so the
// tests that need seeding skip there, as do the fault tests; what runs is
// read-only: listing, not found, wrong credentials, cancellation.
package marketplacetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/helpdesk-bridge/bridge/connectors"
	"github.com/helpdesk-bridge/bridge/connectors/fault"
	"github.com/helpdesk-bridge/bridge/connectors/helpdesktest"
)

// LiveEnv returns the named environment variables for a live run, and
// skips t unless -live was given and every one of them is set. The -live
// flag is helpdesktest's: one flag for every connector's test binary.
func LiveEnv(t *testing.T, names ...string) map[string]string {
	t.Helper()
	return helpdesktest.LiveEnv(t, names...)
}

// RunConformanceTests runs the whole contract suite, each test against a
// fresh harness. Tests that need seeding or fault injection skip when the
// harness has none. The hang test recognises the reply as the only POST.
func RunConformanceTests(t *testing.T, newHarness HarnessMaker) {
	t.Helper()
	tests := []struct {
		name string
		run  func(t *testing.T, h Harness)
	}{
		{"Capabilities", testCapabilities},
		{"ListThreadsPagesWithoutLossOrRepeat", testPagination},
		{"ListThreadsUpdatedSinceBoundary", testUpdatedSince},
		{"ListThreadsCarriesMessages", testListedThread},
		{"FullThreadBeyondAListing", testLongThread},
		{"ReplyRecipients", testReplyRecipients},
		{"ReplyWithFiles", testReplyWithFiles},
		{"RefusedReplies", testRefusedReplies},
		{"ReplyOutsideWindowIsRefusedBeforeSending", testReplyOutsideWindow},
		{"AttachmentDownload", testDownload},
		{"UnknownIsNotFound", testNotFound},
		{"WrongCredentials", testWrongCredentials},
		{"CancelledContext", testCancelled},
		{"RateLimited", testRateLimited},
		{"ServerErrors", testServerErrors},
		{"HungReplyIsFoundAgain", testHungReply},
		{"SessionExpiresMidListing", testSessionExpiry},
		{"ListOrders", testListOrders},
		{"GetOrder", testGetOrder},
		{"AcceptOrder", testAcceptOrder},
		{"AcceptOrderRefusingLines", testAcceptRefusingLines},
		{"RefuseOrder", testRefuseOrder},
		{"ShipOrderWithTracking", testShipOrder},
		{"CancelOrder", testCancelOrder},
		{"CancelOrderLines", testCancelOrderLines},
		{"OrderActionsInTheWrongState", testActionsInTheWrongState},
		{"UncertainOrderActionIsRetried", testUncertainAction},
		{"ListEvaluations", testListEvaluations},
		{"EvaluationListingFails", testEvaluationListingFails},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, newHarness(t))
		})
	}
}

// Test data: a customer, and a base time in the recent past, on a whole
// second (marketplaces keep milliseconds at most).
const customerName = "Jane Marketplacetest"

func baseTime() time.Time { return time.Now().Add(-time.Hour).Truncate(time.Second) }

func requireSeeder(t *testing.T, h Harness) Seeder {
	t.Helper()
	s := h.Seeder()
	if s == nil {
		t.Skip("this account cannot be seeded")
	}
	return s
}

func requireFaults(t *testing.T, h Harness) *fault.Injector {
	t.Helper()
	f := h.Faults()
	if f == nil {
		t.Skip("no fault injection against this account")
	}
	return f
}

// orderThread opens a thread about an order, from its customer.
func orderThread(t *testing.T, s Seeder, orderID, body string, at time.Time) string {
	t.Helper()
	return s.AddThread(t, SeedThread{
		OrderID: orderID, Topic: "Question about " + orderID, CustomerName: customerName,
		Message: SeedMessage{Body: body, At: at},
	})
}

// listAll pages through ListThreads, failing on a repeated thread, and
// returns the threads in the order listed and the number of pages.
func listAll(t *testing.T, m connectors.Marketplace, q connectors.ThreadQuery) ([]connectors.Thread, int) {
	t.Helper()
	var out []connectors.Thread
	seen := map[string]bool{}
	for pages := 1; ; pages++ {
		page, err := m.ListThreads(t.Context(), q)
		if err != nil {
			t.Fatalf("ListThreads (page %d): %v", pages, err)
		}
		if q.Limit > 0 && len(page.Threads) > q.Limit {
			t.Errorf("page %d holds %d threads, over the limit of %d", pages, len(page.Threads), q.Limit)
		}
		for _, th := range page.Threads {
			if seen[th.ID] {
				t.Errorf("thread %s listed twice", th.ID)
			}
			seen[th.ID] = true
			out = append(out, th)
		}
		if page.NextPageToken == "" {
			return out, pages
		}
		if pages > 1000 {
			t.Fatalf("ListThreads found no end after %d pages", pages)
		}
		q = connectors.ThreadQuery{PageToken: page.NextPageToken}
	}
}

func ids(ts []connectors.Thread) []string {
	out := make([]string, len(ts))
	for i, th := range ts {
		out[i] = th.ID
	}
	return out
}

func getThread(t *testing.T, m connectors.Marketplace, id string) connectors.Thread {
	t.Helper()
	th, err := m.GetThread(t.Context(), id)
	if err != nil {
		t.Fatalf("GetThread(%s): %v", id, err)
	}
	return th
}

var sortStrings = cmpopts.SortSlices(func(a, b string) bool { return a < b })

func testCapabilities(t *testing.T, h Harness) {
	c := h.Marketplace().Capabilities()
	if len(c.Recipients) == 0 || slices.Contains(c.Recipients, connectors.PartyShop) {
		t.Errorf("Recipients = %v: want at least one, never the shop itself", c.Recipients)
	}
	if c.MinBodyChars < 0 || (c.MaxBodyChars != 0 && c.MaxBodyChars < c.MinBodyChars) {
		t.Errorf("body bounds %d..%d", c.MinBodyChars, c.MaxBodyChars)
	}
}

func testPagination(t *testing.T, h Harness) {
	m := h.Marketplace()
	s := h.Seeder()
	if s == nil {
		// A live shop: whatever it holds must page without repeats.
		listAll(t, m, connectors.ThreadQuery{Limit: 10})
		return
	}
	const n = 250
	base := baseTime()
	var want []string
	for i := range n {
		// Threads share update times in pairs: a listing must still
		// neither lose nor repeat one at a page boundary.
		want = append(want, orderThread(t, s, fmt.Sprintf("PAGE-%03d", i), "Hello", base.Add(time.Duration(i/2)*time.Second)))
	}
	got, pages := listAll(t, m, connectors.ThreadQuery{Limit: 100})
	if pages < 3 {
		t.Errorf("%d threads came in %d pages of at most 100", n, pages)
	}
	if diff := cmp.Diff(want, ids(got), sortStrings); diff != "" {
		t.Errorf("listed threads (-seeded +listed):\n%s", diff)
	}
	// The default page size works as well.
	if got, _ := listAll(t, m, connectors.ThreadQuery{}); len(got) != n {
		t.Errorf("listing with the default limit: %d threads, want %d", len(got), n)
	}
}

func testUpdatedSince(t *testing.T, h Harness) {
	s := requireSeeder(t, h)
	g := grain(h)
	base := baseTime().Truncate(g)
	before := orderThread(t, s, "SINCE-1", "Before", base.Add(-g))
	at := orderThread(t, s, "SINCE-2", "At", base)
	after := orderThread(t, s, "SINCE-3", "After", base.Add(g))
	got, _ := listAll(t, h.Marketplace(), connectors.ThreadQuery{UpdatedSince: base})
	if diff := cmp.Diff([]string{at, after}, ids(got), sortStrings); diff != "" {
		t.Errorf("threads updated at or after the boundary (-want +got):\n%s", diff)
	}
	for _, th := range got {
		if th.UpdatedAt.Before(base) {
			t.Errorf("thread %s updated at %s, before %s", th.ID, th.UpdatedAt, base)
		}
	}

	// A new message brings the older thread past a later boundary.
	later := base.Add(time.Minute + g)
	s.AddMessage(t, before, SeedMessage{Body: "Any news?", At: later})
	got, _ = listAll(t, h.Marketplace(), connectors.ThreadQuery{UpdatedSince: later})
	if diff := cmp.Diff([]string{before}, ids(got)); diff != "" {
		t.Errorf("threads updated since the new message (-want +got):\n%s", diff)
	}
	if len(got) == 1 && !got[0].UpdatedAt.Equal(later) {
		t.Errorf("UpdatedAt = %s, want %s", got[0].UpdatedAt, later)
	}
}

func testListedThread(t *testing.T, h Harness) {
	s := requireSeeder(t, h)
	base := baseTime().Truncate(grain(h))
	var files []File
	if !quirks(h).NoFiles {
		files = []File{{Name: "mug.jpg", Content: []byte("jpeg")}}
	}
	id := s.AddThread(t, SeedThread{
		OrderID: "ORDER-42", Topic: "Damaged mug", CustomerName: customerName,
		Message: SeedMessage{Body: "My mug arrived <b>broken</b>.", At: base, Files: files},
	})
	// The second message is the operator's where the marketplace has
	// one; a relay by e-mail has only the buyer, who writes again.
	second := connectors.PartyCustomer
	if hasOperator(h.Marketplace()) && !quirks(h).ThreadPerCorrespondent {
		second = connectors.PartyOperator
	}
	s.AddMessage(t, id, SeedMessage{From: second, Body: "Anything new about it?", At: base.Add(time.Minute)})
	want := getThread(t, h.Marketplace(), id)

	got, _ := listAll(t, h.Marketplace(), connectors.ThreadQuery{})
	if len(got) != 1 {
		t.Fatalf("listed %d threads, want 1", len(got))
	}
	if diff := cmp.Diff(want, got[0]); diff != "" {
		t.Errorf("listed thread differs from GetThread's (-get +list):\n%s", diff)
	}
	th := got[0]
	if th.Entity.Type != connectors.EntityOrder || th.Entity.ID != "ORDER-42" || th.Entity.RawType == "" {
		t.Errorf("Entity = %+v, want the order ORDER-42", th.Entity)
	}
	// A mail subject carries the order reference besides the topic.
	if !strings.Contains(th.Topic, "Damaged mug") || th.Customer == nil || th.Customer.Name != customerName || th.Customer.Type != connectors.PartyCustomer {
		t.Errorf("Topic %q, Customer %+v", th.Topic, th.Customer)
	}
	if !th.CreatedAt.Equal(base) || !th.UpdatedAt.Equal(base.Add(time.Minute)) || th.TotalMessages != 2 {
		t.Errorf("CreatedAt %s, UpdatedAt %s, TotalMessages %d", th.CreatedAt, th.UpdatedAt, th.TotalMessages)
	}
	var types []connectors.PartyType
	for _, p := range th.Participants {
		types = append(types, p.Type)
	}
	for _, typ := range []connectors.PartyType{connectors.PartyCustomer, connectors.PartyShop, second} {
		if !slices.Contains(types, typ) {
			t.Errorf("Participants %v lack the %s", types, typ)
		}
	}
	if len(th.Messages) != 2 {
		t.Fatalf("%d messages, want 2", len(th.Messages))
	}
	first, next := th.Messages[0], th.Messages[1]
	if first.Body != "My mug arrived <b>broken</b>." || first.From.Type != connectors.PartyCustomer || first.From.Name != customerName ||
		!first.CreatedAt.Equal(base) || !hasParty(first.To, connectors.PartyShop) {
		t.Errorf("first message = %+v", first)
	}
	wantSize := int64(4)
	if quirks(h).UnsizedAttachments {
		wantSize = -1
	}
	if quirks(h).NoFiles {
		if len(first.Attachments) != 0 {
			t.Errorf("first message's attachments = %+v, want none", first.Attachments)
		}
	} else if len(first.Attachments) != 1 || first.Attachments[0].Name != "mug.jpg" || first.Attachments[0].Size != wantSize || first.Attachments[0].ID == "" {
		t.Errorf("first message's attachments = %+v", first.Attachments)
	}
	if next.From.Type != second || next.ID == "" || next.ID == first.ID {
		t.Errorf("second message = %+v", next)
	}
}

// hasOperator tells whether the marketplace has an operator besides the
// customer: replies can go to it, and it writes in threads.
func hasOperator(m connectors.Marketplace) bool {
	return slices.Contains(m.Capabilities().Recipients, connectors.PartyOperator)
}

func hasParty(ps []connectors.Party, typ connectors.PartyType) bool {
	return slices.ContainsFunc(ps, func(p connectors.Party) bool { return p.Type == typ })
}

func testLongThread(t *testing.T, h Harness) {
	s := requireSeeder(t, h)
	const n = 150 // past the 100 messages a Mirakl listing carries
	base := baseTime()
	id := orderThread(t, s, "LONG-1", "message 1", base)
	for i := 2; i <= n; i++ {
		s.AddMessage(t, id, SeedMessage{Body: fmt.Sprintf("message %d", i), At: base.Add(time.Duration(i) * time.Second)})
	}
	check := func(how string, th connectors.Thread) {
		t.Helper()
		if th.TotalMessages != n || len(th.Messages) != n {
			t.Fatalf("%s: %d messages of %d, want all %d", how, len(th.Messages), th.TotalMessages, n)
		}
		for i, m := range th.Messages {
			if want := fmt.Sprintf("message %d", i+1); m.Body != want {
				t.Fatalf("%s: message %d is %q, want %q (oldest first)", how, i, m.Body, want)
			}
		}
	}
	listed, _ := listAll(t, h.Marketplace(), connectors.ThreadQuery{})
	if len(listed) != 1 {
		t.Fatalf("listed %d threads, want 1", len(listed))
	}
	check("ListThreads", listed[0])
	check("GetThread", getThread(t, h.Marketplace(), id))
}

func testReplyRecipients(t *testing.T, h Harness) {
	s := requireSeeder(t, h)
	tests := []struct {
		name string
		to   []connectors.PartyType
	}{
		{"customer", []connectors.PartyType{connectors.PartyCustomer}},
		{"operator", []connectors.PartyType{connectors.PartyOperator}},
		{"both", []connectors.PartyType{connectors.PartyCustomer, connectors.PartyOperator}},
	}
	for i, tc := range tests {
		if slices.ContainsFunc(tc.to, func(p connectors.PartyType) bool {
			return !slices.Contains(h.Marketplace().Capabilities().Recipients, p)
		}) {
			continue // RefusedReplies checks that such a reply is refused
		}
		id := orderThread(t, s, fmt.Sprintf("REPLY-%d", i), "Where is my order?", baseTime())
		r := connectors.Reply{Body: "It left our warehouse today (" + tc.name + ").", To: tc.to}
		if quirks(h).RepliesToTheThread {
			if len(tc.to) > 1 {
				if _, err := h.Marketplace().Reply(t.Context(), id, r); !errors.Is(err, connectors.ErrInvalid) {
					t.Errorf("%s: a reply to two correspondents: err = %v, want ErrInvalid", tc.name, err)
				}
				continue
			}
			if tc.to[0] == connectors.PartyOperator {
				id = s.AddThread(t, SeedThread{
					OrderID: fmt.Sprintf("REPLY-%d", i), CustomerName: customerName,
					Message: SeedMessage{From: connectors.PartyOperator, Body: "About this order", At: baseTime()},
				})
			}
		}
		sent, err := h.Marketplace().Reply(t.Context(), id, r)
		if err != nil {
			t.Fatalf("%s: Reply: %v", tc.name, err)
		}
		if sent.ThreadID != id || sent.MessageID == "" {
			t.Errorf("%s: Reply = %+v", tc.name, sent)
		}
		want := []SentMessage{{MessageID: sent.MessageID, Body: r.Body, To: tc.to}}
		if diff := cmp.Diff(want, s.Sent(t, id), cmpopts.EquateEmpty(), sortParties); diff != "" {
			t.Errorf("%s: sent (-want +got):\n%s", tc.name, diff)
		}
		th := getThread(t, h.Marketplace(), id)
		last := th.Messages[len(th.Messages)-1]
		var to []connectors.PartyType
		for _, p := range last.To {
			to = append(to, p.Type)
		}
		if last.ID != sent.MessageID || last.Body != r.Body || last.From.Type != connectors.PartyShop {
			t.Errorf("%s: last message = %+v", tc.name, last)
		}
		if quirks(h).UnlistedRecipients {
			continue // what the marketplace received (Sent) tells them
		}
		if diff := cmp.Diff(tc.to, to, sortParties); diff != "" {
			t.Errorf("%s: recipients in the thread (-want +got):\n%s", tc.name, diff)
		}
	}
}

var sortParties = cmpopts.SortSlices(func(a, b connectors.PartyType) bool { return a < b })

func testReplyWithFiles(t *testing.T, h Harness) {
	s := requireSeeder(t, h)
	if !h.Marketplace().Capabilities().Attachments {
		t.Skip("replies cannot carry files")
	}
	id := orderThread(t, s, "FILES-1", "Can I have the invoice?", baseTime())
	files := []connectors.ReplyFile{
		{Name: "facture n°42.pdf", ContentType: "application/pdf", Content: []byte("%PDF-1.4\x00\xff invoice")},
		{Name: "label.txt", Content: []byte("label")},
	}
	sent, err := h.Marketplace().Reply(t.Context(), id, connectors.Reply{Body: "Here is your invoice.", To: []connectors.PartyType{connectors.PartyCustomer}, Files: files})
	if err != nil {
		t.Fatalf("Reply: %v", err)
	}
	want := []SentMessage{{
		MessageID: sent.MessageID, Body: "Here is your invoice.", To: []connectors.PartyType{connectors.PartyCustomer},
		Files: []File{{Name: files[0].Name, Content: files[0].Content}, {Name: files[1].Name, Content: files[1].Content}},
	}}
	if diff := cmp.Diff(want, s.Sent(t, id)); diff != "" {
		t.Errorf("sent (-want +got):\n%s", diff)
	}
	th := getThread(t, h.Marketplace(), id)
	last := th.Messages[len(th.Messages)-1]
	if len(last.Attachments) != len(files) {
		t.Fatalf("the reply in the thread has %d attachments, want %d", len(last.Attachments), len(files))
	}
	for i, a := range last.Attachments {
		if a.Name != files[i].Name || a.Size != int64(len(files[i].Content)) {
			t.Errorf("attachment %d = %+v, want %s of %d bytes", i, a, files[i].Name, len(files[i].Content))
		}
		content, meta := download(t, h.Marketplace(), a.ID)
		if !bytes.Equal(content, files[i].Content) || meta.Name != files[i].Name || meta.ID != a.ID {
			t.Errorf("download of %s = %q, %+v", a.ID, content, meta)
		}
	}
}

func download(t *testing.T, m connectors.Marketplace, id string) ([]byte, connectors.AttachmentMeta) {
	t.Helper()
	rc, meta, err := m.DownloadAttachment(t.Context(), id)
	if err != nil {
		t.Fatalf("DownloadAttachment(%s): %v", id, err)
	}
	defer rc.Close()
	content, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("reading attachment %s: %v", id, err)
	}
	if meta.Size >= 0 && meta.Size != int64(len(content)) {
		t.Errorf("attachment %s: Size %d, read %d bytes", id, meta.Size, len(content))
	}
	return content, meta
}

func testRefusedReplies(t *testing.T, h Harness) {
	s := requireSeeder(t, h)
	m := h.Marketplace()
	c := m.Capabilities()
	customer := []connectors.PartyType{connectors.PartyCustomer}
	ok := "This reply is long enough."

	short := orderThread(t, s, "REFUSE-1", "Hello", baseTime())
	// A thread at its message limit.
	full := orderThread(t, s, "REFUSE-2", "Hello", baseTime())
	for i := 1; i < c.MaxMessagesPerThread; i++ {
		s.AddMessage(t, full, SeedMessage{Body: "filler"})
	}
	// An order at its attachment limit, across two threads.
	var onOrder []string
	if c.MaxAttachmentsPerEntity > 0 {
		for i, n := range []int{c.MaxAttachmentsPerEntity / 2, c.MaxAttachmentsPerEntity - c.MaxAttachmentsPerEntity/2} {
			var files []File
			for j := range n {
				files = append(files, File{Name: fmt.Sprintf("photo-%d-%d.jpg", i, j), Content: []byte{byte(j)}})
			}
			onOrder = append(onOrder, s.AddThread(t, SeedThread{OrderID: "REFUSE-3", CustomerName: customerName, Message: SeedMessage{Body: "Photos", Files: files}}))
		}
	}
	atLimit := ""
	if len(onOrder) > 0 {
		atLimit = onOrder[0]
	}
	file := []connectors.ReplyFile{{Name: "label.pdf", Content: []byte("pdf")}}
	tests := []struct {
		name   string
		thread string
		reply  connectors.Reply
		skip   bool
	}{
		{"body under the minimum", short, connectors.Reply{Body: strings.Repeat("a", max(c.MinBodyChars-1, 0)), To: customer}, c.MinBodyChars == 0},
		{"body over the maximum", short, connectors.Reply{Body: strings.Repeat("a", c.MaxBodyChars+1), To: customer}, c.MaxBodyChars == 0},
		{"no recipient", short, connectors.Reply{Body: ok}, false},
		{"the shop as recipient", short, connectors.Reply{Body: ok, To: []connectors.PartyType{connectors.PartyShop}}, false},
		{"an operator the marketplace does not have", short, connectors.Reply{Body: ok, To: []connectors.PartyType{connectors.PartyCustomer, connectors.PartyOperator}}, hasOperator(m)},
		{"the operator in the customer's thread", short, connectors.Reply{Body: ok, To: []connectors.PartyType{connectors.PartyOperator}}, !quirks(h).RepliesToTheThread},
		{"thread at its message limit", full, connectors.Reply{Body: ok, To: customer}, c.MaxMessagesPerThread == 0},
		{"order at its attachment limit", atLimit, connectors.Reply{Body: ok, To: customer, Files: file}, c.MaxAttachmentsPerEntity == 0},
	}
	for _, tc := range tests {
		if tc.skip {
			continue
		}
		_, err := m.Reply(t.Context(), tc.thread, tc.reply)
		if !errors.Is(err, connectors.ErrInvalid) || connectors.IsRetryable(err) {
			t.Errorf("%s: err = %v, want ErrInvalid, not retryable", tc.name, err)
		}
		// Short bodies may occur in ids by chance: only long ones tell.
		if err != nil && len(tc.reply.Body) >= 10 && strings.Contains(err.Error(), tc.reply.Body) {
			t.Errorf("%s: the error carries the body", tc.name)
		}
	}
	for _, id := range append([]string{short, full}, onOrder...) {
		if sent := s.Sent(t, id); len(sent) != 0 {
			t.Errorf("refused replies reached thread %s: %+v", id, sent)
		}
	}
	// Without files, the order at its attachment limit still takes replies.
	if len(onOrder) > 0 {
		if _, err := m.Reply(t.Context(), onOrder[1], connectors.Reply{Body: ok, To: customer}); err != nil {
			t.Errorf("reply without files to an order at its attachment limit: %v", err)
		}
	}
}

func testDownload(t *testing.T, h Harness) {
	s := requireSeeder(t, h)
	if quirks(h).NoFiles {
		t.Skip("messages carry no files")
	}
	content := []byte("\x89PNG\r\n\x1a\n\x00\xffnot really a png")
	id := s.AddThread(t, SeedThread{
		OrderID: "DL-1", CustomerName: customerName,
		Message: SeedMessage{Body: "See the photo", Files: []File{{Name: "écran cassé.png", Content: content}}},
	})
	th := getThread(t, h.Marketplace(), id)
	a := th.Messages[0].Attachments
	if len(a) != 1 {
		t.Fatalf("attachments = %+v, want 1", a)
	}
	got, meta := download(t, h.Marketplace(), a[0].ID)
	if !bytes.Equal(got, content) {
		t.Errorf("downloaded %q, want %q", got, content)
	}
	if want := (connectors.AttachmentMeta{ID: a[0].ID, Name: "écran cassé.png", Size: int64(len(content))}); meta != want {
		t.Errorf("meta = %+v, want %+v", meta, want)
	}
}

func testNotFound(t *testing.T, h Harness) {
	m, ctx := h.Marketplace(), t.Context()
	const unknown = "00000000-0000-4000-8000-000000000000"
	_, err := m.GetThread(ctx, unknown)
	check := func(op string, err error) {
		t.Helper()
		if !errors.Is(err, connectors.ErrNotFound) || connectors.IsRetryable(err) {
			t.Errorf("%s of an unknown id: err = %v, want ErrNotFound, not retryable", op, err)
		}
	}
	check("GetThread", err)
	_, err = m.Reply(ctx, unknown, connectors.Reply{Body: "Hello there.", To: []connectors.PartyType{connectors.PartyCustomer}})
	check("Reply", err)
	rc, _, err := m.DownloadAttachment(ctx, unknown)
	if rc != nil {
		rc.Close()
	}
	check("DownloadAttachment", err)
}

func testWrongCredentials(t *testing.T, h Harness) {
	wrong, ctx := h.WrongCredentials(), t.Context()
	check := func(op string, err error) {
		t.Helper()
		if !errors.Is(err, connectors.ErrUnauthorized) || connectors.IsRetryable(err) {
			t.Errorf("%s with wrong credentials: err = %v, want ErrUnauthorized, not retryable", op, err)
		}
	}
	_, err := wrong.ListThreads(ctx, connectors.ThreadQuery{})
	check("ListThreads", err)
	if lr, ok := h.(LocalReader); !ok || !lr.ReadsThreadsLocally() {
		_, err = wrong.GetThread(ctx, "00000000-0000-4000-8000-000000000000")
		check("GetThread", err)
	}
	if ol, ok := wrong.(connectors.OrderLister); ok {
		_, err = ol.ListOrders(ctx, connectors.OrderQuery{})
		check("ListOrders", err)
	}
	if oa, ok := wrong.(connectors.OrderActor); ok {
		_, err = oa.GetOrder(ctx, "ORDER-1-A")
		check("GetOrder", err)
		check("Act", oa.Act(ctx, "ORDER-1-A", connectors.ShipOrder{}))
	}
}

func testCancelled(t *testing.T, h Harness) {
	m := h.Marketplace()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	start := time.Now()
	if _, err := m.ListThreads(ctx, connectors.ThreadQuery{}); !errors.Is(err, context.Canceled) {
		t.Errorf("ListThreads with a cancelled context: err = %v, want context.Canceled", err)
	}
	if elapsed := time.Since(start); elapsed > 500*time.Millisecond {
		t.Errorf("ListThreads with a cancelled context took %s", elapsed)
	}

	faults := h.Faults()
	if faults == nil {
		return
	}
	// Cancelled while the marketplace has not answered yet.
	faults.Push(fault.Fault{Hang: 5 * time.Second})
	ctx, cancel = context.WithCancel(t.Context())
	defer cancel()
	time.AfterFunc(50*time.Millisecond, cancel)
	start = time.Now()
	if _, err := m.ListThreads(ctx, connectors.ThreadQuery{}); !errors.Is(err, context.Canceled) {
		t.Errorf("ListThreads cancelled in flight: err = %v, want context.Canceled", err)
	}
	if elapsed := time.Since(start); elapsed > 800*time.Millisecond {
		t.Errorf("ListThreads cancelled in flight returned after %s", elapsed)
	}
}

func testRateLimited(t *testing.T, h Harness) {
	faults := requireFaults(t, h)
	m := h.Marketplace()
	faults.Push(fault.Fault{Status: http.StatusTooManyRequests, RetryAfter: 7 * time.Second})
	_, err := m.ListThreads(t.Context(), connectors.ThreadQuery{})
	var rl *connectors.RateLimitedError
	if !errors.As(err, &rl) {
		t.Fatalf("ListThreads answered 429: err = %v, want a *RateLimitedError", err)
	}
	if d, ok := connectors.RetryDelay(err); !ok || d != 7*time.Second || !connectors.IsRetryable(err) {
		t.Errorf("RetryDelay = %s, %t; IsRetryable = %t; want 7s, true, true", d, ok, connectors.IsRetryable(err))
	}
	// The retry the caller makes after waiting succeeds.
	if _, err := m.ListThreads(t.Context(), connectors.ThreadQuery{}); err != nil {
		t.Errorf("ListThreads after the wait: %v", err)
	}
}

func testServerErrors(t *testing.T, h Harness) {
	faults := requireFaults(t, h)
	m := h.Marketplace()
	for _, status := range []int{http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable} {
		faults.Push(fault.Fault{Status: status})
		_, err := m.GetThread(t.Context(), "00000000-0000-4000-8000-000000000000")
		if !errors.Is(err, connectors.ErrUnavailable) || !connectors.IsRetryable(err) {
			t.Errorf("GetThread answered %d: err = %v, want ErrUnavailable, retryable", status, err)
		}
	}
}

// testHungReply shows that a reply whose answer is lost can be found in
// the thread, which is how a caller avoids posting it twice.
func testHungReply(t *testing.T, h Harness) {
	faults := requireFaults(t, h)
	s := requireSeeder(t, h)
	m := h.Marketplace()
	id := orderThread(t, s, "HANG-1", "Hello?", baseTime())
	isReply := quirks(h).IsReply
	if isReply == nil {
		isReply = func(r *http.Request) bool { return r.Method == http.MethodPost }
	}
	faults.Push(fault.Fault{After: true, Hang: 5 * time.Second, Match: isReply})
	r := connectors.Reply{Body: "Sorry for the wait.", To: []connectors.PartyType{connectors.PartyCustomer}}
	start := time.Now()
	_, err := m.Reply(t.Context(), id, r)
	if faults.Pending() != 0 {
		t.Fatalf("Reply made no POST")
	}
	if err == nil || !connectors.IsRetryable(err) || errors.Is(err, context.Canceled) {
		t.Errorf("Reply whose answer hung: err = %v, want a retryable timeout", err)
	}
	if elapsed := time.Since(start); elapsed > 3*time.Second {
		t.Errorf("Reply waited %s for a hung answer: the harness's client timeout must be at most 1 s", elapsed)
	}
	th := getThread(t, m, id)
	n := 0
	for _, msg := range th.Messages {
		if msg.From.Type == connectors.PartyShop && msg.Body == r.Body {
			n++
		}
	}
	if n != 1 || len(s.Sent(t, id)) != 1 {
		t.Errorf("the hung reply is in the thread %d times and was sent %d times, want once", n, len(s.Sent(t, id)))
	}
}

// testSessionExpiry shows that a session (token) expiring between two
// pages of a listing, or before a reply, costs neither a page nor a
// reply: the connector opens a new one and goes on.
func testSessionExpiry(t *testing.T, h Harness) {
	exp, ok := h.(SessionExpirer)
	if !ok {
		t.Skip("the marketplace has no expiring sessions")
	}
	s := requireSeeder(t, h)
	m := h.Marketplace()
	const n = 150
	base := baseTime()
	var want []string
	for i := range n {
		want = append(want, orderThread(t, s, fmt.Sprintf("EXP-%03d", i), "Hello", base.Add(time.Duration(i)*time.Second)))
	}
	page, err := m.ListThreads(t.Context(), connectors.ThreadQuery{Limit: 100})
	if err != nil {
		t.Fatalf("ListThreads: %v", err)
	}
	if page.NextPageToken == "" {
		t.Fatalf("%d threads came in one page of at most 100", n)
	}
	got := ids(page.Threads)
	exp.ExpireSessions(t)
	rest, _ := listAll(t, m, connectors.ThreadQuery{PageToken: page.NextPageToken})
	got = append(got, ids(rest)...)
	if diff := cmp.Diff(want, got, sortStrings); diff != "" {
		t.Errorf("threads listed across the expiry (-seeded +listed):\n%s", diff)
	}

	exp.ExpireSessions(t)
	r := connectors.Reply{Body: "Sent after the session expired.", To: []connectors.PartyType{connectors.PartyCustomer}}
	if _, err := m.Reply(t.Context(), want[0], r); err != nil {
		t.Fatalf("Reply after the session expired: %v", err)
	}
	if sent := s.Sent(t, want[0]); len(sent) != 1 || sent[0].Body != r.Body {
		t.Errorf("sent after the expiry: %+v, want the reply once", sent)
	}
}

func testListOrders(t *testing.T, h Harness) {
	ol, ok := h.Marketplace().(connectors.OrderLister)
	if !ok {
		t.Skip("the connector does not list orders")
	}
	s := requireSeeder(t, h)
	qk := quirks(h)
	base := baseTime()
	const n = 250
	want := map[string]connectors.Order{}
	for i := range n {
		id := qk.orderID(fmt.Sprintf("ORD-%03d-A", i))
		// Seeded in the marketplace's state for shipped orders.
		o := connectors.Order{
			ID: id, CommercialID: fmt.Sprintf("ORD-%03d", i), Status: connectors.OrderShipped,
			CreatedAt: base.Add(time.Duration(i) * time.Second), UpdatedAt: base.Add(time.Hour + time.Duration(i)*time.Second),
			CustomerEmail: fmt.Sprintf("c%03d@relay.example", i), CustomerName: "Jane Doe", CustomerID: fmt.Sprintf("cust-%03d", i),
			Lines: []connectors.OrderLine{{
				ID: qk.lineID(id, 1), SKU: "MUG-1", Title: "Mug", Quantity: 2, Price: "39.90", Status: connectors.OrderShipped,
			}},
			TrackingNumber: "6A123", TrackingURL: "https://track.example/6A123", Carrier: "Colissimo",
			Total: "44.80", Currency: "EUR",
		}
		s.PutOrder(t, o)
		if qk.NoCommercialID {
			o.CommercialID = o.ID
		}
		if qk.NoTrackingURL {
			o.TrackingURL = ""
		}
		if qk.UnlistedCarrier {
			o.Carrier = ""
		}
		want[o.ID] = o
	}
	// An order last updated a day earlier is outside the listing.
	s.PutOrder(t, connectors.Order{ID: qk.orderID("OLD-A"), Status: connectors.OrderClosed, CreatedAt: base.Add(-48 * time.Hour), UpdatedAt: base.Add(-24 * time.Hour), Currency: "EUR"})

	since := base.Add(time.Hour)
	q := connectors.OrderQuery{UpdatedSince: since, Limit: 100}
	got := map[string]connectors.Order{}
	for pages := 1; ; pages++ {
		page, err := ol.ListOrders(t.Context(), q)
		if err != nil {
			t.Fatalf("ListOrders (page %d): %v", pages, err)
		}
		if len(page.Orders) > 100 {
			t.Errorf("page %d holds %d orders", pages, len(page.Orders))
		}
		if page.Total >= 0 && page.Total != n {
			t.Errorf("page %d: Total = %d, want %d", pages, page.Total, n)
		}
		for _, o := range page.Orders {
			if _, dup := got[o.ID]; dup {
				t.Errorf("order %s listed twice", o.ID)
			}
			// The marketplace's own state is its own: it must be there.
			if o.State == "" {
				t.Errorf("order %s listed without its state", o.ID)
			}
			o.State = ""
			if w, ok := want[o.ID]; ok && qk.UnlistedOrderUpdates {
				// The seeded updates are in the next seconds: the read
				// may come before them.
				if latest := w.UpdatedAt; o.UpdatedAt.Before(since) || o.UpdatedAt.After(latest.Add(time.Minute)) && o.UpdatedAt.After(time.Now().Add(time.Minute)) {
					t.Errorf("order %s listed as updated at %s, want when it was read: from the listing's %s to now", o.ID, o.UpdatedAt, since)
				}
				o.UpdatedAt = w.UpdatedAt
			}
			got[o.ID] = o
		}
		if page.NextPageToken == "" {
			break
		}
		if pages > 100 {
			t.Fatal("ListOrders found no end")
		}
		q = connectors.OrderQuery{PageToken: page.NextPageToken}
	}
	for id, o := range got {
		// A seeded order's shipping is its total less its lines, or free
		// where a fake keeps the total apart: a marketplace lists that,
		// or no shipping price if it gives none.
		if w, ok := want[id]; ok && w.ShippingPrice == "" && (o.ShippingPrice == "" || ratOf(o.ShippingPrice) == "0" || shippingOf(w) == ratOf(o.ShippingPrice)) {
			o.ShippingPrice = ""
			got[id] = o
		}
	}
	if project := quirks(h).ListedOrder; project != nil {
		for id, o := range want {
			want[id] = project(o)
		}
		for id, o := range got {
			got[id] = project(o)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("listed orders (-seeded +listed):\n%s", diff)
	}
}

// testReplyOutsideWindow shows that a reply outside the marketplace's
// contact window is refused before anything is sent, with an error an
// agent can read (the service makes it a note).
func testReplyOutsideWindow(t *testing.T, h Harness) {
	cw, ok := h.(ContactWindows)
	if !ok {
		t.Skip("the marketplace has no contact windows")
	}
	s := requireSeeder(t, h)
	faults := requireFaults(t, h)
	m := h.Marketplace()
	id := orderThread(t, s, "WINDOW-1", "Where is my parcel?", baseTime())
	cw.CloseContactWindow(t, id)
	isReply := quirks(h).IsReply
	if isReply == nil {
		isReply = func(r *http.Request) bool { return r.Method == http.MethodPost }
	}
	// A reply request reaching the marketplace would take this fault.
	faults.Push(fault.Fault{Status: http.StatusServiceUnavailable, Match: isReply})
	defer faults.Clear()
	r := connectors.Reply{Body: "Your parcel left on Monday, sorry for the wait.", To: []connectors.PartyType{connectors.PartyCustomer}}
	_, err := m.Reply(t.Context(), id, r)
	if !errors.Is(err, connectors.ErrInvalid) || connectors.IsRetryable(err) {
		t.Fatalf("reply outside the window: err = %v, want ErrInvalid, not retryable", err)
	}
	if faults.Pending() != 1 {
		t.Errorf("the refused reply was sent to the marketplace")
	}
	if msg := err.Error(); strings.Contains(msg, r.Body) || strings.Contains(msg, customerName) || len(msg) < 20 {
		t.Errorf("refusal reads %q: want a sentence without the body nor customer data", msg)
	}
	if sent := s.Sent(t, id); len(sent) != 0 {
		t.Errorf("sent outside the window: %+v", sent)
	}
}

// shippingOf is an order's total less its lines' prices, exactly.
func shippingOf(o connectors.Order) string {
	r, ok := new(big.Rat).SetString(o.Total)
	if !ok {
		return "?"
	}
	for _, l := range o.Lines {
		p, ok := new(big.Rat).SetString(l.Price)
		if !ok {
			return "?"
		}
		r.Sub(r, p)
	}
	return r.RatString()
}

// ratOf is an amount, exactly, as shippingOf gives it.
func ratOf(s string) string {
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return "!"
	}
	return r.RatString()
}
