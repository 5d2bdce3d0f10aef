package discussions

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"time"
	"unicode"

	"github.com/hibiken/asynq"
	"github.com/rs/zerolog"

	"github.com/helpdesk-bridge/bridge/bridge/httpapi"
	"github.com/helpdesk-bridge/bridge/connectors"
)

// TypeReply sends a mirrored ticket's new agent replies to the marketplace.
const TypeReply = "discussion:reply"

// ReplyPayload names a ticket a helpdesk reported activity on.
type ReplyPayload struct {
	Merchant string `json:"merchant"`
	Helpdesk string `json:"helpdesk"`
	TicketID string `json:"ticket_id"`
	// Status is the ticket's status after the event, when the helpdesk
	// said: the discussion's status follows it.
	Status connectors.Status `json:"status,omitempty"`
	// MessageID is the helpdesk message the delivery was about, when it
	// named one (Gorgias): its status applies only if that message is an
	// agent's public reply, so that an internal note whose flags rendered
	// empty cannot change the discussion's status.
	MessageID string `json:"message_id,omitempty"`
	// At is when the helpdesk event happened, or when the bridge received
	// it if the delivery did not say. A delivery retried late must not
	// overwrite a status set since: the status applies only if At is no
	// older than the discussion's StatusAt.
	At time.Time `json:"at"`
}

// WebhookParser verifies and reads one helpdesk account's webhook
// delivery; cmd/bridge builds one per account with its secret.
type WebhookParser func(header http.Header, body []byte) (connectors.WebhookEvent, error)

// Stable error codes of the webhook route.
const (
	CodeUnknownHelpdesk  = "unknown_helpdesk"
	CodeInvalidWebhook   = "invalid_webhook"
	CodeWebhookMalformed = "malformed_webhook"
	// CodeNotReplicated: the reply task is on the Redis master but
	// reached no replica in time (503); the helpdesk delivers again.
	CodeNotReplicated = "not_replicated"
)

// Receive verifies a helpdesk's webhook delivery and, for an agent's
// reply, enqueues a reply task, which also lets the discussion's status
// follow the ticket's. Its id derives from the delivery, so a delivery
// repeated by the helpdesk enqueues nothing; the task itself sends each
// helpdesk message at most once anyway. Authentic deliveries about
// anything else (a customer's message, an internal note, the bridge's own
// writes) are acknowledged and dropped, status included: the ticket's
// status then says nothing the shop decided (the bridge's own notes and
// mirrored messages may leave a ticket open that the merchant solved),
// and a customer's message reopens the discussion when the sync mirrors
// it. Helpdesks disable endpoints that keep failing, hence no error.
func (s *Service) Receive(ctx context.Context, helpdeskID string, header http.Header, body []byte) (accepted bool, err error) {
	parse, ok := s.o.Webhooks[helpdeskID]
	merchant := s.merchantOfHelpdesk(helpdeskID)
	if !ok || merchant == "" {
		return false, httpapi.Errorf(http.StatusNotFound, CodeUnknownHelpdesk, "helpdesk", "helpdesk %q takes no webhooks: configure its webhook_secret", helpdeskID)
	}
	ev, err := parse(header, body)
	if err != nil {
		field := connectors.WebhookField(err)
		if errors.Is(err, connectors.ErrUnauthorized) {
			return false, httpapi.Errorf(http.StatusUnauthorized, CodeInvalidWebhook, field, "%s: the delivery could not be authenticated", field)
		}
		return false, httpapi.Errorf(http.StatusBadRequest, CodeWebhookMalformed, field, "%s: the delivery could not be read", field)
	}
	if !ev.AgentReply {
		return false, nil
	}
	sum := sha256.Sum256([]byte(helpdeskID + "\x00" + ev.TicketID + "\x00" + cmp.Or(ev.DeliveryID, ev.MessageID, string(body))))
	at := ev.At
	if at.IsZero() {
		at = s.o.Now()
	}
	payload, _ := json.Marshal(ReplyPayload{Merchant: merchant, Helpdesk: helpdeskID, TicketID: ev.TicketID, Status: ev.Status, MessageID: ev.MessageID, At: at})
	queue := s.o.Shards.Queue(RepliesQueue, helpdeskID)
	task := asynq.NewTask(TypeReply, payload, asynq.Queue(queue), asynq.TaskID("discussion-reply-"+hex.EncodeToString(sum[:16])))
	_, err = s.o.Queue.EnqueueContext(ctx, task, asynq.MaxRetry(s.o.Config.Worker.MaxRetry), asynq.Retention(s.o.Config.Worker.TaskRetention))
	if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) && !errors.Is(err, asynq.ErrDuplicateTask) {
		return false, fmt.Errorf("discussions: enqueue reply: %w: %w", httpapi.ErrStoreUnavailable, err)
	}
	// The helpdesk takes a 2xx as delivered and never sends it again: the
	// task must survive a failover first. A copy enqueued by an earlier
	// delivery (a conflict above) may not have reached a replica either.
	if err := s.o.Store.enqueued(ctx, queue); err != nil {
		return false, err
	}
	return true, nil
}

