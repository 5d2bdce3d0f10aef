package mailparse

import (
	"bufio"
	"bytes"
	"io"
	"strings"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"
)

// readReport reads the machine-readable parts of a multipart/report
// (RFC 3464): the delivery-status fields and the returned headers. It
// returns nil when the report holds no delivery status.
func (w *walker) readReport(parts []Attachment) *DeliveryReport {
	var rep *DeliveryReport
	for _, a := range parts {
		switch a.ContentType {
		case "message/delivery-status", "message/global-delivery-status":
			if rep == nil {
				rep = &DeliveryReport{}
			}
			readStatusFields(a.Data, rep)
		}
	}
	if rep == nil {
		return nil
	}
	for _, a := range parts {
		switch a.ContentType {
		case "message/rfc822", "text/rfc822-headers", "message/global", "message/global-headers":
			if o := w.originalHeaders(a.Data); o != nil {
				rep.Original = o
				return rep
			}
		}
	}
	return rep
}

// readStatusFields reads the blocks of a delivery-status body: one
// per-message block, then one block per recipient.
func readStatusFields(data []byte, rep *DeliveryReport) {
	br := bufio.NewReader(bytes.NewReader(data))
	for block := 0; block < 50; block++ {
		// Blank lines between blocks.
		for {
			b, err := br.Peek(1)
			if err != nil {
				return
			}
			if b[0] != '\r' && b[0] != '\n' {
				break
			}
			_, _ = br.ReadByte()
		}
		h, err := textproto.ReadHeader(br)
		if err != nil && h.Len() == 0 {
			return
		}
		if v := h.Get("Final-Recipient"); v != "" {
			rep.FinalRecipients = append(rep.FinalRecipients, typedAddress(v))
		}
		if rep.Action == "" && h.Get("Action") != "" {
			rep.Action = strings.ToLower(strings.TrimSpace(h.Get("Action")))
		}
		if rep.Status == "" && h.Get("Status") != "" {
			rep.Status = strings.TrimSpace(h.Get("Status"))
		}
		if err != nil {
			return
		}
	}
}

// typedAddress reads "rfc822; someone@example.com".
func typedAddress(v string) string {
	if i := strings.IndexByte(v, ';'); i >= 0 {
		v = v[i+1:]
	}
	return trimID(strings.TrimSpace(v))
}

// originalHeaders reads the header block of a returned message.
func (w *walker) originalHeaders(data []byte) *OriginalHeaders {
	if n := headerLen(data); int64(n) > w.opts.MaxHeaderBytes {
		return nil
	}
	th, err := textproto.ReadHeader(bufio.NewReader(io.LimitReader(bytes.NewReader(data), w.opts.MaxHeaderBytes+2)))
	if err != nil && th.Len() == 0 {
		return nil
	}
	// A sub-walker so that defects of the returned headers are not
	// reported as the notice's own.
	sub := &walker{opts: w.opts, msg: &Message{}}
	sub.readHeaders(mail.Header{Header: message.Header{Header: th}})
	m := sub.msg
	return &OriginalHeaders{
		MessageID:  m.MessageID,
		InReplyTo:  m.InReplyTo,
		References: m.References,
		From:       m.From,
		To:         m.To,
		Subject:    m.Subject,
	}
}
