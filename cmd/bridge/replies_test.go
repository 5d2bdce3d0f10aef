package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/helpdesk-bridge/bridge/connectors/gorgias/gorgiasfake"
	mapi "github.com/helpdesk-bridge/bridge/connectors/mirakl/api"
	"github.com/helpdesk-bridge/bridge/connectors/mirakl/miraklfake"
	"github.com/helpdesk-bridge/bridge/connectors/zendesk"
	zapi "github.com/helpdesk-bridge/bridge/connectors/zendesk/api"
	"github.com/helpdesk-bridge/bridge/discussions"
)

// agentReply stands for an agent answering in Gorgias's UI: the fake
// stores the reply and calls the bridge's webhook.
func (h *harness) agentReply(ticketID int64, r gorgiasfake.AgentReply) {
	h.t.Helper()
	body, _ := json.Marshal(r)
	req, _ := http.NewRequest(http.MethodPost, h.gorgTS.URL+"/acme/_fake/tickets/"+strconv.FormatInt(ticketID, 10)+"/agent-reply", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	out, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		h.t.Fatalf("agent reply: %d %s", resp.StatusCode, out)
	}
	h.gorg.WaitWebhooks()
	h.settle()
}

func (h *harness) repliesTo(thread string) []miraklfake.Reply {
	var out []miraklfake.Reply
	for _, r := range h.mkl.Replies() {
		if r.ThreadID == thread {
			out = append(out, r)
		}
	}
	return out
}

func recipientTypes(r miraklfake.Reply) []string {
	var out []string
	for _, to := range r.To {
		out = append(out, to.Type)
	}
	return out
}