func (s *Service) merchantOfHelpdesk(id string) string {
	for _, m := range s.o.Config.Merchants {
		for _, h := range m.Helpdesks {
			if h.ID == id {
				return m.ID
			}
		}
	}
	return ""
}

// Reply sends the ticket's public agent messages that have not gone out
// yet, oldest first, and lets the discussion's status follow the ticket's.
func (s *Service) Reply(ctx context.Context, p ReplyPayload) error {
	d, err := s.o.Store.ByTicket(ctx, p.Merchant, p.Helpdesk, p.TicketID)
	if errors.Is(err, ErrNotFound) {
		return nil // not a mirrored ticket
	}
	if err != nil {
		return err
	}
	a, err := s.account(p.Merchant, d.Account)
	if err != nil {
		return err
	}
	// Under the thread's lease, so that a sync running meanwhile finds
	// the reply in the bridge's own ledger and never mirrors it back.
	unlock, ok, err := s.o.Store.lock(ctx, p.Merchant, "thread:"+d.Account+":"+d.ThreadID, threadLease)
	if err != nil {
		return err
	}
	if !ok {
		return errBusy
	}
	defer unlock()
	if d, err = s.o.Store.Get(ctx, d.Merchant, d.Account, d.ThreadID); err != nil {
		return err
	}

	msgs, err := a.hd.ListMessages(ctx, d.TicketID)
	if err != nil {
		return fmt.Errorf("discussions: list the messages of ticket %s: %w", d.TicketID, err)
	}
	out := s.o.Store.outbound(p.Merchant, p.Helpdesk, d.TicketID)
	done, err := out.ids(ctx) // under the lease: read once
	if err != nil {
		return err
	}
	sent := 0
	var last *LastReply
	status := map[connectors.Status]string{connectors.StatusSolved: StatusSolved, connectors.StatusPending: StatusPending, connectors.StatusOpen: StatusOpen}[p.Status]
	for _, m := range msgs {
		notReply := m.Internal || m.FromCustomer || m.ExternalID != ""
		if notReply && m.ID == p.MessageID {
			status = "" // the event was no agent's reply after all
		}
		if notReply || done[m.ID] {
			continue // only agents' public replies not yet sent, never the bridge's own writes
		}
		outcome, err := s.send(ctx, a, &d, m)
		if err != nil {
			return err
		}
		if err := out.add(ctx, m.ID); err != nil {
			return err
		}
		last = outcome
		if outcome.Status == ReplySent {
			sent++
		}
	}
	if last == nil && status == "" {
		return nil
	}
	at := p.At
	if at.IsZero() {
		at = s.o.Now() // a task queued before events carried their time
	}
	// Written with Update, like Mirror's: the discussion API may have set
	// the read flag or a merchant ticket id meanwhile, without the lease.
	_, err = s.o.Store.Update(ctx, d.Merchant, d.Account, d.ThreadID, func(cur *Discussion) error {
		// Only replies the marketplace took count, and answer the thread.
		cur.Messages += sent
		if sent > 0 {
			cur.LastMessageAt = d.LastMessageAt
			cur.Read = true // an agent answered it
		}
		if last != nil {
			cur.LastReply = last
		}
		// Helpdesks may state whole seconds only (Zendesk's timestamps):
		// within the second of the status in place, the event applies.
		if status != "" && !at.Before(cur.StatusAt.Truncate(time.Second)) {
			cur.Status, cur.StatusAt = status, at // the ticket's status, after the reply
		}
		return nil
	})
	if err != nil {
		return err
	}
	// Fnac archives a thread whose ticket is solved, where the merchant
	// asks; a failure retries the task, which sends nothing twice.
	if h, ok := a.mp.(closedHook); ok && status == StatusSolved {
		if err := h.Closed(ctx, d.ThreadID); err != nil {
			return fmt.Errorf("discussions: tell the marketplace that thread %s is closed: %w", d.ThreadID, err)
		}
	}
	return nil
}

