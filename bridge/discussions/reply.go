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
}

// WebhookParser verifies and reads one helpdesk account's webhook
// delivery; cmd/bridge builds one per account with its secret.
type WebhookParser func(header http.Header, body []byte) (connectors.WebhookEvent, error)

// Stable error codes of the webhook route.
const (
	CodeUnknownHelpdesk  = "unknown_helpdesk"
	CodeInvalidWebhook   = "invalid_webhook"
	CodeWebhookMalformed = "malformed_webhook"
)

// Receive verifies a helpdesk's webhook delivery and, for an agent's reply
// or a status change, enqueues a reply task. Its id derives from the
// delivery, so a delivery repeated by the helpdesk enqueues nothing; the
// task itself sends each helpdesk message at most once anyway. Authentic
// deliveries about anything else are acknowledged and dropped: helpdesks
// disable endpoints that keep failing.
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
	if !ev.AgentReply && ev.Status == "" {
		return false, nil
	}
	sum := sha256.Sum256([]byte(helpdeskID + "\x00" + ev.TicketID + "\x00" + cmp.Or(ev.DeliveryID, ev.MessageID, string(body))))
	payload, _ := json.Marshal(ReplyPayload{Merchant: merchant, Helpdesk: helpdeskID, TicketID: ev.TicketID, Status: ev.Status})
	task := asynq.NewTask(TypeReply, payload, asynq.Queue(Queue), asynq.TaskID("discussion-reply-"+hex.EncodeToString(sum[:16])))
	_, err = s.o.Queue.EnqueueContext(ctx, task, asynq.MaxRetry(s.o.Config.Worker.MaxRetry), asynq.Retention(s.o.Config.Worker.TaskRetention))
	if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) && !errors.Is(err, asynq.ErrDuplicateTask) {
		return false, fmt.Errorf("discussions: enqueue reply: %w: %w", httpapi.ErrStoreUnavailable, err)
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
	for _, m := range msgs {
		if m.Internal || m.FromCustomer || m.ExternalID != "" || done[m.ID] {
			continue // only agents' public replies not yet sent, never the bridge's own writes
		}
		if err := s.send(ctx, a, &d, m); err != nil {
			return err
		}
		if err := out.add(ctx, m.ID); err != nil {
			return err
		}
		sent++
	}
	status := map[connectors.Status]string{connectors.StatusSolved: StatusSolved, connectors.StatusPending: StatusPending, connectors.StatusOpen: StatusOpen}[p.Status]
	if sent == 0 && status == "" {
		return nil
	}
	// Written with Update, like Mirror's: the discussion API may have set
	// the read flag or a merchant ticket id meanwhile, without the lease.
	_, err = s.o.Store.Update(ctx, d.Merchant, d.Account, d.ThreadID, func(cur *Discussion) error {
		cur.Messages += sent
		if sent > 0 {
			cur.LastMessageAt = d.LastMessageAt
			cur.Read = true // an agent answered it
		}
		if status != "" {
			cur.Status = status // the ticket's status, after the reply
		}
		return nil
	})
	return err
}

