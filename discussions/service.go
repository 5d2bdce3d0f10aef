package discussions

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/rs/zerolog"

	"github.com/helpdesk-bridge/bridge/bridge/jobs"
	"github.com/helpdesk-bridge/bridge/bridge/settle"
	"github.com/helpdesk-bridge/bridge/bridge/syncstate"
	"github.com/helpdesk-bridge/bridge/config"
	"github.com/helpdesk-bridge/bridge/connectors"
)

// Helpdesk is the part of a helpdesk connector mirroring uses.
type Helpdesk interface {
	CreateTicket(ctx context.Context, t connectors.NewTicket) (connectors.Ticket, bool, error)
	AddMessage(ctx context.Context, ticketID string, m connectors.Message) error
	SetStatus(ctx context.Context, ticketID string, s connectors.Status) error
	ListMessages(ctx context.Context, ticketID string) ([]connectors.TicketMessage, error)
	DownloadAttachment(ctx context.Context, url string) (io.ReadCloser, string, error)
	CheckFileURL(url string) error
}

// OrderDirectory finds the customer of an order, so that a discussion's
// ticket has the requester the sidebar widget knows.
type OrderDirectory interface {
	// CustomerEmail returns the order's customer email, or "" when the
	// order is unknown.
	CustomerEmail(ctx context.Context, merchant, store, orderID string) (string, error)
}

// Enqueuer is the part of asynq.Client the service uses.
type Enqueuer interface {
	EnqueueContext(ctx context.Context, task *asynq.Task, opts ...asynq.Option) (*asynq.TaskInfo, error)
}

// Options configure a Service.
type Options struct {
	Config       *config.Config
	Store        *Store
	Marketplaces map[string]connectors.Marketplace // by account id
	Helpdesks    map[string]Helpdesk               // by helpdesk id
	Orders       OrderDirectory
	Queue        Enqueuer
	// Webhooks read each helpdesk account's webhook deliveries, by
	// helpdesk id; an account without one takes none.
	Webhooks map[string]WebhookParser
	// PublicURL prefixes the signed links of attachments sent as links.
	PublicURL string
	// Shards spreads each kind of discussion task over queues, by account.
	Shards jobs.Shards
	// MaxReplyFile is the largest agent attachment relayed as a file when
	// the marketplace states no limit (default 10 MiB); larger ones go as
	// links.
	MaxReplyFile int64
	// MaxCopiedFile is the largest marketplace file copied into a ticket
	// (default 10 MiB, what the helpdesks' uploads are held to); a larger
	// one, or an empty one, is left out and the message says so.
	MaxCopiedFile int64
	// Invoicer issues the invoices agents attach to replies with an
	// "Invoice: attach" line; nil refuses the command with a note saying
	// invoices are not configured.
	Invoicer Invoicer
	// Settle records replies that got no answer, so that they are looked
	// for only once the marketplace had time to post them; nil means one
	// on the Store's Redis.
	Settle *settle.Ledger
	Now    func() time.Time
}

// Service mirrors discussions.
type Service struct {
	o      Options
	settle *settle.Ledger
}

// NewService returns a Service.
func NewService(o Options) *Service {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxReplyFile == 0 {
		o.MaxReplyFile = 10 << 20
	}
	if o.MaxCopiedFile <= 0 {
		o.MaxCopiedFile = 10 << 20
	}
	if o.Settle == nil && o.Store != nil {
		o.Settle = settle.NewLedger(o.Store.rdb, o.Store.prefix, o.Now)
	}
	return &Service{o: o, settle: o.Settle}
}

// ErrUnknownAccount is a task naming an account the configuration no
// longer has.
var ErrUnknownAccount = errors.New("discussions: unknown marketplace account")

// errBusy is a thread another worker is mirroring: the task retries soon.
var errBusy = fmt.Errorf("discussions: thread is being mirrored by another worker: %w", connectors.ErrUnavailable)

// mirroredHook is a marketplace that wants to know when a thread's new
// messages are in the ticket.
type mirroredHook interface {
	Mirrored(ctx context.Context, t connectors.Thread) error
}

// closedHook is a marketplace that wants to know when a thread's ticket
// is solved.
type closedHook interface {
	Closed(ctx context.Context, threadID string) error
}

