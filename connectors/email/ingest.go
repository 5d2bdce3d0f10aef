package email

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/helpdesk-bridge/bridge/connectors"
	"github.com/helpdesk-bridge/bridge/connectors/email/imapbox"
	"github.com/helpdesk-bridge/bridge/connectors/email/mailparse"
)

// Mailbox is where the marketplace's mail arrives, read in UID order;
// the IMAP reader (imapbox.Box) is one. Fetch returns mail after the
// cursor, at most max, and the cursor after them; a cursor of another
// UIDVALIDITY epoch starts again from the mailbox's first mail, which the
// store's dedupe makes harmless.
type Mailbox interface {
	Fetch(ctx context.Context, after imapbox.Cursor, max int) ([]imapbox.RawMessage, imapbox.Cursor, error)
}

// Ingester turns a mailbox's new mail into stored threads.
type Ingester struct {
	store   *Store
	box     Mailbox
	profile *mailparse.Profile
	parse   mailparse.Options
	// authserv, when set, is the authserv-id of the mailbox's receiving
	// server, whose Authentication-Results must vouch for a buyer's mail.
	authserv string
}

// RequireAuthentication makes buyers' mail (and the relay's copies of
// replies) count only when the mailbox's receiving server, authserv-id
// authservID, vouched for its sender (mailparse.Authenticated): anyone
// can write From a relay address. Mail it did not vouch for is unmatched,
// with the reason. Call it before the first Run.
func (in *Ingester) RequireAuthentication(authservID string) {
	in.authserv = authservID
}

// NewIngester reads box into store with profile's rules.
func NewIngester(store *Store, box Mailbox, profile *mailparse.Profile, parse mailparse.Options) *Ingester {
	return &Ingester{store: store, box: box, profile: profile, parse: parse}
}

// IngestResult counts what one run did.
type IngestResult struct {
	Fetched, Stored, Seen, Unmatched int
	// More is true when the mailbox may hold more mail after this batch.
	More bool
}

// Run stores the mail after the cursor, at most max, and only then moves
// the cursor: a run cut short (a crash, a dropped connection) fetches
// the same mail again, which is not stored twice.
func (in *Ingester) Run(ctx context.Context, max int) (IngestResult, error) {
	var res IngestResult
	cur, err := in.store.cursor(ctx)
	if err != nil {
		return res, err
	}
	mails, next, err := in.box.Fetch(ctx, cur, max)
	if err != nil {
		return res, err
	}
	res.Fetched, res.More = len(mails), len(mails) == max
	for _, m := range mails {
		if m.TooLarge {
			seen := digest(fmt.Sprintf("large\x00%d\x00%d", m.UIDValidity, m.UID))
			if err := in.store.markSeen(ctx, seen, UnmatchedMail{At: m.InternalDate.UTC(), Reason: fmt.Sprintf("too large to read: %d bytes", m.Size)}); err != nil {
				return res, err
			}
			res.Unmatched++
			continue
		}
		switch err := in.one(ctx, m); {
		case errors.Is(err, errSeen):
			res.Seen++
		case errors.Is(err, errUnmatched):
			res.Unmatched++
		case err != nil:
			return res, err
		default:
			res.Stored++
		}
	}
	if err := in.store.setCursor(ctx, next); err != nil {
		return res, err
	}
	return res, nil
}

var errUnmatched = errors.New("email: mail matches no rule")

// one stores one mail as what its profile says it is.
func (in *Ingester) one(ctx context.Context, m imapbox.RawMessage) error {
	msg, perr := mailparse.ParseBytes(m.Raw, in.parse)
	seen := seenKey(msg, m.Raw)
	if perr != nil {
		return in.unmatched(ctx, seen, msg, "unreadable: "+perr.Error())
	}
	c := mailparse.Classify(in.profile, msg)
	if in.authserv != "" && (c.Kind == mailparse.KindBuyerMessage || c.Kind == mailparse.KindNoResponseNeeded) {
		if ok, why := mailparse.Authenticated(msg, in.authserv); !ok {
			return in.unmatched(ctx, seen, msg, why)
		}
	}
	at := msg.Date
	if at.IsZero() || at.After(m.InternalDate.Add(time.Hour)) {
		at = m.InternalDate // no date, or one from the future
	}
	at = at.UTC()
	switch c.Kind {
	case mailparse.KindBuyerMessage:
		return in.buyerMessage(ctx, seen, msg, c, at)
	case mailparse.KindDeliveryFailure:
		return in.deliveryFailure(ctx, seen, msg, c, at)
	case mailparse.KindNoResponseNeeded:
		return in.copyOfReply(ctx, seen, msg, c, at)
	}
	return in.unmatched(ctx, seen, msg, c.Reason)
}

