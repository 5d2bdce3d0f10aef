package email

import (
	"context"
	"net/mail"

	"github.com/helpdesk-bridge/bridge/connectors/email/smtpout"
)

// SMTP sends the connector's replies through an SMTP submission server;
// the sender address is smtpout's, the registered one.
type SMTP struct{ S *smtpout.Sender }

// Send implements Sender. The Message-ID is returned with an uncertain
// failure too: the mail may be on its way under it.
func (s SMTP) Send(ctx context.Context, m Outgoing) (string, error) {
	r := smtpout.Reply{To: []mail.Address{{Address: m.To}}, Subject: m.Subject, Text: m.Text, InReplyTo: m.InReplyTo}
	for _, ref := range m.References {
		if ref != m.InReplyTo { // smtpout puts the answered mail last itself
			r.References = append(r.References, ref)
		}
	}
	for _, f := range m.Files {
		r.Attachments = append(r.Attachments, smtpout.Attachment{Filename: f.Name, ContentType: f.ContentType, Data: f.Content})
	}
	sent, err := s.S.Send(ctx, r)
	return sent.MessageID, err
}