type account struct {
	merchant *config.Merchant
	cfg      config.Marketplace
	helpdesk config.Helpdesk
	mp       connectors.Marketplace
	hd       Helpdesk
}

func (s *Service) account(merchant, id string) (*account, error) {
	m, ok := s.o.Config.Merchant(merchant)
	if !ok {
		return nil, fmt.Errorf("%w: merchant %s", ErrUnknownAccount, merchant)
	}
	for _, mk := range m.Marketplaces {
		if mk.ID != id {
			continue
		}
		a := &account{merchant: m, cfg: mk, mp: s.o.Marketplaces[mk.ID], hd: s.o.Helpdesks[mk.Helpdesk]}
		for _, h := range m.Helpdesks {
			if h.ID == mk.Helpdesk {
				a.helpdesk = h
			}
		}
		if a.mp == nil || a.hd == nil {
			return nil, fmt.Errorf("%w: %s has no connector", ErrUnknownAccount, id)
		}
		return a, nil
	}
	return nil, fmt.Errorf("%w: %s", ErrUnknownAccount, id)
}

// syncLease is how long a dead sync's hold on its account lasts; a live
// one renews it (see Store.lock).
const syncLease = time.Minute

// Sync lists the account's threads updated since its cursor, less the
// overlap, and enqueues a mirror task for each. Only one sync of an
// account runs at a time, on any replica: a second one finds the lease
// taken and does nothing, as the first will enqueue what it would have.
// The first sync of an account, and a full one, read the whole backfill
// window and mirror it as bulk work.
func (s *Service) Sync(ctx context.Context, p SyncPayload) error {
	merchant, accountID := p.Merchant, p.Account
	a, err := s.account(merchant, accountID)
	if err != nil {
		return err
	}
	unlock, ok, err := s.o.Store.lock(ctx, merchant, "sync:"+accountID, syncLease)
	if err != nil {
		return err
	}
	if !ok {
		zerolog.Ctx(ctx).Info().Str("account", accountID).Msg("sync already running elsewhere")
		return nil
	}
	defer unlock()

	cursor, err := s.o.Store.Cursor(ctx, merchant, accountID)
	if err != nil {
		return err
	}
	since, queue := cursor.Add(-a.cfg.Overlap), Queue
	if cursor.IsZero() || p.Full {
		// Bulk work, after every reply, alert and new message of the
		// accounts it shares.
		since, queue = s.o.Now().Add(-a.cfg.Backfill), BulkQueue
	}
	q := connectors.ThreadQuery{UpdatedSince: since, Limit: pageLimit(a.cfg.RateLimit, a.mp.Capabilities())}
	newest, listed := cursor, 0
	name := "threads:" + accountID
	resumed, resuming, err := s.o.Store.resumeListing(ctx, merchant, name)
	if err != nil {
		return err
	}
	if resuming {
		// A listing that stopped part-way goes on from its page.
		since, queue, newest = resumed.Since, cmp.Or(resumed.Queue, queue), latestTime(newest, resumed.Newest)
		q = connectors.ThreadQuery{PageToken: resumed.PageToken}
	}
	for {
		page, err := a.mp.ListThreads(ctx, q)
		if resuming && q.PageToken == resumed.PageToken && connectors.IsPermanent(err) {
			// The marketplace no longer takes the saved page: list
			// from the start.
			if err := s.o.Store.endListing(ctx, merchant, name); err != nil {
				return err
			}
			resuming, q = false, connectors.ThreadQuery{UpdatedSince: since, Limit: pageLimit(a.cfg.RateLimit, a.mp.Capabilities())}
			continue
		}
		if err != nil {
			return fmt.Errorf("discussions: list threads of %s: %w", accountID, err)
		}
		for _, t := range page.Threads {
			task, err := newMirrorTask(MirrorPayload{Merchant: merchant, Account: accountID, Thread: t}, s.o.Shards.Queue(queue, accountID))
			if err != nil {
				return err
			}
			_, err = s.o.Queue.EnqueueContext(ctx, task, asynq.MaxRetry(s.o.Config.Worker.MaxRetry), asynq.Retention(s.o.Config.Worker.TaskRetention))
			if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) && !errors.Is(err, asynq.ErrDuplicateTask) {
				return fmt.Errorf("discussions: enqueue thread: %w", err)
			}
			listed++
			if t.UpdatedAt.After(newest) {
				newest = t.UpdatedAt
			}
		}
		if page.NextPageToken == "" {
			break
		}
		q = connectors.ThreadQuery{PageToken: page.NextPageToken}
		// A saved page passes the threads before it, like the cursor.
		if err := s.o.Store.enqueued(ctx, s.o.Shards.Queue(queue, accountID)); err != nil {
			return err
		}
		if err := s.o.Store.saveListing(ctx, merchant, name, syncstate.Listing{Since: since, PageToken: q.PageToken, Newest: newest, Queue: queue}); err != nil {
			return err
		}
	}
	// The cursor follows the marketplace's own clock, never ours, and only
	// once every thread is enqueued: a crash before this line lists them
	// again from the last page reached, and their task ids enqueue nothing
	// twice. On a Cluster the tasks and the cursor live on different
	// masters: the tasks must reach a replica before the cursor passes
	// them, or a failover of their master would drop them for good.
	if listed > 0 {
		if err := s.o.Store.enqueued(ctx, s.o.Shards.Queue(queue, accountID)); err != nil {
			return err
		}
	}
	if err := s.o.Store.SetCursor(ctx, merchant, accountID, newest); err != nil {
		return err
	}
	if err := s.o.Store.endListing(ctx, merchant, name); err != nil {
		return err
	}
	zerolog.Ctx(ctx).Info().Str("account", accountID).Int("threads", listed).Msg("discussions synced")
	return nil
}