func TestDiscussionsAgentRepliesGoBack(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	th, ticket := h.mirrorThread(miraklfake.ThreadSeed{
		EntityType: mapi.EntityOrder, EntityID: "ORDER-7", Topic: "Broken mug", CustomerID: "c-7", CustomerName: buyerName,
		Message: miraklfake.MessageSeed{Body: "My mug arrived broken."},
	})

	// An agent's HTML reply with a small and a large file, delivered twice.
	small := []byte("refund form")
	large := bytes.Repeat([]byte("label "), 400) // over the test's 1 KiB file limit
	h.agentReply(ticket.ID, gorgiasfake.AgentReply{
		BodyHTML: `<p>Hello <b>Jeanne</b>,</p><p>sorry! Here is the <a href="https://shop.example/returns">returns page</a>.</p>`,
		Files: []gorgiasfake.AgentFile{
			{Name: "form.txt", ContentType: "text/plain", Data: small},
			{Name: "label.pdf", ContentType: "application/pdf", Data: large},
		},
		DeliverTwice: true,
	})
	replies := h.repliesTo(th.ID)
	if len(replies) != 1 {
		t.Fatalf("%d replies in the marketplace, want 1 for a webhook delivered twice", len(replies))
	}
	r := replies[0]
	if !strings.HasPrefix(r.Body, "Hello Jeanne,\n\nsorry! Here is the returns page (https://shop.example/returns).") || strings.Contains(r.Body, "<") {
		t.Errorf("reply body is not readable plain text: %q", r.Body)
	}
	if got := recipientTypes(r); len(got) != 1 || got[0] != "CUSTOMER" {
		t.Errorf("recipients %v, want the customer by default", got)
	}
	if len(r.Files) != 1 || r.Files[0].Name != "form.txt" || !bytes.Equal(r.Files[0].Content, small) {
		t.Errorf("files %+v, want form.txt only", r.Files)
	}
	link := regexp.MustCompile(`label\.pdf: (http://\S+/v1/files/\S+)`).FindStringSubmatch(r.Body)
	if link == nil {
		t.Fatalf("the large file did not go as a link: %q", r.Body)
	}
	resp, err := http.Get(link[1])
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Equal(got, large) || !strings.Contains(resp.Header.Get("Content-Disposition"), "label.pdf") {
		t.Errorf("the signed link: %d %q", resp.StatusCode, resp.Header.Get("Content-Disposition"))
	}
	if resp, _ := http.Get(link[1] + "x"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("a tampered link answered %d", resp.StatusCode)
	}

	// The next sync does not mirror the bridge's own reply back.
	before := len(h.discussionTickets()["bridge-disc-carrefour-"+miraklShop+"-"+th.ID].Messages)
	h.syncNow()
	if after := len(h.discussionTickets()["bridge-disc-carrefour-"+miraklShop+"-"+th.ID].Messages); after != before {
		t.Errorf("the sync after a reply changed the ticket from %d to %d messages", before, after)
	}

	// The agent chooses the operator, and solves the ticket with the reply.
	h.agentReply(ticket.ID, gorgiasfake.AgentReply{BodyText: "To: operator\nPlease refund this order, the carrier broke it.", Status: "closed"})
	replies = h.repliesTo(th.ID)
	if len(replies) != 2 || replies[1].Body != "Please refund this order, the carrier broke it." {
		t.Fatalf("second reply: %+v", replies)
	}
	if got := recipientTypes(replies[1]); len(got) != 1 || got[0] != "OPERATOR" {
		t.Errorf("recipients %v, want the operator", got)
	}
	d, err := discussions.NewStore(h.rdb, "").Get(context.Background(), "acme", "acme-carrefour", th.ID)
	if err != nil || d.Status != discussions.StatusSolved || d.MerchantTicketID != strconv.FormatInt(ticket.ID, 10) {
		t.Errorf("discussion after reply-and-close: %+v %v", d, err)
	}

	// A reply the marketplace would refuse becomes an internal note.
	h.agentReply(ticket.ID, gorgiasfake.AgentReply{BodyText: "ok"})
	if n := len(h.repliesTo(th.ID)); n != 2 {
		t.Errorf("a too short reply was sent: %d replies", n)
	}
	full, _ := h.gorg.Ticket(ticket.ID)
	last := full.Messages[len(full.Messages)-1]
	if !strings.Contains(last.BodyText, "This reply was NOT sent to carrefour") || last.Public == nil || *last.Public {
		t.Errorf("no internal note for the refused reply: %+v", last)
	}

	// An internal note by an agent never goes out.
	no := false
	h.agentReply(ticket.ID, gorgiasfake.AgentReply{BodyText: "Internal: check the carrier's claim", Public: &no})
	if n := len(h.repliesTo(th.ID)); n != 2 {
		t.Errorf("an internal note was sent to the marketplace: %d replies", n)
	}
}

func TestDiscussionsWebhookRefusesBadDeliveries(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	for _, c := range []struct {
		name, path, secret, body string
		status                   int
		code                     string
	}{
		{"no secret", "/v1/webhooks/helpdesks/acme-gorgias", "", `{"ticket_id":"1"}`, 401, "invalid_webhook"},
		{"wrong secret", "/v1/webhooks/helpdesks/acme-gorgias", "not-the-secret-0000", `{"ticket_id":"1"}`, 401, "invalid_webhook"},
		{"malformed", "/v1/webhooks/helpdesks/acme-gorgias", hookSecret, `{"ticket_id":`, 400, "malformed_webhook"},
		{"unsigned to zendesk", "/v1/webhooks/helpdesks/acme-zendesk", "", `{"event":"agent_reply","ticket_id":"1"}`, 401, "invalid_webhook"},
		{"unknown account", "/v1/webhooks/helpdesks/nope", hookSecret, `{}`, 404, "unknown_helpdesk"},
	} {
		req, _ := http.NewRequest(http.MethodPost, h.url+c.path, strings.NewReader(c.body))
		req.Header.Set("Content-Type", "application/json")
		if c.secret != "" {
			req.Header.Set("X-Helpdesk-Bridge-Secret", c.secret)
		}
		code, body := h.do(req)
		if code != c.status || body["error"].(map[string]any)["code"] != c.code {
			t.Errorf("%s: %d %v, want %d %s", c.name, code, body, c.status, c.code)
		}
	}
}