// send posts one agent message to the thread, or explains on the ticket
// why the marketplace would not take it.
func (s *Service) send(ctx context.Context, a *account, d *Discussion, m connectors.TicketMessage) error {
	caps := a.mp.Capabilities()
	body := PlainText(cmp.Or(m.BodyHTML, m.BodyText))
	to, body := recipients(body, d)
	r := connectors.Reply{To: to}
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
			return s.refuse(ctx, a, d, m, fmt.Sprintf("the attachment %q was not fetched: its link points to %s, where the bridge never downloads from", cmp.Or(att.Name, "attachment"), refused))
		case errors.Is(err, errAsLink):
			link, lerr := s.link(ctx, a.helpdesk.ID, att)
			if errors.Is(lerr, errNoLink) {
				return s.refuse(ctx, a, d, m, strings.TrimPrefix(lerr.Error(), errNoLink.Error()+": "))
			}
			if lerr != nil {
				return lerr
			}
			links = append(links, cmp.Or(att.Name, "attachment")+": "+link)
		default:
			return err
		}
	}
	if len(links) > 0 {
		body = strings.TrimSpace(body) + "\n\n" + strings.Join(links, "\n")
	}
	r.Body = strings.TrimSpace(body)
	if why := checkReply(r, caps); why != "" {
		return s.refuse(ctx, a, d, m, why)
	}

	pending := s.o.Store.key(d.Merchant, "pend", a.helpdesk.ID, m.ID)
	if since, err := s.o.Store.rdb.Get(ctx, pending).Time(); err == nil {
		// A send of this message was cut short: it may have arrived.
		if id, found, err := s.findSent(ctx, a, d, r.Body, since); err != nil {
			return err
		} else if found {
			return s.o.Store.own(d.Merchant, d.Account, d.ThreadID).add(ctx, id)
		}
	}
	if err := s.o.Store.rdb.Set(ctx, pending, s.o.Now().Add(-time.Minute), 7*24*time.Hour).Err(); err != nil {
		return err
	}
	sent, err := a.mp.Reply(ctx, d.ThreadID, r)
	if errors.Is(err, connectors.ErrInvalid) || errors.Is(err, connectors.ErrTooLarge) {
		return s.refuse(ctx, a, d, m, err.Error())
	}
	if err != nil {
		return fmt.Errorf("discussions: reply to thread %s: %w", d.ThreadID, err)
	}
	if err := s.o.Store.own(d.Merchant, d.Account, d.ThreadID).add(ctx, sent.MessageID); err != nil {
		return err
	}
	d.LastMessageAt = s.o.Now()
	zerolog.Ctx(ctx).Info().Str("account", d.Account).Str("thread", d.ThreadID).Int("files", len(r.Files)).Int("links", len(links)).Msg("reply sent")
	return nil
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

// refuse leaves an internal note saying why a reply did not go out: a
// refused reply is never silent.
func (s *Service) refuse(ctx context.Context, a *account, d *Discussion, m connectors.TicketMessage, why string) error {
	note := connectors.Message{
		Internal: true, ExternalID: "bridge-refused-" + m.ID,
		BodyText: fmt.Sprintf("This reply was not sent to %s: %s\n\nEdit it and send it again, or answer in the %s back office.", a.cfg.Name, why, a.cfg.Name),
	}
	if err := a.hd.AddMessage(ctx, d.TicketID, note); err != nil {
		return fmt.Errorf("discussions: note a refused reply on ticket %s: %w", d.TicketID, err)
	}
	zerolog.Ctx(ctx).Warn().Str("account", d.Account).Str("thread", d.ThreadID).Msg("reply refused by the marketplace; noted on the ticket")
	return nil
}

// checkReply applies the marketplace's stated limits before sending.
func checkReply(r connectors.Reply, caps connectors.MarketplaceCapabilities) string {
	n := len([]rune(r.Body))
	switch {
	case caps.MinBodyChars > 0 && n < caps.MinBodyChars:
		return fmt.Sprintf("the text is %d characters long; the marketplace needs at least %d", n, caps.MinBodyChars)
	case caps.MaxBodyChars > 0 && n > caps.MaxBodyChars:
		return fmt.Sprintf("the text is %d characters long; the marketplace takes at most %d", n, caps.MaxBodyChars)
	}
	return ""
}

// recipientLine is the documented way for an agent to choose who gets a
// reply: a first line "To: customer", "To: operator" or "To: customer,
// operator" (also "both"), removed from the text sent.
var recipientLine = regexp.MustCompile(`(?i)^\s*to\s*:\s*(customer|operator|both|all|customer\s*(?:,|and|&|\+)\s*operator|operator\s*(?:,|and|&|\+)\s*customer)\s*$`)

func recipients(body string, d *Discussion) ([]connectors.PartyType, string) {
	first, rest, _ := strings.Cut(body, "\n")
	if m := recipientLine.FindStringSubmatch(first); m != nil {
		who := strings.ToLower(m[1])
		switch {
		case who == "customer":
			return []connectors.PartyType{connectors.PartyCustomer}, rest
		case who == "operator":
			return []connectors.PartyType{connectors.PartyOperator}, rest
		default:
			return []connectors.PartyType{connectors.PartyCustomer, connectors.PartyOperator}, rest
		}
	}
	if d.CustomerName == "" && d.Type == "other" {
		return []connectors.PartyType{connectors.PartyOperator}, body // a thread with the operator only
	}
	return []connectors.PartyType{connectors.PartyCustomer}, body
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