// pageLimit is how many threads a sync asks for at a time. A marketplace
// that reads each listed thread in full before its page is done (Fnac,
// Rakuten) makes a page cost as many calls: the page must fit well within
// the account's burst, or a sync put off for the budget in the middle of
// every page, which loses the page, would never get past it.
func pageLimit(rl config.RateLimit, caps connectors.MarketplaceCapabilities) int {
	const most = 100
	if caps.CallsPerListedThread <= 0 || rl.Requests <= 0 {
		return most
	}
	return min(most, max(1, rl.Requests/(4*caps.CallsPerListedThread)))
}

// threadLease is how long a dead mirror task's hold on its thread lasts;
// a live one renews it (see Store.lock).
const threadLease = time.Minute

// Mirror brings one thread's ticket up to date: the ticket exists, once,
// and holds every message of the thread, once, in order.
func (s *Service) Mirror(ctx context.Context, p MirrorPayload) error {
	a, err := s.account(p.Merchant, p.Account)
	if err != nil {
		return err
	}
	t := p.Thread
	unlock, ok, err := s.o.Store.lock(ctx, p.Merchant, "thread:"+p.Account+":"+t.ID, threadLease)
	if err != nil {
		return err
	}
	if !ok {
		return errBusy
	}
	defer unlock()

	d, err := s.o.Store.Get(ctx, p.Merchant, p.Account, t.ID)
	switch {
	case errors.Is(err, ErrNotFound):
		d = Discussion{
			Merchant: p.Merchant, Account: p.Account, Marketplace: a.cfg.Name, ThreadID: t.ID,
			Helpdesk: a.helpdesk.ID, Status: StatusOpen, CreatedAt: t.CreatedAt,
		}
	case err != nil:
		return err
	}
	s.describe(&d, t)
	if d.CustomerEmail == "" && t.Entity.Type == connectors.EntityOrder && s.o.Orders != nil {
		if d.CustomerEmail, err = s.o.Orders.CustomerEmail(ctx, p.Merchant, a.cfg.Store, t.Entity.ID); err != nil {
			return err
		}
	}

	// What is already in the ticket, and the replies the bridge sent: read
	// once, as only this task, holding the lease, adds to them.
	done, err := s.o.Store.inbound(p.Merchant, p.Account, t.ID).ids(ctx)
	if err != nil {
		return err
	}
	sent, err := s.o.Store.own(p.Merchant, p.Account, t.ID).ids(ctx)
	if err != nil {
		return err
	}
	sending, err := s.o.Store.pendingReplies(ctx, p.Merchant, p.Account, t.ID)
	if err != nil {
		return err
	}
	mirrored := 0
	for i, msg := range t.Messages {
		if done[msg.ID] || sent[msg.ID] {
			continue
		}
		if msg.From.Type == connectors.PartyShop && isPendingReply(sending, msg) {
			// A reply of the bridge's whose answer was lost, before its
			// task looked again: it is in the ticket already, as the
			// agent wrote it. Its task will find it among these.
			if err := s.o.Store.own(p.Merchant, p.Account, t.ID).add(ctx, msg.ID); err != nil {
				return err
			}
			continue
		}
		mirrored++
		m, err := s.message(ctx, a, d, msg)
		if err != nil {
			return err
		}
		inbound := msg.From.Type != connectors.PartyShop
		if d.TicketID == "" {
			// The thread's first message opens the ticket. Creating is
			// idempotent on the external id, so after a crash the ticket
			// found is the one this message opened.
			var ticket connectors.Ticket
			err := s.withoutRefusedFiles(a, m, func(m connectors.Message) (err error) {
				ticket, _, err = a.hd.CreateTicket(ctx, connectors.NewTicket{
					ExternalID: externalID(a.cfg, t.ID), Subject: d.Subject,
					Requester: connectors.Person{Email: requester(d, a.cfg), Name: d.CustomerName},
					Tags:      tags(a, d), Language: a.helpdesk.Language, Message: m,
				})
				return err
			})
			if err != nil {
				return fmt.Errorf("discussions: open the ticket of thread %s: %w", t.ID, err)
			}
			d.TicketID = ticket.ID
			d.MerchantTicketID = cmp.Or(d.MerchantTicketID, ticket.ID)
			counted(&d, inbound, s.o.Now())
			if err := s.o.Store.saveOpened(ctx, d, msg.ID); err != nil {
				return err
			}
			continue
		}
		// With its external id, a message appended before a crash is
		// found rather than appended again.
		err = s.withoutRefusedFiles(a, m, func(m connectors.Message) error { return a.hd.AddMessage(ctx, d.TicketID, m) })
		if err != nil {
			return fmt.Errorf("discussions: append message %d of thread %s: %w", i, t.ID, err)
		}
		// A buyer or the operator writing again after the ticket was
		// solved: the ticket opens again, as the discussion does, so that
		// the message shows in the agents' open views. Before the record,
		// so that a crash between the two opens it at the retry.
		if inbound && d.Status != StatusOpen {
			if err := a.hd.SetStatus(ctx, d.TicketID, connectors.StatusOpen); err != nil {
				return fmt.Errorf("discussions: reopen the ticket of thread %s: %w", t.ID, err)
			}
		}
		// The ledger entry and what the message does to the discussion
		// commit together: a failure after this line cannot leave the
		// message recorded but the discussion not reopened.
		if d, err = s.o.Store.recordMessage(ctx, d, msg.ID, inbound, s.o.Now()); err != nil {
			return err
		}
	}
	// Told once what it sent is in the ticket (Fnac marks it read where
	// the merchant asks): a failure retries the task, which mirrors
	// nothing twice and tells again.
	if h, ok := a.mp.(mirroredHook); ok && mirrored > 0 {
		if err := h.Mirrored(ctx, t); err != nil {
			return fmt.Errorf("discussions: thread %s mirrored, but the marketplace was not told: %w", t.ID, err)
		}
	}
	// The thread's own description; the status, read flag, count and
	// merchant ticket id are left as they are, since each message and the
	// discussion API change them in their own transactions.
	_, err = s.o.Store.Update(ctx, p.Merchant, p.Account, t.ID, func(cur *Discussion) error {
		cur.Subject, cur.Type, cur.EntityID, cur.EntityLabel = d.Subject, d.Type, d.EntityID, d.EntityLabel
		cur.Participants, cur.CustomerName, cur.CustomerEmail = d.Participants, d.CustomerName, d.CustomerEmail
		cur.UpdatedAt = latestTime(cur.UpdatedAt, d.UpdatedAt)
		cur.LastMessageAt = latestTime(cur.LastMessageAt, d.LastMessageAt)
		return nil
	})
	if errors.Is(err, ErrNotFound) {
		return s.o.Store.Save(ctx, d) // nothing mirrored yet: the first record
	}
	return err
}