// send posts one agent message to the thread, or explains on the ticket
// why the marketplace would not take it; either way it says what became
// of the reply.
func (s *Service) send(ctx context.Context, a *account, d *Discussion, m connectors.TicketMessage) (*LastReply, error) {
	caps := a.mp.Capabilities()
	cmds, body := leadingCommands(PlainText(cmp.Or(m.BodyHTML, m.BodyText)))
	attach := cmds.invoice
	r := connectors.Reply{To: recipients(cmds.to, d, a.mp)}
	var links []string
	for _, att := range m.Attachments {
		// An attachment's URL comes from the helpdesk's payload: it is
		// fetched, now or through a link, only from the account's file
		// hosts, and the connector refuses internal addresses as it dials.
		err := a.hd.CheckFileURL(att.URL)
		var f connectors.ReplyFile
		if err == nil {
			f, err = s.fetchAttachment(ctx, a, att, caps)
		}
		var refused *connectors.RefusedURLError
		switch {
		case err == nil:
			r.Files = append(r.Files, f)
		case errors.As(err, &refused):
			return s.refuse(ctx, a, d, m, refusal{kind: refusedFileHost, detail: fmt.Sprintf("the attachment %q was not fetched: %s", cmp.Or(att.Name, "attachment"), refused)})
		case errors.Is(err, errAsLink):
			link, lerr := s.link(ctx, a.helpdesk.ID, att)
			if errors.Is(lerr, errNoLink) {
				return s.refuse(ctx, a, d, m, refusal{kind: refusedNoLink, detail: strings.TrimPrefix(lerr.Error(), errNoLink.Error()+": ")})
			}
			if lerr != nil {
				return nil, lerr
			}
			links = append(links, cmp.Or(att.Name, "attachment")+": "+link)
		default:
			return nil, err
		}
	}
	if len(links) > 0 {
		body = strings.TrimSpace(body) + "\n\n" + strings.Join(links, "\n")
	}
	r.Body = strings.TrimSpace(body)
	if why, ok := checkReply(r, caps); !ok {
		return s.refuse(ctx, a, d, m, why)
	}
	if attach {
		// The invoice goes as a file with the reply, or nothing goes.
		f, inv, why, err := s.invoiceFile(ctx, a, d, caps)
		if err != nil {
			return nil, err
		}
		if why != nil {
			return s.refuse(ctx, a, d, m, *why)
		}
		r.Files = append(r.Files, f)
		// Before the reply, so that a failed upload retries the task
		// with nothing sent yet; once per order (see uploadInvoice).
		if err := s.uploadInvoice(ctx, a, d, m, inv, f.Content); err != nil {
			return nil, err
		}
	}

	// M12 has no idempotency key. A send that got no answer is recorded
	// as uncertain; the retry waits for the marketplace to settle it, then
	// looks in the thread before sending again.
	settleKey := a.cfg.ID + ":reply:" + a.helpdesk.ID + ":" + m.ID
	pending := s.o.Store.key(d.Merchant, "pend", a.helpdesk.ID, m.ID)
	sendingID := a.helpdesk.ID + ":" + m.ID
	if since, err := s.o.Store.rdb.Get(ctx, pending).Time(); err == nil {
		if err := s.settle.Wait(ctx, settleKey, a.cfg.SettleDelay); err != nil {
			return nil, err
		}
		// A send of this message was cut short: it may have arrived.
		if id, found, err := s.findSent(ctx, a, d, r.Body, since); err != nil {
			return nil, err
		} else if found {
			return &LastReply{Status: ReplySent, MessageID: m.ID, At: s.o.Now()}, s.o.Store.doneSending(ctx, d.Merchant, d.Account, d.ThreadID, sendingID, id)
		}
	}
	// Until its outcome is recorded, a sync that meets the reply on the
	// marketplace takes it as the bridge's own (see Mirror).
	since := s.o.Now().Add(-time.Minute)
	if err := s.o.Store.startSending(ctx, d.Merchant, d.Account, d.ThreadID, sendingID, pendingReply{Body: r.Body, Since: since}); err != nil {
		return nil, err
	}
	if err := s.o.Store.rdb.Set(ctx, pending, since, 7*24*time.Hour).Err(); err != nil {
		return nil, err
	}
	sent, err := a.mp.Reply(ctx, d.ThreadID, r)
	switch {
	case errors.Is(err, connectors.ErrTooLarge), errors.Is(err, connectors.ErrInvalid):
		if err := s.o.Store.doneSending(ctx, d.Merchant, d.Account, d.ThreadID, sendingID, ""); err != nil {
			return nil, err
		}
		if errors.Is(err, connectors.ErrTooLarge) {
			return s.refuse(ctx, a, d, m, refusal{kind: refusedFilesTooLarge, detail: err.Error()})
		}
		return s.refuse(ctx, a, d, m, refusal{kind: refusedByMarketplace, detail: err.Error()})
	case errors.Is(err, connectors.ErrUncertain):
		return nil, s.settle.Uncertain(ctx, settleKey, a.cfg.SettleDelay, fmt.Errorf("discussions: reply to thread %s: %w", d.ThreadID, err))
	case err != nil:
		return nil, fmt.Errorf("discussions: reply to thread %s: %w", d.ThreadID, err)
	}
	if err := s.o.Store.doneSending(ctx, d.Merchant, d.Account, d.ThreadID, sendingID, sent.MessageID); err != nil {
		return nil, err
	}
	d.LastMessageAt = s.o.Now()
	zerolog.Ctx(ctx).Info().Str("account", d.Account).Str("thread", d.ThreadID).Int("files", len(r.Files)).Int("links", len(links)).Bool("invoice", attach).Msg("reply sent")
	return &LastReply{Status: ReplySent, MessageID: m.ID, At: d.LastMessageAt}, nil
}

