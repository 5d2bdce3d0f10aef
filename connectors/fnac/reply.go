package fnac

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/helpdesk-bridge/bridge/connectors"
	"github.com/helpdesk-bridge/bridge/connectors/fnac/api"
)

// Reply answers the thread's latest message from its correspondent.
func (c *Client) Reply(ctx context.Context, threadID string, r connectors.Reply) (connectors.SentReply, error) {
	fail := func(err error) (connectors.SentReply, error) {
		return connectors.SentReply{}, fmt.Errorf("fnac: reply to thread %s: %w", connectors.ShortID(threadID), connectors.WithholdQuoted(err, r.Body))
	}
	to, err := checkReply(r)
	if err != nil {
		return fail(err)
	}
	th, err := c.thread(ctx, threadID)
	if err != nil {
		return fail(err)
	}
	parent := ""
	for _, m := range th.Messages {
		if m.From.Type == connectors.PartyCustomer || m.From.Type == connectors.PartyOperator {
			parent = m.ID // oldest first: the last one wins
		}
	}
	subject := api.SubjectOrderInformation
	if th.Entity.RawType == api.TypeOffer {
		subject = api.SubjectProductInformation
	}
	update := api.MessageUpdate{
		Action: api.ActionReply, ID: parent, To: to,
		Subject: subject, Description: r.Body, Type: th.Entity.RawType,
	}
	if err := c.update(ctx, []api.MessageUpdate{update}); err != nil {
		// messages_update takes no idempotency key: a reply that got no
		// answer may still be posted, and the caller must let it settle.
		return fail(connectors.Uncertain(err))
	}
	sent := connectors.SentReply{ThreadID: th.ID}
	// Fnac's answer names the message answered: find the new one. The
	// reply is posted whatever this finds, but the caller needs its id to
	// know it as its own: without it the next sync would mirror the reply
	// back into the ticket. A read that fails leaves the reply as one
	// whose answer was lost, which the caller looks up before it sends
	// anything again. Only ErrUncertain is kept of the read's error: a
	// refused read must not read as a refused reply.
	again, err := c.thread(ctx, th.ID)
	if err != nil {
		return fail(fmt.Errorf("%w: posted, but the read for its id failed: %v", connectors.ErrUncertain, err))
	}
	for _, m := range again.Messages {
		if m.From.Type == connectors.PartyShop && m.Body == r.Body && !slices.ContainsFunc(th.Messages, func(old connectors.ThreadMessage) bool { return old.ID == m.ID }) {
			sent.MessageID = m.ID
		}
	}
	return sent, nil
}

// checkReply checks a reply against what messages_update takes, and
// returns its message_to.
func checkReply(r connectors.Reply) (string, error) {
	switch {
	case strings.TrimSpace(r.Body) == "":
		return "", invalid("the body is empty")
	case utf8.RuneCountInString(r.Body) > api.MaxReplyChars:
		return "", invalid(fmt.Sprintf("the body is longer than %d characters", api.MaxReplyChars))
	case len(r.Files) > 0:
		return "", invalid("Fnac replies cannot carry files")
	case len(r.To) == 0:
		return "", invalid("a reply needs a recipient")
	}
	client, callCenter := false, false
	for _, to := range r.To {
		switch to {
		case connectors.PartyCustomer:
			client = true
		case connectors.PartyOperator:
			callCenter = true
		default:
			return "", invalid(fmt.Sprintf("a reply cannot be addressed to %q", to))
		}
	}
	switch {
	case client && callCenter:
		return api.ToAll, nil
	case callCenter:
		return api.ToCallCenter, nil
	}
	return api.ToClient, nil
}

// update sends messages_update and fails unless every message is OK. A
// message Fnac refused is ErrInvalid with Fnac's code and text.
func (c *Client) update(ctx context.Context, msgs []api.MessageUpdate) error {
	var resp api.MessagesUpdateResponse
	err := c.call(ctx, api.ServiceMessagesUpdate, func(h api.Header) any {
		return api.MessagesUpdate{Header: h, Messages: msgs}
	}, &resp)
	if err != nil {
		return err
	}
	var errs []error
	for _, m := range msgs {
		i := slices.IndexFunc(resp.Messages, func(s api.MessageStatus) bool { return s.ID == m.ID })
		if i < 0 {
			if isFailure(resp.Status) {
				errs = append(errs, fmt.Errorf("message %s: %w: refused%s", connectors.ShortID(m.ID), connectors.ErrInvalid, errorText(resp.Errors)))
			}
			continue // OK as a whole, without a word on this one
		}
		if st := resp.Messages[i]; isFailure(st.Status) {
			errs = append(errs, &connectors.APIError{Status: http.StatusOK, Kind: connectors.ErrInvalid,
				Message: "message " + connectors.ShortID(m.ID) + strings.TrimSpace(errorText(st.Errors))})
		}
	}
	return errors.Join(errs...)
}

