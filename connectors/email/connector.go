package email

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/helpdesk-bridge/bridge/connectors"
	"github.com/helpdesk-bridge/bridge/connectors/email/mailparse"
)

// Sender sends a reply mail (the SMTP client is one) and returns the
// Message-ID it gave it. An error that unwraps to connectors.ErrUncertain
// means the mail may have been sent.
type Sender interface {
	Send(ctx context.Context, m Outgoing) (messageID string, err error)
}

// Outgoing is a reply mail.
type Outgoing struct {
	From, To   string
	Subject    string
	InReplyTo  string
	References []string
	// Text is plain text. Customer-facing content: never log it.
	Text  string
	Files []connectors.ReplyFile
}

// Options configure a Connector.
type Options struct {
	Store  *Store
	Sender Sender
	// From is the account's registered sender address: the relay accepts
	// replies only from it.
	From string
	// Limits are what the relay accepts in a reply (Amazon's:
	// mailparse.AmazonReplyLimits); nil checks nothing but the body.
	Limits *mailparse.ReplyLimits
	// MaxFileBytes is the largest file a reply may carry, when Limits
	// does not say.
	MaxFileBytes int64
	// Ingest, when set, reads the mailbox's new mail into the store
	// before a listing's first page: each discussion sync of the account
	// first brings in what arrived.
	Ingest *Ingester
	Now    func() time.Time
}

// Connector serves a mailbox account's threads through the marketplace
// port.
type Connector struct {
	o Options
}

var _ connectors.Marketplace = (*Connector)(nil)

// New returns the connector of one mailbox account.
func New(o Options) *Connector {
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Connector{o: o}
}

// Page sizes of ListThreads.
const (
	defaultPage = 50
	maxPage     = 100
)

// What one listing reads of the mailbox at most: the rest waits for the
// next sync.
const (
	ingestBatch   = 100
	ingestBatches = 10
)

// Capabilities implements connectors.Marketplace: replies go to the
// buyer alone, as plain text, with files within the relay's limits.
func (c *Connector) Capabilities() connectors.MarketplaceCapabilities {
	max := c.o.MaxFileBytes
	if c.o.Limits != nil && c.o.Limits.MaxAttachmentBytes > 0 {
		max = c.o.Limits.MaxAttachmentBytes
	}
	return connectors.MarketplaceCapabilities{
		Attachments: true, MaxFileBytes: max, MinBodyChars: 1,
		Recipients: []connectors.PartyType{connectors.PartyCustomer},
	}
}

// ListThreads implements connectors.Marketplace: the threads updated at or
// after q.UpdatedSince, least recently updated first.
func (c *Connector) ListThreads(ctx context.Context, q connectors.ThreadQuery) (connectors.ThreadPage, error) {
	if q.PageToken == "" && c.o.Ingest != nil {
		for range ingestBatches {
			res, err := c.o.Ingest.Run(ctx, ingestBatch)
			if err != nil {
				return connectors.ThreadPage{}, err
			}
			if !res.More {
				break
			}
		}
	}
	n := q.Limit
	if n <= 0 {
		n = defaultPage
	}
	n = min(n, maxPage)
	ids, next, err := c.o.Store.page(ctx, q.UpdatedSince, q.PageToken, n)
	if err != nil {
		return connectors.ThreadPage{}, err
	}
	page := connectors.ThreadPage{NextPageToken: next}
	for _, id := range ids {
		t, err := c.GetThread(ctx, id)
		if errors.Is(err, connectors.ErrNotFound) {
			continue
		}
		if err != nil {
			return connectors.ThreadPage{}, err
		}
		page.Threads = append(page.Threads, t)
	}
	return page, nil
}

// GetThread implements connectors.Marketplace.
func (c *Connector) GetThread(ctx context.Context, threadID string) (connectors.Thread, error) {
	t, msgs, err := c.o.Store.thread(ctx, threadID)
	if err != nil {
		return connectors.Thread{}, err
	}
	return toThread(t, msgs), nil
}

func toThread(t *threadRecord, msgs []messageRecord) connectors.Thread {
	customer := connectors.Party{Type: connectors.PartyCustomer, ID: t.Alias, Name: t.CustomerName}
	out := connectors.Thread{
		ID: t.ID, Topic: t.Topic, CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt,
		Participants:  []connectors.Party{customer, {Type: connectors.PartyShop}},
		Customer:      &customer,
		CustomerEmail: t.Alias,
		TotalMessages: len(msgs),
	}
	switch {
	case t.OrderID != "":
		out.Entity = connectors.ThreadEntity{Type: connectors.EntityOrder, RawType: "order", ID: t.OrderID, Label: t.OrderID}
	case t.CaseID != "":
		out.Entity = connectors.ThreadEntity{Type: connectors.EntityOther, RawType: "case", ID: t.CaseID, Label: t.CaseID}
	default:
		out.Entity = connectors.ThreadEntity{Type: connectors.EntityOther}
	}
	for _, m := range msgs {
		tm := connectors.ThreadMessage{
			ID: m.ID, Body: m.Body, CreatedAt: m.CreatedAt, Attachments: m.Attachments,
			From: connectors.Party{Type: m.From.Type, ID: m.From.ID, Name: m.From.Name},
		}
		if m.From.Type == connectors.PartyShop {
			tm.To = []connectors.Party{customer}
		} else {
			tm.To = []connectors.Party{{Type: connectors.PartyShop}}
		}
		out.Messages = append(out.Messages, tm)
	}
	return out
}