// The same through Zendesk: its signed webhook, delivered twice, sends one
// reply, and "submit as solved" solves the discussion.
func TestDiscussionsZendeskReplies(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	th, err := h.mkl.AddThread(miraklfake.ThreadSeed{
		ShopID: "2043", EntityType: mapi.EntityOrder, EntityID: "DKT-9", Topic: "Tent pole missing", CustomerID: "c-9", CustomerName: buyerName,
		Message: miraklfake.MessageSeed{Body: "A pole is missing from my tent."},
	})
	if err != nil {
		t.Fatal(err)
	}
	c := asynq.NewClientFromRedisClient(h.rdb)
	if _, err := c.EnqueueContext(context.Background(), discussions.NewSyncTask(discussions.SyncPayload{Merchant: "acme", Account: "acme-decathlon"}, 1)); err != nil {
		t.Fatal(err)
	}
	h.settle()
	var ticketID int64
	for _, tk := range h.zend.Tickets() {
		if tk.ExternalID == "bridge-disc-decathlon-2043-"+th.ID {
			ticketID = tk.ID
		}
	}
	if ticketID == 0 {
		t.Fatal("no Zendesk ticket for the thread")
	}
	body, _ := json.Marshal(map[string]any{"html_body": "<p>Sorry, a new pole is on its way.</p>", "status": "solved", "deliver_twice": true})
	resp, err := http.Post(h.zendTS.URL+"/acme/_fake/tickets/"+strconv.FormatInt(ticketID, 10)+"/agent-reply", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("agent reply: %d", resp.StatusCode)
	}
	h.settle()
	replies := h.repliesTo(th.ID)
	if len(replies) != 1 || replies[0].Body != "Sorry, a new pole is on its way." {
		t.Fatalf("replies %+v, want one", replies)
	}
	d, err := discussions.NewStore(h.rdb, "").Get(context.Background(), "acme", "acme-decathlon", th.ID)
	if err != nil || d.Status != discussions.StatusSolved || !d.Read {
		t.Errorf("discussion after submit-as-solved: %+v %v", d, err)
	}
}

// hookCall posts body to a helpdesk's webhook route as its integration
// would: with Gorgias's secret header, or signed as Zendesk signs.
func (h *harness) hookCall(helpdesk string, body string) (int, map[string]any) {
	h.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, h.url+"/v1/webhooks/helpdesks/"+helpdesk, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if helpdesk == "acme-zendesk" {
		ts := time.Now().UTC().Format(time.RFC3339)
		req.Header.Set(zapi.HeaderWebhookSignatureTimestamp, ts)
		req.Header.Set(zapi.HeaderWebhookSignature, base64.StdEncoding.EncodeToString(zendesk.Sign(zendeskHook, ts, []byte(body))))
	} else {
		req.Header.Set("X-Helpdesk-Bridge-Secret", hookSecret)
	}
	return h.do(req)
}

