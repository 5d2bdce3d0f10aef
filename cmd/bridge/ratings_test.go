package main

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hibiken/asynq"

	"github.com/helpdesk-bridge/bridge/alerts"
	"github.com/helpdesk-bridge/bridge/bridge/jobs"
	"github.com/helpdesk-bridge/bridge/connectors/mirakl/api"
	"github.com/helpdesk-bridge/bridge/connectors/mirakl/miraklfake"
)

// ratingsNow runs the Carrefour shop's rating sync at once instead of
// waiting for its period, and waits for what it enqueued.
func (h *harness) ratingsNow() {
	h.t.Helper()
	c := asynq.NewClientFromRedisClient(h.rdb)
	defer c.Close()
	task := alerts.NewRatingsTask(alerts.RatingsPayload{Merchant: "acme", Account: "acme-carrefour"}, jobs.Shards(h.cfg.Worker.QueueShards))
	if _, err := c.EnqueueContext(context.Background(), task); err != nil {
		h.t.Fatal(err)
	}
	h.settle()
}

// alertSubjects are the subjects of the alert tickets in each fake
// helpdesk, each with its tags, sorted.
func (h *harness) alertSubjects() (gorgias, zendesk []string) {
	for _, t := range h.gorgiasTickets() {
		if strings.HasPrefix(t.ExternalID, "bridge-alert-") {
			gorgias = append(gorgias, t.Subject+" "+strings.Join(tagNames(t), ","))
		}
	}
	for _, t := range h.zendeskTickets() {
		if strings.HasPrefix(t.ExternalID, "bridge-alert-") {
			zendesk = append(zendesk, t.Subject+" "+strings.Join(t.Tags, ","))
		}
	}
	slices.Sort(gorgias)
	slices.Sort(zendesk)
	return gorgias, zendesk
}

// TestRatingAlertsFromMirakl: the customers of the Carrefour shop rated
// three orders on Mirakl, badly with a comment, badly without one, and
// well. With rating_alerts off nothing is read; switched on, the rating
// sync raises the same alerts a delivery_survey.rated event would, each
// once however often the sync runs, and none for the good rating.
func TestRatingAlertsFromMirakl(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	for _, r := range []struct {
		order   string
		grade   int
		comment string
	}{
		{"MKL-1-A", 1, "Box arrived crushed"},
		{"MKL-2-A", 2, ""},
		{"MKL-3-A", 5, "Perfect"},
	} {
		_, err := h.mkl.PutOrder(miraklShop, api.Order{
			OrderID: r.order, OrderState: api.StateReceived, CustomerNotificationEmail: buyerEmail,
			Customer:   api.Customer{CustomerID: "cust-1", Firstname: "Jeanne", Lastname: "Martin"},
			OrderLines: []api.OrderLine{{OfferSKU: "MUG-01", ProductTitle: "Blue mug", Quantity: 2}},
			TotalPrice: "49.90", CurrencyISOCode: "EUR",
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h.mkl.PutEvaluation(miraklShop, r.order, miraklfake.EvaluationSeed{Grade: r.grade, Comment: r.comment}); err != nil {
			t.Fatal(err)
		}
	}

	// Off, as by default: the sync reads nothing and raises nothing.
	h.ratingsNow()
	if g, z := h.alertSubjects(); len(g)+len(z) > 0 {
		t.Fatalf("with rating_alerts off: gorgias %v, zendesk %v", g, z)
	}
	if n := h.mkl.Requests()["GET /api/orders/{order_id}/evaluation"]; n != 0 {
		t.Errorf("with rating_alerts off, Mirakl was asked for %d evaluations", n)
	}

	// On: the bridge restarts with the switch, and syncs at once and again.
	h.stop()
	h.cfg.Merchants[0].Marketplaces[0].RatingAlerts = true
	h.start(ModeServe)
	h.ratingsNow()
	wantG := []string{
		"Buyer Jeanne Martin gave a bad rating in the delivery satisfaction survey bigblue-bad-rating-no-comment,bigblue-bridge-alert",
		"Buyer Jeanne Martin gave a bad rating in the delivery satisfaction survey bigblue-bad-rating-with-comment,bigblue-bridge-alert",
	}
	// The Zendesk account takes bad ratings with a comment only, in French.
	wantZ := []string{"L'acheteur Jeanne Martin a donné une mauvaise note dans l'enquête de satisfaction de livraison bigblue-bad-rating-with-comment,bigblue-bridge-alert"}
	eventually(t, 20*time.Second, "the alert tickets", func() bool {
		g, z := h.alertSubjects()
		return len(g) >= len(wantG) && len(z) >= len(wantZ)
	})
	h.ratingsNow()
	h.settle()
	g, z := h.alertSubjects()
	if diff := cmp.Diff(wantG, g); diff != "" {
		t.Errorf("gorgias alert tickets (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantZ, z); diff != "" {
		t.Errorf("zendesk alert tickets (-want +got):\n%s", diff)
	}

	// The ticket shows the evaluation and its order, as a survey's would.
	for _, tk := range h.gorgiasTickets() {
		if !slices.Contains(tagNames(tk), "bigblue-bad-rating-with-comment") {
			continue
		}
		full, _ := h.gorg.Ticket(tk.ID)
		if len(full.Messages) != 1 {
			t.Fatalf("ticket %d has %d messages", tk.ID, len(full.Messages))
		}
		for _, want := range []string{"rated the delivery of order MKL-1-A (ACME France) 1/5", `Comment: "Box arrived crushed"`, "- Marketplace: carrefour", "2 x Blue mug (SKU MUG-01)", "https://backoffice.example/orders/MKL-1-A", "rating:acme-carrefour:MKL-1-A:"} {
			if !strings.Contains(full.Messages[0].BodyText, want) {
				t.Errorf("the alert note lacks %q:\n%s", want, full.Messages[0].BodyText)
			}
		}
		if full.Customer == nil || full.Customer.Email != buyerEmail {
			t.Errorf("requester %+v, want the order's customer", full.Customer)
		}
	}
	// Each sync asked each received order once for its evaluation; the
	// Decathlon shop, switched off, was not asked.
	if n := h.mkl.Requests()["GET /api/orders/{order_id}/evaluation"]; n%3 != 0 || n < 6 {
		t.Errorf("Mirakl was asked for %d evaluations, want 3 per sync", n)
	}
}