// findSent looks in the thread for a shop message with this body written
// since a send was attempted: a reply whose answer was lost.
func (s *Service) findSent(ctx context.Context, a *account, d *Discussion, body string, since time.Time) (string, bool, error) {
	t, err := a.mp.GetThread(ctx, d.ThreadID)
	if err != nil {
		return "", false, fmt.Errorf("discussions: look for a lost reply in thread %s: %w", d.ThreadID, err)
	}
	for _, msg := range t.Messages {
		if msg.From.Type == connectors.PartyShop && !msg.CreatedAt.Before(since) && strings.TrimSpace(PlainText(msg.Body)) == body {
			return msg.ID, true, nil
		}
	}
	return "", false, nil
}

// refuse leaves an internal note saying, in the account's language, why a
// reply did not go out and what the agent can do: a refused reply is never
// silent. It counts as no message and leaves the read state alone.
func (s *Service) refuse(ctx context.Context, a *account, d *Discussion, m connectors.TicketMessage, r refusal) (*LastReply, error) {
	note := connectors.Message{
		Internal: true, ExternalID: "bridge-refused-" + m.ID,
		BodyText: r.note(a.helpdesk.Language, a.cfg.Name),
	}
	if err := a.hd.AddMessage(ctx, d.TicketID, note); err != nil {
		return nil, fmt.Errorf("discussions: note a refused reply on ticket %s: %w", d.TicketID, err)
	}
	zerolog.Ctx(ctx).Warn().Str("account", d.Account).Str("thread", d.ThreadID).Msg("reply refused by the marketplace; noted on the ticket")
	return &LastReply{Status: ReplyRefused, MessageID: m.ID, At: s.o.Now(), Reason: r.reason(a.helpdesk.Language, a.cfg.Name)}, nil
}

// checkReply applies the marketplace's stated limits before sending.
func checkReply(r connectors.Reply, caps connectors.MarketplaceCapabilities) (refusal, bool) {
	n := len([]rune(r.Body))
	switch {
	case caps.MinBodyChars > 0 && n < caps.MinBodyChars:
		return refusal{kind: refusedTooShort, got: n, max: caps.MinBodyChars,
			detail: fmt.Sprintf("refused before sending: the text has %d characters, the marketplace states a minimum of %d", n, caps.MinBodyChars)}, false
	case caps.MaxBodyChars > 0 && n > caps.MaxBodyChars:
		return refusal{kind: refusedTooLong, got: n, max: caps.MaxBodyChars,
			detail: fmt.Sprintf("refused before sending: the text has %d characters, the marketplace states a maximum of %d", n, caps.MaxBodyChars)}, false
	}
	return refusal{}, true
}