// DownloadAttachment streams a message file (id "<message_id>/<n>").
func (c *Client) DownloadAttachment(ctx context.Context, attachmentID string) (io.ReadCloser, connectors.AttachmentMeta, error) {
	fail := func(err error) (io.ReadCloser, connectors.AttachmentMeta, error) {
		return nil, connectors.AttachmentMeta{}, fmt.Errorf("fnac: download attachment %s: %w", connectors.ShortID(attachmentID), err)
	}
	msgID, n, ok := strings.Cut(attachmentID, "/")
	index, err := strconv.Atoi(n)
	if !ok || err != nil || index < 0 || !uuidLike.MatchString(msgID) {
		if _, err := c.token(ctx); err != nil {
			return fail(err)
		}
		return fail(fmt.Errorf("%w: not an attachment id", connectors.ErrNotFound))
	}
	m, err := c.message(ctx, msgID)
	if err != nil {
		return fail(err)
	}
	if index >= len(m.Files) {
		return fail(fmt.Errorf("%w: no such file", connectors.ErrNotFound))
	}
	f := m.Files[index]
	if err := connectors.FileURLAllowed(f.URL, c.fileHosts); err != nil {
		return fail(err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.URL, nil)
	if err != nil {
		return fail(err)
	}
	req.Header.Set("User-Agent", "helpdesk-bridge")
	resp, err := c.hc.Do(req)
	if err != nil {
		return fail(connectors.TransportError(ctx, err))
	}
	if resp.StatusCode < 200 || resp.StatusCode >= 300 {
		resp.Body.Close()
		return fail(connectors.StatusError(resp, "", c.now()))
	}
	meta := connectors.AttachmentMeta{ID: attachmentID, Name: f.Name, Size: resp.ContentLength}
	return connectors.LimitDownload(resp.Body, maxDownloadBytes), meta, nil
}

// MarkRead marks the messages of a mirrored thread read on Fnac: the
// client's or call centre's messages it holds, no later ones.
func (c *Client) MarkRead(ctx context.Context, th connectors.Thread) error {
	var msgs []api.MessageUpdate
	for _, m := range th.Messages {
		if m.From.Type == connectors.PartyCustomer || m.From.Type == connectors.PartyOperator {
			msgs = append(msgs, api.MessageUpdate{Action: api.ActionMarkAsRead, ID: m.ID})
		}
	}
	if err := c.updateAll(ctx, msgs); err != nil {
		return fmt.Errorf("fnac: mark thread %s read: %w", connectors.ShortID(th.ID), err)
	}
	return nil
}

// Archive archives every message of a thread on Fnac, the shop's own
// included.
func (c *Client) Archive(ctx context.Context, threadID string) error {
	th, err := c.thread(ctx, threadID)
	if err == nil {
		var msgs []api.MessageUpdate
		for _, m := range th.Messages {
			msgs = append(msgs, api.MessageUpdate{Action: api.ActionArchive, ID: m.ID})
		}
		err = c.updateAll(ctx, msgs)
	}
	if err != nil {
		return fmt.Errorf("fnac: archive thread %s: %w", connectors.ShortID(threadID), err)
	}
	return nil
}

// Mirrored is called once a thread is mirrored: it marks the thread read
// when Options.MarkReadAfterMirroring says so.
func (c *Client) Mirrored(ctx context.Context, th connectors.Thread) error {
	if !c.markRead {
		return nil
	}
	return c.MarkRead(ctx, th)
}

// Closed is called once a thread's ticket is closed: it archives the
// thread when Options.ArchiveWhenClosed says so.
func (c *Client) Closed(ctx context.Context, threadID string) error {
	if !c.archiveWhenClosed {
		return nil
	}
	return c.Archive(ctx, threadID)
}

// updateAll sends messages_update in batches of a page's size.
func (c *Client) updateAll(ctx context.Context, msgs []api.MessageUpdate) error {
	for batch := range slices.Chunk(msgs, api.DefaultResultsCount) {
		if err := c.update(ctx, batch); err != nil {
			return err
		}
	}
	return nil
}

func invalid(what string) error { return fmt.Errorf("%w: %s", connectors.ErrInvalid, what) }