// TestDiscussionsWebhookIgnoresWhatIsNoReply: deliveries about a
// customer's message, an internal note (the bridge's own included) or any
// other Zendesk event answer "ignored" and change nothing, not even the
// status they carry: an agent's note on a solved ticket does not reopen
// its discussion.
func TestDiscussionsWebhookIgnoresWhatIsNoReply(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	th, ticket := h.mirrorThread(miraklfake.ThreadSeed{
		EntityType: mapi.EntityOrder, EntityID: "ORDER-8", Topic: "Late parcel", CustomerID: "c-8", CustomerName: buyerName,
		Message: miraklfake.MessageSeed{Body: "Where is my parcel?"},
	})
	store := discussions.NewStore(h.rdb, "")
	status := func() string {
		d, err := store.Get(context.Background(), "acme", "acme-carrefour", th.ID)
		if err != nil {
			t.Fatal(err)
		}
		return d.Status
	}
	h.agentReply(ticket.ID, gorgiasfake.AgentReply{BodyText: "It left our warehouse today, here is the tracking.", Status: "closed"})
	if s := status(); s != discussions.StatusSolved {
		t.Fatalf("status %q after reply-and-close, want solved", s)
	}

	// An agent's internal note that reopens the ticket in Gorgias.
	no := false
	h.agentReply(ticket.ID, gorgiasfake.AgentReply{BodyText: "Check the carrier's claim next week", Public: &no, Status: "open"})
	if s := status(); s != discussions.StatusSolved {
		t.Errorf("status %q after an internal note, want solved still", s)
	}
	// The README's body template, about a customer's message, an internal
	// note and the bridge's own note, each on an open ticket.
	id := strconv.FormatInt(ticket.ID, 10)
	for name, body := range map[string]string{
		"customer":      `{"ticket_id":"` + id + `","message_id":"` + strconv.FormatInt(ticket.Messages[0].ID, 10) + `","from_agent":"False","channel":"api","public":"True","status":"open"}`,
		"internal note": `{"ticket_id":"` + id + `","message_id":"990001","from_agent":"True","channel":"internal-note","public":"False","status":"open"}`,
		"bridge's note": `{"ticket_id":"` + id + `","message_id":"990002","from_agent":"True","channel":"internal-note","public":"","status":"open"}`,
	} {
		code, out := h.hookCall("acme-gorgias", body)
		if code != http.StatusOK || out["status"] != "ignored" {
			t.Errorf("gorgias %s: %d %v, want 200 ignored", name, code, out)
		}
	}
	h.settle()
	if s := status(); s != discussions.StatusSolved {
		t.Errorf("status %q after deliveries that are no reply, want solved still", s)
	}

	// On Zendesk, any event but the trigger's agent_reply.
	code, out := h.hookCall("acme-zendesk", `{"event":"other","ticket_id":"1","status":"open"}`)
	if code != http.StatusOK || out["status"] != "ignored" {
		t.Errorf("zendesk other event: %d %v, want 200 ignored", code, out)
	}
}

// TestBuyerWritingAgainReopensTheTicket: an agent answers and closes the
// ticket; the buyer writes again: the message is appended and the ticket
// opens again, so that it shows in the agents' open views.
func TestBuyerWritingAgainReopensTheTicket(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	th, ticket := h.mirrorThread(miraklfake.ThreadSeed{
		EntityType: mapi.EntityOrder, EntityID: "ORDER-11", Topic: "Damaged box", CustomerID: "c-11", CustomerName: buyerName,
		Message: miraklfake.MessageSeed{Body: "The box arrived damaged."},
	})
	h.agentReply(ticket.ID, gorgiasfake.AgentReply{BodyText: "Sorry, a new one is on its way.", Status: "closed"})
	eventually(t, 20*time.Second, "the reply on Mirakl", func() bool {
		got, _ := h.mkl.Thread(th.ID)
		return len(got.Messages) == 2
	})
	if tk, _ := h.gorg.Ticket(ticket.ID); tk.Status != "closed" {
		t.Fatalf("ticket %s after the agent's send & close", tk.Status)
	}
	if _, err := h.mkl.AddMessage(th.ID, miraklfake.MessageSeed{Body: "It still has not arrived."}); err != nil {
		t.Fatal(err)
	}
	h.syncNow()
	eventually(t, 20*time.Second, "the ticket open again with the buyer's message", func() bool {
		tk, _ := h.gorg.Ticket(ticket.ID)
		return tk.Status == "open" && strings.Contains(fmt.Sprint(h.discussionTickets()["bridge-disc-carrefour-"+miraklShop+"-"+th.ID].Messages), "It still has not arrived.")
	})
}