// isPendingReply tells whether a shop's message is one of the replies
// being sent, as findSent would: the same text, written since its send
// started.
func isPendingReply(sending []pendingReply, msg connectors.ThreadMessage) bool {
	body := strings.TrimSpace(PlainText(msg.Body))
	for _, r := range sending {
		if r.Body == body && !msg.CreatedAt.Before(r.Since) {
			return true
		}
	}
	return false
}

// counted applies one message, mirrored at, to a discussion: a customer or
// the operator writing means the shop must answer again, and a helpdesk
// event older than the mirroring does not close it again. The mirroring's
// time, not the marketplace's, is the reference: agents see the message
// only once it is mirrored, and the bridge's clock does not drift from
// the marketplace's.
func counted(d *Discussion, inbound bool, at time.Time) {
	d.Messages++
	if inbound {
		d.Status, d.Read = StatusOpen, false
		d.StatusAt = latestTime(d.StatusAt, at)
	}
}

func latestTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// describe copies what the thread says of itself onto the discussion.
func (s *Service) describe(d *Discussion, t connectors.Thread) {
	d.Subject = cmp.Or(strings.TrimSpace(t.Topic), d.Subject, "Marketplace discussion")
	d.Type = cmp.Or(t.Entity.Type, connectors.EntityOther)
	d.EntityID, d.EntityLabel = t.Entity.ID, t.Entity.Label
	if t.Customer != nil {
		d.CustomerName = cmp.Or(t.Customer.Name, d.CustomerName)
	}
	// The address the customer writes from is the one the widget knows
	// them by, ahead of the order's.
	d.CustomerEmail = cmp.Or(t.CustomerEmail, d.CustomerEmail)
	d.Participants = d.Participants[:0]
	for _, p := range t.Participants {
		if p.Name != "" {
			d.Participants = append(d.Participants, p.Name)
		}
	}
	if t.UpdatedAt.After(d.UpdatedAt) {
		d.UpdatedAt = t.UpdatedAt
	}
	if n := len(t.Messages); n > 0 && t.Messages[n-1].CreatedAt.After(d.LastMessageAt) {
		d.LastMessageAt = t.Messages[n-1].CreatedAt
	}
}

