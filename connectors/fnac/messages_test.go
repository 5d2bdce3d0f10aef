package fnac_test

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/helpdesk-bridge/bridge/connectors"
	"github.com/helpdesk-bridge/bridge/connectors/fault"
	"github.com/helpdesk-bridge/bridge/connectors/fnac"
	"github.com/helpdesk-bridge/bridge/connectors/fnac/api"
	"github.com/helpdesk-bridge/bridge/connectors/fnac/fnacfake"
	"github.com/helpdesk-bridge/bridge/connectors/marketplacetest"
)

func marketplaceSeed(order string) marketplacetest.SeedThread {
	return marketplacetest.SeedThread{
		OrderID: order, Topic: "Délai plus long qu'annoncé", CustomerName: "John D.",
		Message: marketplacetest.SeedMessage{Body: "Ma commande n'est toujours pas arrivée."},
	}
}

// The client's and the call centre's messages on one order are two
// threads; the shop's reply shows in both.
func TestThreadsPerCorrespondent(t *testing.T) {
	t.Parallel()
	h := startFake(t, setup{})
	ctx := t.Context()
	client := seedClient(t, h, "57BEAFDA828A8")
	h.AddMessage(t, client, marketplacetest.SeedMessage{From: connectors.PartyOperator, Body: "Merci de répondre au client."})
	callCenter := fnac.ThreadID(api.TypeOrder, "57BEAFDA828A8", api.FromCallCenter)
	page, err := h.mp.ListThreads(ctx, connectors.ThreadQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Threads) != 2 {
		t.Fatalf("%d threads, want the client's and the call centre's", len(page.Threads))
	}
	cc, err := h.mp.GetThread(ctx, callCenter)
	if err != nil {
		t.Fatal(err)
	}
	if cc.Customer != nil || len(cc.Messages) != 1 || cc.Messages[0].From.Type != connectors.PartyOperator {
		t.Errorf("call centre thread = %+v", cc)
	}
	sent, err := h.mp.Reply(ctx, callCenter, connectors.Reply{Body: "Colis renvoyé.", To: []connectors.PartyType{connectors.PartyOperator}})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{client, callCenter} {
		th, err := h.mp.GetThread(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if last := th.Messages[len(th.Messages)-1]; last.ID != sent.MessageID || last.From.Type != connectors.PartyShop {
			t.Errorf("%s: last message %+v, want the reply", id, last)
		}
	}
	// The call centre's message id also finds its thread.
	if th, err := h.mp.GetThread(ctx, cc.Messages[0].ID); err != nil || th.ID != callCenter {
		t.Errorf("GetThread by message id = %s, %v", th.ID, err)
	}
}

// Fnac allows the call centre only on orders in incident: a refusal is
// permanent, names Fnac's code, and sends nothing.
func TestCallCentreOnlyOnIncidents(t *testing.T) {
	t.Parallel()
	h := startFake(t, setup{})
	id, err := h.fake.AddMessage(fnacShop, h.url, fnacfake.MessageSeed{RefererID: "NOINCIDENT001", FromName: "Jane", Subject: "Question", Body: "Hello"})
	if err != nil {
		t.Fatal(err)
	}
	thread := fnac.ThreadID(api.TypeOrder, "NOINCIDENT001", api.FromClient)
	for _, to := range [][]connectors.PartyType{{connectors.PartyOperator}, {connectors.PartyCustomer, connectors.PartyOperator}} {
		_, err = h.mp.Reply(t.Context(), thread, connectors.Reply{Body: "Pour le service client.", To: to})
		if !errors.Is(err, connectors.ErrInvalid) || connectors.IsRetryable(err) || !strings.Contains(err.Error(), fnacfake.CodeNoIncident) {
			t.Errorf("reply to %v: err = %v, want ErrInvalid with %s", to, err, fnacfake.CodeNoIncident)
		}
	}
	if sent := h.fake.Sent(fnacShop); len(sent) != 0 {
		t.Errorf("sent %+v", sent)
	}
	// To the client alone it goes.
	if _, err := h.mp.Reply(t.Context(), thread, connectors.Reply{Body: "Bonjour.", To: []connectors.PartyType{connectors.PartyCustomer}}); err != nil {
		t.Errorf("reply to the client: %v", err)
	}
	if sent := h.fake.Sent(fnacShop); len(sent) != 1 || sent[0].ParentID != id || sent[0].To != api.ToClient || sent[0].Subject != api.SubjectOrderInformation || sent[0].Type != api.TypeOrder {
		t.Errorf("sent %+v", sent)
	}
}

// The fake refuses a reply over the length bound on its own, had the
// connector not checked it.
func TestFakeRefusesLongReplies(t *testing.T) {
	t.Parallel()
	h := startFake(t, setup{})
	seedClient(t, h, "LONGREPLY0001")
	_, err := h.mp.Reply(t.Context(), fnac.ThreadID(api.TypeOrder, "LONGREPLY0001", api.FromClient),
		connectors.Reply{Body: strings.Repeat("é", api.MaxReplyChars+1), To: []connectors.PartyType{connectors.PartyCustomer}})
	if !errors.Is(err, connectors.ErrInvalid) {
		t.Errorf("err = %v", err)
	}
}

// A Darty account is another shop_id on the same platform: it sees its
// own messages only.
func TestDartyAccount(t *testing.T) {
	t.Parallel()
	h := startFake(t, setup{})
	seedClient(t, h, "FNACORDER0001")
	if _, err := h.fake.AddMessage(dartyShop, h.url, fnacfake.MessageSeed{RefererID: "DARTYORDER001", FromName: "Jim", Subject: "Question", Body: "Darty?"}); err != nil {
		t.Fatal(err)
	}
	darty := h.client(t, dartyShop, dartyKey, nil)
	page, err := darty.ListThreads(t.Context(), connectors.ThreadQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Threads) != 1 || page.Threads[0].Entity.ID != "DARTYORDER001" {
		t.Errorf("Darty's threads = %+v", page.Threads)
	}
	// Fnac's key does not open Darty's shop.
	if _, err := h.client(t, dartyShop, fnacKey, nil).ListThreads(t.Context(), connectors.ThreadQuery{}); !errors.Is(err, connectors.ErrUnauthorized) {
		t.Errorf("Darty with Fnac's key: err = %v", err)
	}
}

func TestMarkReadAndArchiveFollowOptions(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	for _, on := range []bool{false, true} {
		h := startFake(t, setup{client: func(o *fnac.Options) { o.MarkReadAfterMirroring, o.ArchiveWhenClosed = on, on }})
		id := seedClient(t, h, "MIRRORED00001")
		th, err := h.mp.GetThread(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		// A message arriving after the mirroring stays unread.
		h.AddMessage(t, id, marketplacetest.SeedMessage{Body: "Et alors ?"})
		if err := h.mp.Mirrored(ctx, th); err != nil {
			t.Fatal(err)
		}
		if err := h.mp.Closed(ctx, id); err != nil {
			t.Fatal(err)
		}
		after, err := h.mp.GetThread(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		first, _ := h.fake.Message(fnacShop, after.Messages[0].ID)
		second, _ := h.fake.Message(fnacShop, after.Messages[1].ID)
		wantRead, wantArchived := api.StateUnread, api.False
		if on {
			wantRead, wantArchived = api.StateRead, api.True
		}
		if first.State != wantRead || second.State != api.StateUnread {
			t.Errorf("options %t: states %s, %s; want %s, UNREAD", on, first.State, second.State, wantRead)
		}
		if first.Archived != wantArchived || second.Archived != wantArchived {
			t.Errorf("options %t: archived %s, %s; want %s", on, first.Archived, second.Archived, wantArchived)
		}
	}
}

// A reply Fnac took, whose new message could not be read back for its
// id, is reported as uncertain, not as sent without an id (the caller
// would mirror it back) nor as refused (the caller would note a refusal):
// the caller looks it up, and finds it once.
func TestReplyWhoseIDCannotBeReadIsUncertain(t *testing.T) {
	t.Parallel()
	h := startFake(t, setup{})
	ctx := t.Context()
	thread := seedClient(t, h, "57BEAFDA828A9")
	var replied atomic.Bool
	h.fake.Faults().Push(
		fault.Fault{Match: func(r *http.Request) bool {
			if strings.HasSuffix(r.URL.Path, "/"+api.ServiceMessagesUpdate) {
				replied.Store(true)
			}
			return false // only watches
		}},
		// The read after the reply is refused at its root, with a code
		// that reads as a refusal of the request.
		fault.Fault{Status: http.StatusBadRequest, Match: func(r *http.Request) bool {
			return replied.Load() && strings.HasSuffix(r.URL.Path, "/"+api.ServiceMessagesQuery)
		}},
	)
	_, err := h.mp.Reply(ctx, thread, connectors.Reply{To: []connectors.PartyType{connectors.PartyCustomer}, Body: "Elle part aujourd'hui."})
	if !errors.Is(err, connectors.ErrUncertain) || errors.Is(err, connectors.ErrInvalid) {
		t.Fatalf("reply: %v; want an uncertain write, not a refusal", err)
	}
	if n := len(h.fake.Sent(fnacShop)); n != 1 {
		t.Fatalf("%d replies on Fnac, want the one", n)
	}
	th, err := h.mp.GetThread(ctx, thread)
	if err != nil {
		t.Fatal(err)
	}
	if last := th.Messages[len(th.Messages)-1]; last.From.Type != connectors.PartyShop || last.Body != "Elle part aujourd'hui." {
		t.Errorf("the thread ends with %+v, want the reply, for the caller to find", last)
	}
}

// Mirroring marks a listed thread's messages read, which updates them and
// moves them to the end of a listing by update time while it runs: the
// listing must still reach every thread (an offset would skip as many as
// were moved), and each once.
func TestListingReachesEveryThreadWhileListedOnesAreMarkedRead(t *testing.T) {
	t.Parallel()
	clk := &clock{now: time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)}
	tick := func() time.Time { clk.Add(time.Second); return clk.Now() }
	h := startFake(t, setup{fake: fnacfake.Options{TokenTTL: time.Hour, Now: tick}, client: func(o *fnac.Options) { o.Now = clk.Now }})
	ctx := t.Context()
	want := map[string]bool{}
	for i := range 3*fnac.ListPageSize + 7 {
		want[seedClient(t, h, fmt.Sprintf("READ%04d", i))] = true
	}
	got := map[string]int{}
	q := connectors.ThreadQuery{}
	for pages := 0; ; pages++ {
		if pages > 20 {
			t.Fatal("the listing does not end")
		}
		page, err := h.mp.ListThreads(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, th := range page.Threads {
			got[th.ID]++
			if err := h.mp.MarkRead(ctx, th); err != nil {
				t.Fatal(err)
			}
		}
		if page.NextPageToken == "" {
			break
		}
		q = connectors.ThreadQuery{PageToken: page.NextPageToken}
	}
	for id := range want {
		if got[id] != 1 {
			t.Errorf("thread %s listed %d times, want once", id, got[id])
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d threads listed, %d seeded", len(got), len(want))
	}
}
