package mailparse

import (
	"reflect"
	"strings"
	"testing"
)

func TestCheckAmazonReply(t *testing.T) {
	codes := func(rs []Refusal) []string {
		var out []string
		for _, r := range rs {
			out = append(out, r.Code)
			if r.English == "" || r.French == "" {
				t.Errorf("refusal %s lacks a text: %+v", r.Code, r)
			}
		}
		return out
	}
	for _, tc := range []struct {
		name     string
		text     string
		atts     []OutgoingAttachment
		text0    []string
		refused  []string
		send     []int
		refusedN []string // names of refused attachments
	}{
		{name: "plain ok", text: "Hello, your parcel left today. Track it on https://www.amazon.fr/gp/your-orders.", atts: []OutgoingAttachment{{Filename: "invoice.PDF", ContentType: "application/pdf", Size: 1000}}, send: []int{0}},
		{name: "empty", text: "  \n", text0: []string{"empty"}},
		{name: "html", text: "<p>Hello</p>", text0: []string{"html"}},
		{name: "outside link", text: "Track it at https://tracking.example.com/123", text0: []string{"link"}},
		{name: "www link", text: "See www.example.com", text0: []string{"link"}},
		{name: "lookalike link", text: "See https://amazon.fr.evil.example/x", text0: []string{"link"}},
		{name: "e-mail address", text: "Write to me at jeanne@example.fr", text0: []string{"email_address"}},
		{
			name: "attachments by type and size",
			text: "Files attached.",
			atts: []OutgoingAttachment{
				{Filename: "photo.jpg", ContentType: "image/jpeg", Size: 6_000_000},
				{Filename: "setup.exe", ContentType: "application/octet-stream", Size: 10},
				{Filename: "big.pdf", ContentType: "application/pdf", Size: 5_000_000},
				{Filename: "fake.pdf", ContentType: "application/x-msdownload", Size: 10},
				{Filename: "note.txt", ContentType: "text/plain; charset=utf-8", Size: 3_000_000},
			},
			refused:  []string{"attachment_type", "attachment_size", "attachment_type"},
			refusedN: []string{"setup.exe", "big.pdf", "fake.pdf"},
			send:     []int{0, 4},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := CheckAmazonReply(tc.text, tc.atts)
			if got := codes(c.Text); !reflect.DeepEqual(got, tc.text0) {
				t.Errorf("text refusals = %v, want %v", got, tc.text0)
			}
			if got := codes(c.Attachments); !reflect.DeepEqual(got, tc.refused) {
				t.Errorf("attachment refusals = %v, want %v", got, tc.refused)
			}
			var names []string
			for _, r := range c.Attachments {
				names = append(names, r.Attachment)
				if !strings.Contains(r.English, r.Attachment) || !strings.Contains(r.French, r.Attachment) {
					t.Errorf("refusal does not name %s: %+v", r.Attachment, r)
				}
			}
			if !reflect.DeepEqual(names, tc.refusedN) {
				t.Errorf("refused = %v, want %v", names, tc.refusedN)
			}
			if !reflect.DeepEqual(c.Send, tc.send) {
				t.Errorf("send = %v, want %v", c.Send, tc.send)
			}
			if c.OK() != (len(tc.text0) == 0 && len(tc.refused) == 0) {
				t.Errorf("OK() = %v", c.OK())
			}
		})
	}
	for _, k := range []string{"attachment_size", "attachment_type", "html", "link", "email_address"} {
		if AmazonReplyLimits.Sources[k] == "" {
			t.Errorf("no source for %s", k)
		}
	}
}