// message turns a marketplace message into a ticket message, with its
// attachments' content copied.
func (s *Service) message(ctx context.Context, a *account, d Discussion, msg connectors.ThreadMessage) (connectors.Message, error) {
	m := connectors.Message{
		BodyText: cmp.Or(strings.TrimSpace(PlainText(msg.Body)), "(no text)"), ExternalID: "mp-" + a.cfg.ID + "-" + msg.ID,
		SentAt: msg.CreatedAt, Author: connectors.Person{Name: msg.From.Name},
	}
	switch msg.From.Type {
	case connectors.PartyCustomer:
		m.FromCustomer = true
		m.Author.Email = requester(d, a.cfg)
	case connectors.PartyOperator:
		m.FromOperator = true
		m.Author.Name = cmp.Or(msg.From.Name, a.cfg.Name+" operator")
	default:
		// Written in the marketplace's back office rather than through
		// the bridge: kept for the record, never sent again.
		m.Internal = true
		m.BodyText = "Sent from the " + a.cfg.Name + " back office:\n\n" + m.BodyText
	}
	var left []leftOut
	for _, att := range msg.Attachments {
		f, out, err := s.download(ctx, a.mp, att)
		if err != nil {
			return m, err
		}
		if out != nil {
			left = append(left, *out)
			continue
		}
		m.Files = append(m.Files, f)
	}
	m.BodyText += leftOutNote(a.helpdesk.Language, a.cfg.Name, s.o.MaxCopiedFile, left)
	return m, nil
}