// stored is a thread's update time when a mail is stored in it: the
// moment it is stored, not the mail's Date, so that a listing "updated
// since" the last sync finds mail that arrived late or with a sender's
// clock behind.
func (in *Ingester) stored() time.Time { return in.store.now().UTC() }

// seenKey names a mail for dedupe: its Message-ID, or its content when
// it has none.
func seenKey(msg *mailparse.Message, raw []byte) string {
	if msg != nil && msg.MessageID != "" {
		return digest("mid\x00" + msg.MessageID)
	}
	return digest("raw\x00" + string(raw))
}

// threadID names the thread of a thread key.
func threadID(key string) string { return "t" + digest(key)[:24] }

func (in *Ingester) buyerMessage(ctx context.Context, seen string, msg *mailparse.Message, c mailparse.Classification, at time.Time) error {
	name := ""
	if len(msg.From) > 0 {
		name = msg.From[0].Name
	}
	rec := messageRecord{
		ID: "m" + seen[:24], MessageID: msg.MessageID, Body: withNoResponseLink(body(msg), c.NoResponseURL), CreatedAt: at,
		From: partyRecord{Type: connectors.PartyCustomer, ID: c.BuyerAlias, Name: name},
	}
	files := attachmentsOf(rec.ID, msg)
	for _, f := range files {
		rec.Attachments = append(rec.Attachments, connectors.AttachmentMeta{ID: f.ID, Name: f.Name, Size: int64(len(f.Data))})
	}
	tid := threadID(c.ThreadKey)
	return in.store.add(ctx, addition{
		Seen: seen, TID: tid, OrderID: c.OrderID, Message: rec, Files: files,
		Create: func() threadRecord {
			return threadRecord{
				ID: tid, Key: c.ThreadKey, Topic: topic(msg.Subject), OrderID: c.OrderID, CaseID: c.CaseID,
				Marketplace: c.Marketplace, Alias: c.BuyerAlias, CreatedAt: at, UpdatedAt: in.stored(),
			}
		},
		Update: func(t *threadRecord) {
			t.ReplyTo = c.ReplyTo
			if name != "" {
				t.CustomerName = name
			}
			t.UpdatedAt = latest(t.UpdatedAt, in.stored())
			if msg.MessageID != "" {
				t.LastInbound = msg.MessageID
				t.References = appendRef(t.References, msg.MessageID)
			}
		},
	})
}

// deliveryFailure is an internal note on the thread whose reply did not
// reach the buyer; never a new discussion.
func (in *Ingester) deliveryFailure(ctx context.Context, seen string, msg *mailparse.Message, c mailparse.Classification, at time.Time) error {
	tid := ""
	if c.ThreadKey != "" {
		tid = threadID(c.ThreadKey)
	}
	if c.Refers != nil && (tid == "" || c.Refers.MessageID != "") {
		found, err := in.store.threadOf(ctx, c.Refers.MessageID, c.OrderID)
		if err != nil {
			return err
		}
		if found != "" {
			tid = found
		}
	}
	if tid == "" {
		return in.unmatched(ctx, seen, msg, "a delivery failure about no known discussion")
	}
	rec := messageRecord{
		ID: "m" + seen[:24], MessageID: msg.MessageID, CreatedAt: at,
		From: partyRecord{Type: connectors.PartyOperator, Name: in.profile.Spec.Marketplace + " (delivery failure)"},
		Body: "The marketplace could not deliver a reply to the buyer.\n\n" + body(msg),
	}
	err := in.store.add(ctx, addition{Seen: seen, TID: tid, Message: rec, Update: func(t *threadRecord) { t.UpdatedAt = latest(t.UpdatedAt, in.stored()) }})
	if errors.Is(err, connectors.ErrNotFound) {
		return in.unmatched(ctx, seen, msg, "a delivery failure about no known discussion")
	}
	return err
}

