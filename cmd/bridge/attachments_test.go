package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/helpdesk-bridge/bridge/connectors/gorgias/gorgiasfake"
	mapi "github.com/helpdesk-bridge/bridge/connectors/mirakl/api"
	"github.com/helpdesk-bridge/bridge/connectors/mirakl/miraklfake"
)

// mirroredTicket seeds a thread in the fake Mirakl and returns its ticket
// id in the fake Gorgias, once mirrored.
func (h *harness) mirroredTicket(order string) (thread string, ticket int64) {
	h.t.Helper()
	th, tk := h.mirrorThread(miraklfake.ThreadSeed{
		EntityType: mapi.EntityOrder, EntityID: order, Topic: "Broken mug", CustomerID: "c-" + order, CustomerName: buyerName,
		Message: miraklfake.MessageSeed{Body: "My mug arrived broken."},
	})
	return th.ID, tk.ID
}

// lastNote is the ticket's last message, which must be an internal note.
func (h *harness) lastNote(ticket int64) string {
	h.t.Helper()
	full, _ := h.gorg.Ticket(ticket)
	last := full.Messages[len(full.Messages)-1]
	if last.Public == nil || *last.Public {
		h.t.Fatalf("the ticket's last message is not an internal note: %+v", last)
	}
	return last.BodyText
}

// An agent's attachment whose URL is on a host other than the helpdesk
// account's (another local server, a private address, the cloud metadata
// service, any other host) is never fetched: the reply is not sent, and
// the agent gets an internal note saying why.
func TestRepliesRefuseAttachmentsOffTheHelpdesk(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	var hits atomic.Int64
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		_, _ = w.Write([]byte("internal secrets"))
	}))
	t.Cleanup(other.Close)
	thread, ticket := h.mirroredTicket("ORDER-SSRF")
	for _, c := range []struct{ url, host string }{
		{other.URL + "/admin/export?token=s3cr3t", "127.0.0.1"},
		{"http://10.0.0.5/report.pdf", "10.0.0.5"},
		{"http://169.254.169.254/latest/meta-data/iam/security-credentials/", "169.254.169.254"},
		{"https://files.example.net/report.pdf", "files.example.net"},
	} {
		h.agentReply(ticket, gorgiasfake.AgentReply{
			BodyText: "Here is the report you asked for.",
			Files:    []gorgiasfake.AgentFile{{Name: "report.pdf", URL: c.url}},
		})
		if n := len(h.repliesTo(thread)); n != 0 {
			t.Fatalf("%s: a reply went to the marketplace with it", c.url)
		}
		note := h.lastNote(ticket)
		if !strings.Contains(strings.ToLower(note), "this reply was not sent") || !strings.Contains(note, "report.pdf") || !strings.Contains(note, c.host) {
			t.Errorf("%s: the note does not say why: %q", c.url, note)
		}
		if strings.Contains(note, "s3cr3t") {
			t.Errorf("%s: the note shows the URL's token: %q", c.url, note)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the other local server was called %d times", n)
	}
}

// With private addresses refused, as in production, a file host that
// resolves to one is refused as the bridge dials it: the reply gets a
// note, and a link to such a file answers 502.
func TestRepliesRefusePrivateAddressesWhenDialing(t *testing.T) {
	h := newHarness(t, harnessOptions{privateFilesRefused: true})
	thread, ticket := h.mirroredTicket("ORDER-DIAL")
	// The fake Gorgias serves its files on the account's own host, which
	// is on loopback here.
	h.agentReply(ticket, gorgiasfake.AgentReply{
		BodyText: "Here is the form.",
		Files:    []gorgiasfake.AgentFile{{Name: "form.txt", ContentType: "text/plain", Data: []byte("refund form")}},
	})
	if n := len(h.repliesTo(thread)); n != 0 {
		t.Fatalf("a reply went to the marketplace with a file from a loopback address")
	}
	if note := h.lastNote(ticket); !strings.Contains(note, "form.txt") || !strings.Contains(note, "loopback") {
		t.Errorf("the note does not say why: %q", note)
	}

	// A file too large to go as one goes as a link, which is fetched only
	// when opened: then the dial is refused, and the link answers 502.
	h.agentReply(ticket, gorgiasfake.AgentReply{
		BodyText: "Here is the label.",
		Files:    []gorgiasfake.AgentFile{{Name: "label.pdf", ContentType: "application/pdf", Data: bytes.Repeat([]byte("label "), 400)}},
	})
	replies := h.repliesTo(thread)
	if len(replies) != 1 {
		t.Fatalf("%d replies, want the one with a link", len(replies))
	}
	link := regexp.MustCompile(`label\.pdf: (http://\S+/v1/files/\S+)`).FindStringSubmatch(replies[0].Body)
	if link == nil {
		t.Fatalf("no link in %q", replies[0].Body)
	}
	if strings.Contains(link[1], "attachments") || strings.Count(link[1][strings.Index(link[1], "/v1/files/")+len("/v1/files/"):], ".") > 0 {
		t.Errorf("the link is not an opaque token: %s", link[1])
	}
	code, body := h.do(mustRequest(t, http.MethodGet, link[1]))
	if e, _ := body["error"].(map[string]any); code != http.StatusBadGateway || e["code"] != "file_unavailable" {
		t.Errorf("a link to a refused file: %d %v, want 502 file_unavailable", code, body)
	}
}
