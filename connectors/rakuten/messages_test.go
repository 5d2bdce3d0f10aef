package rakuten_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/helpdesk-bridge/bridge/connectors"
	"github.com/helpdesk-bridge/bridge/connectors/fault"
	"github.com/helpdesk-bridge/bridge/connectors/marketplacetest"
	"github.com/helpdesk-bridge/bridge/connectors/rakuten"
	"github.com/helpdesk-bridge/bridge/connectors/rakuten/api"
	"github.com/helpdesk-bridge/bridge/connectors/rakuten/rakutenfake"
)

func seedBuyer(t *testing.T, h *fakeHarness, order string) string {
	t.Helper()
	return h.AddThread(t, marketplacetest.SeedThread{OrderID: order, Topic: "Câble USB", CustomerName: "acheteur1",
		Message: marketplacetest.SeedMessage{Body: "Bonjour, où est mon colis ?"}})
}

// getiteminfos marks messages read: a message read by GetThread, and so
// off the todo list, is still in the next listing.
func TestMessagesReadElsewhereAreStillListed(t *testing.T) {
	t.Parallel()
	h := startFake(t, setup{})
	since := time.Now().Add(-time.Minute)
	id := seedBuyer(t, h, "900")
	if _, err := h.mp.GetThread(t.Context(), id); err != nil {
		t.Fatal(err)
	}
	page, err := h.mp.ListThreads(t.Context(), connectors.ThreadQuery{UpdatedSince: since})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Threads) != 1 || page.Threads[0].ID != id {
		t.Fatalf("listed %d threads, want %s", len(page.Threads), id)
	}
	if th := page.Threads[0]; th.Entity.ID != "900" || th.Entity.RawType != "PURCHASE" || th.Topic != "Câble USB" || th.Customer == nil || th.Customer.Name != "acheteur1" {
		t.Errorf("thread = %+v", th)
	}
	// The buyer's message has the same id on every read.
	again, err := h.mp.GetThread(t.Context(), id)
	if err != nil || again.Messages[0].ID != page.Threads[0].Messages[0].ID {
		t.Errorf("message id %s then %s (%v)", page.Threads[0].Messages[0].ID, again.Messages[0].ID, err)
	}
}

// Rakuten's quota has no Retry-After: the account is put off an hour.
func TestQuotaDefersTheAccount(t *testing.T) {
	t.Parallel()
	lim := &penalties{}
	h := startFake(t, setup{fake: rakutenfake.Options{QuotaPerHour: 1}, client: func(o *rakuten.Options) {
		o.Limiter, o.LimiterKey = lim, "acme-rakuten"
	}})
	if _, err := h.mp.ListThreads(t.Context(), connectors.ThreadQuery{}); err != nil {
		t.Fatal(err)
	}
	_, err := h.mp.ListThreads(t.Context(), connectors.ThreadQuery{})
	var rl *connectors.RateLimitedError
	if !errors.As(err, &rl) || rl.RetryAfter != rakuten.DefaultQuotaBackoff || !connectors.IsRetryable(err) {
		t.Errorf("over the quota: err = %v, want a *RateLimitedError of %s", err, rakuten.DefaultQuotaBackoff)
	}
	// The whole account waits, on every replica: the shared limiter
	// holds the penalty, as for a 429.
	if want := []string{"acme-rakuten " + rakuten.DefaultQuotaBackoff.String()}; !slices.Equal(lim.got, want) {
		t.Errorf("penalties %v, want %v", lim.got, want)
	}
}

// penalties is a limiter that lets every call go and records penalties.
type penalties struct {
	mu  sync.Mutex
	got []string
}

func (p *penalties) Acquire(context.Context, string) error { return nil }
func (p *penalties) Penalize(_ context.Context, key string, d time.Duration) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.got = append(p.got, key+" "+d.String())
	return nil
}

// The windows: an amicable claim lets the shop write to the buyer, a
// claim that is not amicable does not; Rakuten stays reachable until 30
// days after the receipt.
func TestContactWindows(t *testing.T) {
	t.Parallel()
	h := startFake(t, setup{})
	ctx := t.Context()
	reply := func(id string, to connectors.PartyType) error {
		_, err := h.mp.Reply(ctx, id, connectors.Reply{Body: "Nous revenons vers vous.", To: []connectors.PartyType{to}})
		return err
	}
	amicable := seedBuyer(t, h, "901")
	item, _, _ := strings.Cut(amicable, "/")
	if err := h.fake.OpenClaim(login, item, true, "abîmé"); err != nil {
		t.Fatal(err)
	}
	if err := h.fake.Age(login, item, time.Now().Add(-50*24*time.Hour), time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := reply(amicable, connectors.PartyCustomer); err != nil {
		t.Errorf("reply under an amicable claim, 50 days after the order: %v", err)
	}

	hard := seedBuyer(t, h, "902")
	item, _, _ = strings.Cut(hard, "/")
	if err := h.fake.OpenClaim(login, item, false, "jamais reçu"); err != nil {
		t.Fatal(err)
	}
	var we *rakuten.WindowError
	if err := reply(hard, connectors.PartyCustomer); !errors.As(err, &we) || !strings.Contains(err.Error(), "not amicable") {
		t.Errorf("reply under a claim that is not amicable: err = %v", err)
	}
	mail, err := h.fake.AddMail(login, item, "Réclamation", "Merci de nous répondre.", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	rakutenThread := rakuten.ThreadID(item, rakuten.CorrRakuten)
	if err := reply(rakutenThread, connectors.PartyOperator); err != nil {
		t.Errorf("reply to Rakuten under a claim: %v", err)
	}
	if sent := h.fake.Sent(login); len(sent) != 2 || sent[1].MailParentID != mail {
		t.Errorf("sent %+v, want the mail to Rakuten answering %s", sent, mail)
	}
	if err := h.fake.Age(login, item, time.Now().Add(-60*24*time.Hour), time.Now().Add(-31*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := reply(rakutenThread, connectors.PartyOperator); !errors.As(err, &we) || !strings.Contains(err.Error(), "30 days") {
		t.Errorf("reply to Rakuten 31 days after the receipt: err = %v", err)
	}
	if n := h.fake.Calls(api.ActionContactUsAboutItem); n != 1 {
		t.Errorf("%d contactusaboutitem calls, want 1: refusals are made before sending", n)
	}
}

// getiteminfos answered, so the item's messages marked read and the item
// off the todo list, but the answer lost: the next listing reads the item
// again all the same, and loses none of its messages.
func TestItemReadWhoseAnswerWasLostIsReadAgain(t *testing.T) {
	t.Parallel()
	h := startFake(t, setup{})
	since := time.Now().Add(-time.Minute)
	id := seedBuyer(t, h, "902")
	h.fake.Faults().Push(fault.Fault{Status: http.StatusBadGateway, After: true, Match: func(r *http.Request) bool {
		return r.URL.Query().Get("action") == "getiteminfos"
	}})
	if _, err := h.mp.ListThreads(t.Context(), connectors.ThreadQuery{UpdatedSince: since}); err == nil || !connectors.IsRetryable(err) {
		t.Fatalf("listing whose item read lost its answer: err = %v, want retryable", err)
	}
	if h.fake.Faults().Pending() != 0 {
		t.Fatal("the item was not read")
	}
	page, err := h.mp.ListThreads(t.Context(), connectors.ThreadQuery{UpdatedSince: since})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Threads) != 1 || page.Threads[0].ID != id || len(page.Threads[0].Messages) != 1 {
		t.Fatalf("after the lost answer: %+v, want thread %s with its message", page.Threads, id)
	}
}
