package rakuten

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/helpdesk-bridge/bridge/connectors"
	"github.com/helpdesk-bridge/bridge/connectors/rakuten/api"
)

// Contact windows, from Rakuten's pages (reference §b):
//   - the buyer may be contacted when the item has no claim, was not
//     declared received more than 15 days ago and was not ordered more
//     than 42 days ago; or when its claim is amicable;
//   - Rakuten may be contacted when the item was not declared received
//     more than 30 days ago. The page is cut there: the rest is
//     UNVERIFIED.
//
// Besides these rules, an item's availableactions say what Rakuten allows
// on it now; when they are listed and lack the contact, the reply is
// refused too. The rules cannot see what the pages leave out; the list
// can. The receipt date is the item log ITEM_RECEIVED (an UNVERIFIED
// code). A refusal by Rakuten itself after sending is ErrInvalid with its
// message, like any ParameterError.
const (
	BuyerWindowAfterReceipt   = 15 * 24 * time.Hour
	BuyerWindowAfterOrder     = 42 * 24 * time.Hour
	RakutenWindowAfterReceipt = 30 * 24 * time.Hour
)

// WindowError is a reply refused before sending because Rakuten's contact
// window is closed. It is ErrInvalid, and its Error reads as a note for
// the agent.
type WindowError struct {
	ItemID string
	To     connectors.PartyType
	Reason string
}

func (e *WindowError) Error() string {
	who := "the buyer"
	if e.To == connectors.PartyOperator {
		who = "Rakuten's customer service"
	}
	return fmt.Sprintf("not sent: Rakuten no longer lets the shop write to %s about item %s: %s", who, e.ItemID, e.Reason)
}

func (e *WindowError) Unwrap() error { return connectors.ErrInvalid }

func day(t time.Time) string { return t.In(api.Paris).Format("02/01/2006") }

// receivedAt is when the buyer declared the item received, if they did.
func receivedAt(info api.ItemInfo) (time.Time, bool) {
	for _, l := range info.Logs {
		if strings.EqualFold(strings.TrimSpace(l.Code), api.LogItemReceived) {
			if t, err := api.ParseTime(l.CreationDate); err == nil {
				return t, true
			}
		}
	}
	return time.Time{}, false
}

// CheckWindow returns a *WindowError when Rakuten's rules forbid writing
// to (PartyCustomer or PartyOperator) about the item now, or nil.
func CheckWindow(info api.ItemInfo, to connectors.PartyType, now time.Time) error {
	id := strings.TrimSpace(info.ItemID)
	refuse := func(format string, args ...any) error {
		return &WindowError{ItemID: id, To: to, Reason: fmt.Sprintf(format, args...)}
	}
	received, isReceived := receivedAt(info)
	if to == connectors.PartyOperator {
		if isReceived && now.Sub(received) > RakutenWindowAfterReceipt {
			return refuse("the buyer declared it received on %s, more than 30 days ago", day(received))
		}
		if has, listed := info.HasAction(api.ActionContactUsAboutItem, api.ActionContactPriceMinister); listed && !has {
			return refuse("Rakuten's actions on the item no longer offer it")
		}
		return nil
	}
	claim := info.Claim
	amicable := claim != nil && strings.EqualFold(strings.TrimSpace(claim.Amicable), "Y")
	switch {
	case amicable:
	case claim != nil:
		return refuse("the buyer's claim is not amicable, so Rakuten's customer service handles it; write to Rakuten in the item's Rakuten thread")
	case isReceived && now.Sub(received) > BuyerWindowAfterReceipt:
		return refuse("the buyer declared it received on %s, more than 15 days ago", day(received))
	default:
		if ordered, err := api.ParseTime(info.Date); err == nil && now.Sub(ordered) > BuyerWindowAfterOrder {
			return refuse("it was ordered on %s, more than 42 days ago", day(ordered))
		}
	}
	if has, listed := info.HasAction(api.ActionContactUserAboutItem); listed && !has {
		return refuse("Rakuten's actions on the item no longer offer it")
	}
	return nil
}

