package relayfake

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"strings"
	"time"

	"github.com/emersion/go-imap/client"
	_ "github.com/emersion/go-message/charset" // decode the charsets sellers' clients use
	"github.com/emersion/go-message/mail"
)

// parsed is what the relay looks at in a message.
type parsed struct {
	messageID, inReplyTo, references, subject string
	text                                      string
	html                                      bool
	attachments                               []Attachment
}

func parse(raw []byte) (parsed, error) {
	var p parsed
	mr, err := mail.CreateReader(bytes.NewReader(raw))
	if err != nil && mr == nil {
		return p, fmt.Errorf("unreadable message: %w", err)
	}
	defer mr.Close()
	p.subject, _ = mr.Header.Subject()
	p.messageID, _ = mr.Header.MessageID()
	if ids, _ := mr.Header.MsgIDList("In-Reply-To"); len(ids) > 0 {
		p.inReplyTo = ids[0]
	}
	p.references = mr.Header.Get("References")
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return p, nil
		}
		if err != nil && part == nil {
			return p, fmt.Errorf("unreadable part: %w", err)
		}
		// Count what was decoded; a part that ends early still counts.
		body, _ := io.ReadAll(io.LimitReader(part.Body, 64<<20))
		switch h := part.Header.(type) {
		case *mail.InlineHeader:
			ct, _, _ := h.ContentType()
			switch {
			case ct == "text/html":
				p.html = true
			case ct == "text/plain" || ct == "":
				p.text += string(body)
			default:
				// An inline image or file is an attachment to the relay.
				p.attachments = append(p.attachments, Attachment{ContentType: ct, Size: int64(len(body))})
			}
		case *mail.AttachmentHeader:
			ct, _, _ := h.ContentType()
			name, _ := h.Filename()
			p.attachments = append(p.attachments, Attachment{Filename: name, ContentType: ct, Size: int64(len(body))})
		}
	}
}

// noticeSender is the notices' From. The reference shows
// donotreply@amazon.com on Amazon's copies of replies; that it also sends
// the delivery failures: UNVERIFIED.
const noticeSender = "donotreply@amazon.com"

// notice builds a delivery-failure mail to the seller. Its form is
// UNVERIFIED except the opening sentence (a fingerprint a public
// classifier relies on, secondary): parsers must key on that sentence and
// on In-Reply-To, which names the refused message. X-Relayfake-Reason is
// the fake's own and tells tests why: no parser may rely on it.
func (s *Server) notice(from string, to []string, p parsed, reason Reason, detail string) []byte {
	var idb [12]byte
	_, _ = rand.Read(idb[:])
	var b bytes.Buffer
	hdr := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	hdr("From", `"Amazon Marketplace" <`+noticeSender+">")
	hdr("To", "<"+from+">")
	subject := "Delivery failure"
	if p.subject != "" {
		subject += ": " + p.subject
	}
	hdr("Subject", mime.QEncoding.Encode("utf-8", subject))
	hdr("Date", s.cfg.Now().Format(time.RFC1123Z))
	hdr("Message-ID", "<"+hex.EncodeToString(idb[:])+"@relayfake.amazon.test>")
	if p.messageID != "" {
		hdr("In-Reply-To", "<"+p.messageID+">")
		hdr("References", "<"+p.messageID+">")
	}
	hdr("MIME-Version", "1.0")
	hdr("Content-Type", `text/plain; charset="utf-8"`)
	hdr("Content-Transfer-Encoding", "8bit")
	hdr("X-Relayfake-Reason", string(reason))
	b.WriteString("\r\n")
	fmt.Fprintf(&b, "We were unable to deliver the message you sent to %s.\r\n\r\n", strings.Join(to, ", "))
	fmt.Fprintf(&b, "Reason: %s.\r\n\r\n", detail)
	if p.messageID != "" {
		fmt.Fprintf(&b, "Message-ID of your message: <%s>\r\n", p.messageID)
	}
	if p.subject != "" {
		fmt.Fprintf(&b, "Subject of your message: %s\r\n", strings.Map(func(r rune) rune {
			if r == '\r' || r == '\n' {
				return ' '
			}
			return r
		}, p.subject))
	}
	b.WriteString("\r\nPlease correct the message and send it again.\r\n")
	return b.Bytes()
}

// deliverNotice appends the notice to the seller's mailbox, retrying for a
// while: the mail server may be restarting.
func (s *Server) deliverNotice(notice []byte) error {
	t := s.cfg.Bounces
	mailbox := t.Mailbox
	if mailbox == "" {
		mailbox = "INBOX"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var err error
	for pause := 100 * time.Millisecond; ; pause = min(2*pause, 2*time.Second) {
		if err = appendOnce(t, mailbox, notice); err == nil {
			return nil
		}
		select {
		case <-time.After(pause):
		case <-ctx.Done():
			return err
		}
	}
}

func appendOnce(t *IMAPTarget, mailbox string, notice []byte) error {
	c, err := client.DialTLS(t.Addr, t.TLSConfig)
	if err != nil {
		return err
	}
	defer c.Logout()
	c.Timeout = 30 * time.Second
	if err := c.Login(t.Username, t.Password); err != nil {
		return err
	}
	return c.Append(mailbox, nil, time.Now(), bytes.NewReader(notice))
}