// copyOfReply is the marketplace's copy of a reply the shop sent from its
// back office: a shop message on its thread, which asks for no answer.
func (in *Ingester) copyOfReply(ctx context.Context, seen string, msg *mailparse.Message, c mailparse.Classification, at time.Time) error {
	tid := ""
	if c.ThreadKey != "" {
		tid = threadID(c.ThreadKey)
	} else if c.OrderID != "" {
		found, err := in.store.threadOf(ctx, "", c.OrderID)
		if err != nil {
			return err
		}
		tid = found
	}
	if tid == "" {
		return in.unmatched(ctx, seen, msg, "a copy of a reply about no known discussion")
	}
	rec := messageRecord{
		ID: "m" + seen[:24], MessageID: msg.MessageID, Body: body(msg), CreatedAt: at,
		From: partyRecord{Type: connectors.PartyShop, Name: "Seller Central"},
	}
	err := in.store.add(ctx, addition{Seen: seen, TID: tid, Message: rec, Update: func(t *threadRecord) { t.UpdatedAt = latest(t.UpdatedAt, in.stored()) }})
	if errors.Is(err, connectors.ErrNotFound) {
		return in.unmatched(ctx, seen, msg, "a copy of a reply about no known discussion")
	}
	return err
}

func (in *Ingester) unmatched(ctx context.Context, seen string, msg *mailparse.Message, reason string) error {
	u := UnmatchedMail{At: time.Now().UTC(), Reason: reason}
	if msg != nil {
		u.Subject = msg.Subject
		if len(msg.From) > 0 {
			u.From = msg.From[0].Address
		}
		if !msg.Date.IsZero() {
			u.At = msg.Date.UTC()
		}
	}
	if err := in.store.markSeen(ctx, seen, u); err != nil {
		return fmt.Errorf("email: record an unmatched mail: %w", err)
	}
	return errUnmatched
}

// noResponseLabel introduces the relay's "no response needed" link below
// a buyer's text in the ticket.
const noResponseLabel = "No reply needed? Mark it so in Seller Central: "

// withNoResponseLink keeps the relay's "no response needed" link (Amazon
// asks sellers to mark messages that need no reply, help 202152030),
// which stripping the footer removed, under the buyer's text, where an
// agent signed in to Seller Central can open it. The bridge never opens
// it itself: whether it works without a Seller Central session is
// UNVERIFIED, and it is a URL that came in a mail (the profile accepts
// only Amazon's own hosts for it).
func withNoResponseLink(text, url string) string {
	if url == "" {
		return text
	}
	return strings.TrimRight(text, "\n") + "\n\n" + noResponseLabel + url
}

// body is a mail's new text: quoted history and signature stripped.
func body(msg *mailparse.Message) string {
	if strings.TrimSpace(msg.StrippedText) != "" {
		return msg.StrippedText
	}
	return msg.Text
}

// attachmentsOf are a mail's files, and its whole original when the text
// shown was stripped of anything, so that nothing the buyer sent is lost.
func attachmentsOf(msgID string, msg *mailparse.Message) []file {
	var out []file
	for i, a := range msg.Attachments {
		name := a.Filename
		if name == "" {
			name = fmt.Sprintf("attachment-%d", i+1)
		}
		out = append(out, file{ID: fmt.Sprintf("%s-%d", msgID, i+1), Name: name, ContentType: a.ContentType, Data: a.Data})
	}
	if strings.TrimSpace(msg.StrippedText) != strings.TrimSpace(msg.Text) && len(msg.Raw) > 0 {
		out = append(out, file{ID: msgID + "-eml", Name: "original.eml", ContentType: "message/rfc822", Data: msg.Raw})
	}
	return out
}

// topic is a thread's subject without reply prefixes.
func topic(subject string) string {
	s := strings.TrimSpace(subject)
	for {
		lower := strings.ToLower(s)
		cut := false
		for _, p := range []string{"re:", "aw:", "sv:", "fw:", "fwd:", "tr:", "r:"} {
			if strings.HasPrefix(lower, p) {
				s, cut = strings.TrimSpace(s[len(p):]), true
				break
			}
		}
		if !cut {
			return s
		}
	}
}

func appendRef(refs []string, id string) []string {
	refs = append(refs, id)
	if len(refs) > maxReferences {
		refs = refs[len(refs)-maxReferences:]
	}
	return refs
}

func latest(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
