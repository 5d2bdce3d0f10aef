package main

import (
	"bytes"
	"strings"
	"testing"

	gapi "github.com/helpdesk-bridge/bridge/connectors/gorgias/api"
	mapi "github.com/helpdesk-bridge/bridge/connectors/mirakl/api"
	"github.com/helpdesk-bridge/bridge/connectors/mirakl/miraklfake"
)

// fileNames are the names of a ticket message's attachments.
func fileNames(m gapi.Message) []string {
	var out []string
	for _, a := range m.Attachments {
		out = append(out, a.Name)
	}
	return out
}

// seedFileThread mirrors a thread whose first message carries files, then
// a second message carrying more, and returns the ticket's messages.
func (h *harness) seedFileThread(first, second []miraklfake.FileSeed) []gapi.Message {
	h.t.Helper()
	th, _ := h.mirrorThread(miraklfake.ThreadSeed{
		EntityType: mapi.EntityOrder, EntityID: "ORD-FILES", Topic: "Broken mug", CustomerID: "c-files", CustomerName: buyerName,
		Message: miraklfake.MessageSeed{Body: "My mug arrived broken.", Attachments: first},
	})
	if _, err := h.mkl.AddMessage(th.ID, miraklfake.MessageSeed{Body: "Any news?", Attachments: second}); err != nil {
		h.t.Fatal(err)
	}
	h.syncNow()
	tk := h.discussionTickets()["bridge-disc-carrefour-"+miraklShop+"-"+th.ID]
	if len(tk.Messages) != 2 {
		h.t.Fatalf("ticket has %d messages, want the thread's 2 once each", len(tk.Messages))
	}
	return tk.Messages
}

func checkLeftOut(t *testing.T, m gapi.Message, kept string, says ...string) {
	t.Helper()
	if names := fileNames(m); len(names) != 1 || names[0] != kept {
		t.Errorf("files %v, want only %s", names, kept)
	}
	for _, s := range append(says, "Open it in the carrefour back office.") {
		if !strings.Contains(m.BodyText, s) {
			t.Errorf("message %q does not say %q", m.BodyText, s)
		}
	}
}

// An empty file, which helpdesks refuse, is left out: the thread, the
// message's other file and the later messages are mirrored, and the agent
// reads which file to open in the back office.
func TestMirroredEmptyFileIsLeftOut(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	msgs := h.seedFileThread(
		[]miraklfake.FileSeed{{Name: "empty.txt"}, {Name: "photo.jpg", ContentType: "image/jpeg", Content: []byte("a photo of a broken mug")}},
		[]miraklfake.FileSeed{{Name: "receipt.txt", Content: []byte("paid")}},
	)
	checkLeftOut(t, msgs[0], "photo.jpg", "File not copied into this ticket: empty.txt (0 bytes)", "it is empty.")
	if names := fileNames(msgs[1]); len(names) != 1 || names[0] != "receipt.txt" {
		t.Errorf("second message's files %v", names)
	}
	// Labelled with what its content shows, not the marketplace's
	// application/octet-stream: the helpdesk can show it inline.
	if ct := msgs[1].Attachments[0].ContentType; ct != "text/plain; charset=utf-8" {
		t.Errorf("a text file was uploaded as %q", ct)
	}
}

// A file over the helpdesk's limit is left out before any upload, from
// the size the marketplace states.
func TestMirroredFileOverTheLimitIsLeftOut(t *testing.T) {
	h := newHarness(t, harnessOptions{before: func(h *harness) { h.maxCopiedFile = 1024 }})
	msgs := h.seedFileThread(
		[]miraklfake.FileSeed{{Name: "video.mp4", Content: bytes.Repeat([]byte("v"), 2048)}, {Name: "photo.jpg", Content: []byte("a photo")}},
		[]miraklfake.FileSeed{{Name: "scan.pdf", Content: bytes.Repeat([]byte("s"), 1536)}, {Name: "note.txt", Content: []byte("note")}},
	)
	checkLeftOut(t, msgs[0], "photo.jpg", "video.mp4 (2 KiB)", "it is larger than this helpdesk takes (1 KiB).")
	checkLeftOut(t, msgs[1], "note.txt", "scan.pdf (1.5 KiB)")
	if n := h.gorg.Requests()["POST /api/upload"]; n != 2 {
		t.Errorf("%d uploads, want only the 2 kept files", n)
	}
}

// A helpdesk that answers 413 to an upload has the file left out, not the
// message: the ticket is opened, and an appended message lands once.
func TestMirroredFileRefusedAsTooLargeIsLeftOut(t *testing.T) {
	h := newHarness(t, harnessOptions{gorgiasMaxUpload: 1024})
	msgs := h.seedFileThread(
		[]miraklfake.FileSeed{{Name: "video.mp4", Content: bytes.Repeat([]byte("v"), 2048)}, {Name: "photo.jpg", Content: []byte("a photo")}},
		[]miraklfake.FileSeed{{Name: "scan.pdf", Content: bytes.Repeat([]byte("s"), 2048)}, {Name: "note.txt", Content: []byte("note")}},
	)
	checkLeftOut(t, msgs[0], "photo.jpg", "video.mp4 (2 KiB)", "the helpdesk refused it as too large.")
	checkLeftOut(t, msgs[1], "note.txt", "scan.pdf (2 KiB)", "the helpdesk refused it as too large.")
}