// download copies an attachment's content, or says why the ticket cannot
// carry it: empty, or larger than the helpdesk takes (decided from the
// size the marketplace states, when it states one above the limit, before
// any download). A stated 0 is not trusted: a listing that omits the size
// decodes as 0, so emptiness is judged on the content.
func (s *Service) download(ctx context.Context, mp connectors.Marketplace, att connectors.AttachmentMeta) (connectors.File, *leftOut, error) {
	name, limit := cmp.Or(att.Name, "attachment"), s.o.MaxCopiedFile
	if att.Size > limit {
		return connectors.File{}, &leftOut{name: name, size: att.Size, kind: leftOutTooLarge}, nil
	}
	body, _, err := mp.DownloadAttachment(ctx, att.ID)
	if err != nil {
		return connectors.File{}, nil, fmt.Errorf("discussions: download attachment %s: %w", att.ID, err)
	}
	defer body.Close()
	data, err := io.ReadAll(io.LimitReader(body, limit+1))
	if err != nil {
		return connectors.File{}, nil, fmt.Errorf("discussions: download attachment %s: %w", att.ID, err)
	}
	switch {
	case len(data) == 0:
		return connectors.File{}, &leftOut{name: name, size: 0, kind: leftOutEmpty}, nil
	case int64(len(data)) > limit:
		// The stated size was unknown or wrong: only the limit is known.
		return connectors.File{}, &leftOut{name: name, size: max(att.Size, limit+1), kind: leftOutTooLarge}, nil
	}
	return connectors.File{Name: name, ContentType: copiedType(data), Data: data}, nil, nil
}

// previewable are the types a copied file is labelled with when its
// content shows one (http.DetectContentType's sniffing): helpdesks show
// them inline. Anything else stays application/octet-stream, offered for
// download and never rendered, whatever its name says: marketplaces label
// every file application/octet-stream, and a name or label is only the
// sender's say, where an HTML or script file shown inline is a risk.
var previewable = map[string]bool{
	"image/png": true, "image/jpeg": true, "image/gif": true, "image/webp": true, "image/bmp": true,
	"application/pdf": true, "text/plain": true,
}

// copiedType is the content type a copied file is uploaded with: "" for
// application/octet-stream.
func copiedType(data []byte) string {
	ct := http.DetectContentType(data)
	if media, _, err := mime.ParseMediaType(ct); err == nil && previewable[media] {
		return ct
	}
	return ""
}

// withoutRefusedFiles runs send (a ticket's creation or an append) with m,
// and while the helpdesk answers that the payload is too large, again
// without m's largest file, which the message then names as left out. The
// helpdesk wrote nothing on such an answer (files go up before the
// message), so exactly-once holds: the external id still finds a message
// an earlier try did write.
func (s *Service) withoutRefusedFiles(a *account, m connectors.Message, send func(connectors.Message) error) error {
	for {
		err := send(m)
		if err == nil || !errors.Is(err, connectors.ErrTooLarge) || len(m.Files) == 0 {
			return err
		}
		big := 0
		for i, f := range m.Files {
			if len(f.Data) > len(m.Files[big].Data) {
				big = i
			}
		}
		f := m.Files[big]
		// A copy: the caller's message keeps its files.
		m.Files = slices.Delete(slices.Clone(m.Files), big, big+1)
		m.BodyText += leftOutNote(a.helpdesk.Language, a.cfg.Name, s.o.MaxCopiedFile, []leftOut{{name: f.Name, size: int64(len(f.Data)), kind: leftOutRefused}})
	}
}

// externalID is the ticket's idempotency key: marketplace, shop and thread.
func externalID(mk config.Marketplace, thread string) string {
	return "bridge-disc-" + mk.Name + "-" + cmp.Or(mk.ShopID, mk.ID) + "-" + thread
}

// requester is the customer's email, or, when the order is unknown, an
// address of the reserved .invalid domain that no mail can reach and that
// is stable for the thread.
func requester(d Discussion, mk config.Marketplace) string {
	if d.CustomerEmail != "" {
		return d.CustomerEmail
	}
	return "thread-" + sanitizeLocal(d.ThreadID) + "@" + mk.ID + ".marketplace.invalid"
}

func sanitizeLocal(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// tags route the ticket: the marketplace and what the thread is about.
func tags(a *account, d Discussion) []string {
	p := a.helpdesk.TagPrefix
	kind := map[string]string{connectors.EntityOrder: "order", connectors.EntityProduct: "product"}[d.Type]
	return []string{p + "marketplace", p + "marketplace-" + a.cfg.Name, p + "discussion-" + cmp.Or(kind, "other")}
}