// Reply implements connectors.Marketplace: a plain-text mail from the
// registered address to the buyer's alias, In-Reply-To the buyer's latest
// mail. A reply the relay would refuse (its limits) is refused before it
// is sent, with the reasons in words an agent reads; the caller turns it
// into a note.
//
// A mail whose sending may have reached the relay (ErrUncertain) is
// recorded in the thread all the same: SMTP has no way to ask whether it
// arrived, and a caller retrying finds it there and does not send it
// twice. At most once, rather than perhaps twice.
func (c *Connector) Reply(ctx context.Context, threadID string, r connectors.Reply) (connectors.SentReply, error) {
	t, err := c.o.Store.readThread(ctx, c.o.Store.rdb, threadID)
	if err != nil {
		return connectors.SentReply{}, err
	}
	if t.ReplyTo == "" {
		return connectors.SentReply{}, fmt.Errorf("%w: thread %s has no buyer address to answer", connectors.ErrInvalid, threadID)
	}
	if strings.TrimSpace(r.Body) == "" {
		return connectors.SentReply{}, fmt.Errorf("%w: the reply is empty", connectors.ErrInvalid)
	}
	// The relay has one party besides the shop: the buyer.
	if len(r.To) == 0 || slices.ContainsFunc(r.To, func(p connectors.PartyType) bool { return p != connectors.PartyCustomer }) {
		return connectors.SentReply{}, fmt.Errorf("%w: a reply by e-mail goes to the buyer alone, not to %v", connectors.ErrInvalid, r.To)
	}
	if c.o.Limits != nil {
		atts := make([]mailparse.OutgoingAttachment, len(r.Files))
		for i, f := range r.Files {
			atts[i] = mailparse.OutgoingAttachment{Filename: f.Name, ContentType: f.ContentType, Size: int64(len(f.Content))}
		}
		if check := c.o.Limits.Check(r.Body, atts); !check.OK() {
			var why []string
			for _, ref := range append(check.Text, check.Attachments...) {
				why = append(why, ref.English)
			}
			return connectors.SentReply{}, fmt.Errorf("%w: the marketplace's relay would refuse this reply: %s", connectors.ErrInvalid, strings.Join(why, "; "))
		}
	}
	out := Outgoing{
		From: c.o.From, To: t.ReplyTo, Subject: "Re: " + t.Topic, InReplyTo: t.LastInbound, References: t.References,
		Text: r.Body, Files: r.Files,
	}
	mid, sendErr := c.o.Sender.Send(ctx, out)
	if sendErr != nil && !errors.Is(sendErr, connectors.ErrUncertain) {
		return connectors.SentReply{}, sendErr
	}
	at := c.o.Now().UTC()
	key := mid
	if key == "" {
		key = fmt.Sprintf("reply\x00%s\x00%d", threadID, at.UnixNano())
	}
	rec := messageRecord{
		ID: "r" + digest(key)[:24], MessageID: mid, Body: r.Body, CreatedAt: at,
		From: partyRecord{Type: connectors.PartyShop}, Uncertain: sendErr != nil,
	}
	// The files are kept like a buyer's, so that the thread's copy of the
	// reply can be downloaded as the marketplace port promises.
	var files []file
	for i, f := range r.Files {
		id := fmt.Sprintf("%s-%d", rec.ID, i+1)
		rec.Attachments = append(rec.Attachments, connectors.AttachmentMeta{ID: id, Name: f.Name, Size: int64(len(f.Content))})
		files = append(files, file{ID: id, Name: f.Name, ContentType: f.ContentType, Data: f.Content})
	}
	err = c.o.Store.add(ctx, addition{TID: threadID, Message: rec, Files: files, Update: func(t *threadRecord) {
		t.UpdatedAt = latest(t.UpdatedAt, at)
		if mid != "" {
			t.References = appendRef(t.References, mid)
		}
	}})
	if err != nil {
		return connectors.SentReply{}, fmt.Errorf("email: the reply was sent but not recorded: %w", err)
	}
	if sendErr != nil {
		return connectors.SentReply{}, sendErr
	}
	return connectors.SentReply{ThreadID: threadID, MessageID: rec.ID}, nil
}

// DownloadAttachment implements connectors.Marketplace.
func (c *Connector) DownloadAttachment(ctx context.Context, attachmentID string) (io.ReadCloser, connectors.AttachmentMeta, error) {
	f, err := c.o.Store.download(ctx, attachmentID)
	if err != nil {
		return nil, connectors.AttachmentMeta{}, err
	}
	return io.NopCloser(bytes.NewReader(f.Data)), connectors.AttachmentMeta{ID: f.ID, Name: f.Name, Size: int64(len(f.Data))}, nil
}

// Unmatched lists the account's latest mail that became no discussion
// (newsletters, notifications, unreadable or oversized mail), newest
// first, for an admin.
func (c *Connector) Unmatched(ctx context.Context, n int) ([]UnmatchedMail, error) {
	return c.o.Store.Unmatched(ctx, n)
}

// UnmatchedCount counts the account's mail that became no discussion,
// all of it since the account began.
func (c *Connector) UnmatchedCount(ctx context.Context) (int64, error) {
	return c.o.Store.UnmatchedCount(ctx)
}