// Reply sends a message to the thread's correspondent: the buyer with
// contactuseraboutitem, Rakuten with contactusaboutitem.
func (c *Client) Reply(ctx context.Context, threadID string, r connectors.Reply) (connectors.SentReply, error) {
	fail := func(err error) (connectors.SentReply, error) {
		return connectors.SentReply{}, fmt.Errorf("rakuten: reply to thread %s: %w", connectors.ShortID(threadID), connectors.WithholdQuoted(err, r.Body))
	}
	itemID, corr, ok := parseThreadID(threadID)
	if !ok {
		_, _, err := c.thread(ctx, threadID) // checks the credentials, then not found
		return fail(err)
	}
	to := connectors.PartyCustomer
	if corr == CorrRakuten {
		to = connectors.PartyOperator
	}
	if err := checkReply(r, to); err != nil {
		return fail(err)
	}
	before, info, err := c.thread(ctx, threadID)
	if err != nil {
		return fail(err)
	}
	if err := CheckWindow(info, to, c.now()); err != nil {
		return fail(err)
	}
	var res api.StatusResult
	params := url.Values{api.ParamItemID: {itemID}, api.ParamContent: {r.Body}}
	action := api.ActionContactUserAboutItem
	if to == connectors.PartyOperator {
		action = api.ActionContactUsAboutItem
		if parent := latestMail(c, before); parent != "" {
			params.Set(api.ParamMailParentID, parent)
		}
	}
	if err := c.call(ctx, action, params, &res); err != nil {
		// Rakuten takes no idempotency key: a reply that got no answer
		// may still be posted.
		return fail(connectors.Uncertain(err))
	}
	if st := strings.TrimSpace(res.Response.Status); st != api.StatusSent {
		return fail(fmt.Errorf("%w: Rakuten answered status %q", connectors.ErrInvalid, clip(st)))
	}
	sent := connectors.SentReply{ThreadID: threadID}
	// The answer names no message: find the new one. The reply is sent
	// whatever this finds; a failure leaves the id empty rather than have
	// the caller send it again.
	if again, _, err := c.thread(ctx, threadID); err == nil {
		for _, m := range again.Messages {
			if m.From.Type == connectors.PartyShop && m.Body == strings.TrimSpace(r.Body) &&
				!slices.ContainsFunc(before.Messages, func(old connectors.ThreadMessage) bool { return old.ID == m.ID }) {
				sent.MessageID = m.ID
			}
		}
	}
	return sent, nil
}

// latestMail is the id of Rakuten's latest mail in the thread, answered
// by the reply.
func latestMail(c *Client, th connectors.Thread) string {
	id := ""
	for _, m := range th.Messages {
		if m.From.Type == connectors.PartyOperator {
			id = m.ID // oldest first: the last one wins
		}
	}
	return id
}

// checkReply checks a reply against what Rakuten takes: plain text within
// the bound, no files, to the thread's correspondent only.
func checkReply(r connectors.Reply, correspondent connectors.PartyType) error {
	switch {
	case strings.TrimSpace(r.Body) == "":
		return invalid("the body is empty")
	case utf8.RuneCountInString(r.Body) > api.MaxContentChars:
		return invalid(fmt.Sprintf("the body is longer than %d characters", api.MaxContentChars))
	case len(r.Files) > 0:
		return invalid("Rakuten's messages cannot carry files")
	case len(r.To) == 0:
		return invalid("a reply needs a recipient")
	}
	for _, to := range r.To {
		switch to {
		case correspondent:
		case connectors.PartyCustomer, connectors.PartyOperator:
			return invalid(fmt.Sprintf("this thread is with the %s: a message to the %s goes in the item's other thread", correspondent, to))
		default:
			return invalid(fmt.Sprintf("a reply cannot be addressed to %q", to))
		}
	}
	return nil
}

// Correspondent is whom a thread's replies go to: the buyer, or Rakuten's
// customer service. The bridge sends a reply without a recipient there.
func (c *Client) Correspondent(threadID string) (connectors.PartyType, bool) {
	switch _, corr, ok := parseThreadID(threadID); {
	case !ok:
		return "", false
	case corr == CorrRakuten:
		return connectors.PartyOperator, true
	default:
		return connectors.PartyCustomer, true
	}
}