// correspondentHook is a marketplace whose threads each have one
// correspondent (Rakuten: the buyer or its customer service, per item),
// to whom a reply without a "To:" line goes.
type correspondentHook interface {
	Correspondent(threadID string) (connectors.PartyType, bool)
}

// recipientLine is the documented way for an agent to choose who gets a
// reply: a line "To: customer", "To: operator" or "To: customer,
// operator" (also "both") at the start, removed from the text sent.
var recipientLine = regexp.MustCompile(`(?i)^\s*to\s*:\s*(customer|operator|both|all|customer\s*(?:,|and|&|\+)\s*operator|operator\s*(?:,|and|&|\+)\s*customer)\s*$`)

// replyCommands are the command lines an agent's reply starts with.
type replyCommands struct {
	to      []connectors.PartyType // nil: the default recipients
	invoice bool                   // "Invoice: attach"
}

// leadingCommands reads the command lines ("To:", "Invoice: attach") a
// reply starts with, in either order, and returns the text after them.
// Helpdesk editors write each line as a paragraph of its own (<p> or
// <div>, a blank line once converted), so blank lines between commands
// do not end them; the first other line does, and a command after it is
// text. Each command counts once: a second "To:" line is text too.
func leadingCommands(body string) (replyCommands, string) {
	var c replyCommands
	rest := body
	for {
		line, after, _ := strings.Cut(strings.TrimLeftFunc(rest, unicode.IsSpace), "\n")
		if m := recipientLine.FindStringSubmatch(line); m != nil && c.to == nil {
			switch who := strings.ToLower(m[1]); who {
			case "customer":
				c.to = []connectors.PartyType{connectors.PartyCustomer}
			case "operator":
				c.to = []connectors.PartyType{connectors.PartyOperator}
			default:
				c.to = []connectors.PartyType{connectors.PartyCustomer, connectors.PartyOperator}
			}
		} else if invoiceLine.MatchString(line) && !c.invoice {
			c.invoice = true
		} else {
			return c, rest
		}
		rest = after
	}
}

// recipients are who a reply goes to: those its "To:" line named, else
// the thread's one correspondent, else the customer (the operator on a
// thread without a customer).
func recipients(to []connectors.PartyType, d *Discussion, mp connectors.Marketplace) []connectors.PartyType {
	if to != nil {
		return to
	}
	if c, ok := mp.(correspondentHook); ok {
		if p, ok := c.Correspondent(d.ThreadID); ok {
			return []connectors.PartyType{p}
		}
	}
	if d.CustomerName == "" && d.Type == "other" {
		return []connectors.PartyType{connectors.PartyOperator} // a thread with the operator only
	}
	return []connectors.PartyType{connectors.PartyCustomer}
}

// errAsLink: the attachment goes as a link rather than a file.
var errAsLink = errors.New("discussions: attachment goes as a link")

func (s *Service) fetchAttachment(ctx context.Context, a *account, att connectors.Attachment, caps connectors.MarketplaceCapabilities) (connectors.ReplyFile, error) {
	limit := cmp.Or(caps.MaxFileBytes, s.o.MaxReplyFile)
	if !caps.Attachments || (att.Size > 0 && att.Size > limit) {
		return connectors.ReplyFile{}, errAsLink
	}
	body, ctype, err := a.hd.DownloadAttachment(ctx, att.URL)
	if err != nil {
		return connectors.ReplyFile{}, fmt.Errorf("discussions: download an agent's attachment: %w", err)
	}
	defer body.Close()
	data, err := io.ReadAll(io.LimitReader(body, limit+1))
	if err != nil {
		return connectors.ReplyFile{}, fmt.Errorf("discussions: download an agent's attachment: %w", err)
	}
	if int64(len(data)) > limit {
		return connectors.ReplyFile{}, errAsLink
	}
	return connectors.ReplyFile{Name: cmp.Or(att.Name, "attachment"), ContentType: cmp.Or(att.ContentType, ctype), Content: data}, nil
}
