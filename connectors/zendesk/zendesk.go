// Package zendesk is the bridge's connector to Zendesk Support: a
// connectors.Helpdesk over the Ticketing API (/api/v2), authenticated with
// an agent's API token.
//
// Ticket creation is idempotent twice over. The connector first lists the
// tickets carrying the external id (external ids are not unique in
// Zendesk, so it takes the oldest live one), and only then creates, with an
// Idempotency-Key derived from the external id so that a retry after a
// lost answer replays the first creation instead of making a second ticket.
//
// Zendesk has no per-comment external id, back-dating or attachment by URL
// on ticket update, so SentAt is not sent and Attachments are listed as
// links under the message. NewTicket.Language is not sent either: Zendesk
// takes a numeric locale_id per user, not a language code.
//
// Files are copied: each goes up with Upload Files (POST /api/v2/uploads
// ?filename=, the raw bytes as the body, with their Content-Type), which
// answers a token, and the comment names the tokens in its uploads.
//
// AddMessage with an external id appends at most once. Comments keep no
// external id and no metadata of their own that the reference documents,
// but an update may carry ticket.metadata (write only), which Zendesk
// stores in the custom metadata of the audit the update makes; the audit
// lists the comment it added among its events. So the comment's update
// carries {"helpdesk_bridge_external_id": id}, and before appending the
// connector lists the ticket's audits and looks for it. This was chosen
// over a reference line in the comment's text: it needs nothing the agent
// or the customer can see or edit, and it survives an agent's redaction of
// the text. Whether List Comments also shows that custom metadata on each
// comment is UNVERIFIED, so the connector reads audits, where it is
// documented. A retry after a lost answer finds the first comment;
// uploads are made only after that look-up, and a token no comment used
// expires after 60 minutes.
//
// A marketplace operator's message (Message.FromOperator) is an internal
// note (public false) by the API agent, headed with the operator's name:
// Zendesk has no third kind of author, and a public comment by an agent
// would be mailed to the requester by the default notification triggers.
// A customer's mirrored message is a public comment authored by the
// requester, the first one included: Zendesk makes the API user the author
// of a new ticket's first comment unless comment.author_id names another
// ("Creating and updating tickets"), so CreateTicket finds the requester's
// id first (Create Or Update User, by email) and sends it as requester_id
// and author_id. Whether the account's "notify requester" triggers mail it
// back depends on their conditions, which is why the admin setup (see
// webhook.go) excludes updates made through the API.
//
// DownloadAttachment sends the agent's credentials only to the account's
// own host, as the Attachments reference asks (content_url may be hosted
// elsewhere); private attachments on the account's host need them. It
// fetches only from the hosts the account serves files from (FileHosts;
// connectors.ErrRefusedURL otherwise, before any request and on every
// redirect): the account's own host (https://{subdomain}.zendesk.com, the
// documented base URL, helpdesks.md §3), plus the hosts the operator
// lists. That content_url sits on the account's host, as in the fake, is
// UNVERIFIED (helpdesks.md says nothing of attachments), and so is which
// other hosts Zendesk serves files from: none is assumed, so an
// attachment elsewhere is refused, and the agent is told why, until an
// operator lists its host.
package zendesk

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/mail"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/helpdesk-bridge/bridge/connectors"
	"github.com/helpdesk-bridge/bridge/connectors/zendesk/api"
)

// Options configures a Client.
type Options struct {
	// BaseURL is the account's address, https://{subdomain}.zendesk.com,
	// possibly with a path prefix (a proxy); /api/v2/... is appended to it.
	BaseURL string
	// Email and APIToken are an agent's credentials, sent as Basic
	// {email}/token:{api_token}.
	Email    string
	APIToken string
	// HTTPClient carries the calls; the bridge passes one whose transport
	// paces them (connectors.Transport). nil means a client with a 30 s
	// timeout.
	HTTPClient *http.Client
	// DownloadClient fetches attachments, whose URLs come from the
	// helpdesk's payloads; nil means HTTPClient. The bridge passes one
	// that dials only public addresses (connectors.NewDownloadTransport).
	DownloadClient *http.Client
	// FileHosts are hosts (host or host:port) that serve the account's
	// files besides its own.
	FileHosts []string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Client is a Zendesk account. It is safe for concurrent use.
type Client struct {
	base  *url.URL
	email string
	token string
	hc    *http.Client
	dl    *http.Client
	// fileHosts are where attachments may be downloaded from.
	fileHosts []string
	now       func() time.Time
}

var _ connectors.Helpdesk = (*Client)(nil)

// New checks opts and returns a client. It makes no call.
func New(opts Options) (*Client, error) {
	u, err := url.Parse(opts.BaseURL)
	// Credentials in the URL would end up in transport error messages.
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("zendesk: new client: %w: base URL must be an absolute http(s) URL without credentials or query", connectors.ErrInvalid)
	}
	if opts.Email == "" || opts.APIToken == "" {
		return nil, fmt.Errorf("zendesk: new client: %w: email and API token are required", connectors.ErrInvalid)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawPath = ""
	c := &Client{base: u, email: opts.Email, token: opts.APIToken, hc: opts.HTTPClient, dl: opts.DownloadClient, now: opts.Now}
	c.fileHosts = append([]string{u.Host}, opts.FileHosts...)
	if c.hc == nil {
		c.hc = &http.Client{Timeout: 30 * time.Second}
	}
	if c.dl == nil {
		c.dl = c.hc
	}
	if c.now == nil {
		c.now = time.Now
	}
	return c, nil
}

// maxCreateAttempts bounds the POSTs of one CreateTicket: each retry
// follows a replayed ticket that was deleted, or a key that served another
// body.
const maxCreateAttempts = 4

// CreateTicket returns the oldest live ticket with t.ExternalID, or creates
// one.
func (c *Client) CreateTicket(ctx context.Context, t connectors.NewTicket) (connectors.Ticket, bool, error) {
	if err := checkNewTicket(t); err != nil {
		return connectors.Ticket{}, false, fmt.Errorf("zendesk: create ticket %s: %w", printableID(t.ExternalID), err)
	}
	ticket, created, err := c.createTicket(ctx, t)
	if err != nil {
		return connectors.Ticket{}, false, fmt.Errorf("zendesk: create ticket %s: %w", t.ExternalID, err)
	}
	return ticket, created, nil
}

func (c *Client) createTicket(ctx context.Context, t connectors.NewTicket) (connectors.Ticket, bool, error) {
	found, err := c.findTicket(ctx, t.ExternalID)
	if err == nil {
		return found, false, nil
	}
	if !errors.Is(err, connectors.ErrNotFound) {
		return connectors.Ticket{}, false, err
	}
	tags := slices.Clone(t.Tags)
	comment := newComment(t.Message)
	// Files go up only once the ticket is known to be missing. A retry
	// after a lost answer uploads them again, so its body differs and the
	// idempotency key answers IdempotentRequestError, which finds the
	// first ticket below.
	if err := c.attachFiles(ctx, comment, t.Message.Files); err != nil {
		return connectors.Ticket{}, false, err
	}
	req := api.TicketRequest{Ticket: api.TicketWrite{
		Subject:    t.Subject,
		Comment:    comment,
		Requester:  &api.Requester{Name: t.Requester.Name, Email: t.Requester.Email},
		Tags:       &tags,
		ExternalID: t.ExternalID,
	}}
	if t.Message.FromCustomer {
		// The first comment's author is the API user unless author_id
		// says otherwise ("Creating and updating tickets"), and author_id
		// takes an id: the requester's is found, or made, first.
		id, err := c.requesterID(ctx, t.Requester)
		if err != nil {
			return connectors.Ticket{}, false, err
		}
		req.Ticket.Requester, req.Ticket.RequesterID, comment.AuthorID = nil, id, id
	}
	if t.Message.ExternalID != "" {
		// As on AddMessage, so that ListMessages shows it.
		req.Ticket.Metadata = map[string]any{api.MetadataExternalID: t.Message.ExternalID}
	}
	body, err := json.Marshal(req)
	if err != nil {
		return connectors.Ticket{}, false, err
	}
	key := idempotencyKey(t.ExternalID)
	for range maxCreateAttempts {
		var out api.TicketResponse
		h, err := c.do(ctx, call{method: http.MethodPost, path: "/api/v2/tickets", body: body, key: key}, &out)
		var ve *vendorError
		switch {
		case errors.As(err, &ve) && ve.code == api.ErrIdempotentRequest:
			// The key already served another body: an earlier attempt with
			// other content, or a concurrent one. If its ticket is live, it
			// is the one; otherwise this body gets a key of its own.
			found, err := c.findTicket(ctx, t.ExternalID)
			if err == nil {
				return found, false, nil
			}
			if !errors.Is(err, connectors.ErrNotFound) {
				return connectors.Ticket{}, false, err
			}
			key = deriveKey(key, "body:"+digest(body))
		case err != nil:
			return connectors.Ticket{}, false, err
		case h.Get(api.HeaderIdempotencyLookup) == api.LookupHit:
			// A replay of an earlier attempt whose answer was lost. The
			// lookup did not see its ticket, so it may have been deleted
			// since: then the next key is derived from the deleted id, which
			// every replica computes alike.
			replayed, err := c.showTicket(ctx, out.Ticket.ID)
			if err == nil {
				return replayed, false, nil
			}
			if !errors.Is(err, connectors.ErrNotFound) {
				return connectors.Ticket{}, false, err
			}
			key = deriveKey(key, "after:"+strconv.FormatInt(out.Ticket.ID, 10))
		default:
			ticket := toTicket(out.Ticket, nil)
			ticket.RequesterEmail = t.Requester.Email
			return ticket, true, nil
		}
	}
	return connectors.Ticket{}, false, fmt.Errorf("%w: idempotency keys kept replaying deleted or different tickets", connectors.ErrConflict)
}

// requesterID returns the id of the user with p's email, creating an end
// user (with no verification email) when there is none. Create Or Update
// User is idempotent by email, so a retry finds the same user.
func (c *Client) requesterID(ctx context.Context, p connectors.Person) (int64, error) {
	name := p.Name
	if name == "" {
		// A new user needs a name; the address's local part is what
		// Zendesk shows for a requester created inline without one.
		name, _, _ = strings.Cut(p.Email, "@")
	}
	var out api.UserResponse
	body := api.UserRequest{User: api.UserWrite{Name: name, Email: p.Email, SkipVerifyEmail: true}}
	if _, err := c.do(ctx, call{method: http.MethodPost, path: "/api/v2/users/create_or_update", body: body}, &out); err != nil {
		return 0, fmt.Errorf("find the requester: %w", err)
	}
	if out.User.ID < 1 {
		return 0, fmt.Errorf("%w: find the requester: the answer has no user id", connectors.ErrUnavailable)
	}
	return out.User.ID, nil
}

// FindTicket returns the oldest live ticket with this external id.
func (c *Client) FindTicket(ctx context.Context, externalID string) (connectors.Ticket, error) {
	if err := checkExternalID(externalID); err != nil {
		return connectors.Ticket{}, fmt.Errorf("zendesk: find ticket %s: %w", printableID(externalID), err)
	}
	t, err := c.findTicket(ctx, externalID)
	if err != nil {
		return connectors.Ticket{}, fmt.Errorf("zendesk: find ticket %s: %w", externalID, err)
	}
	return t, nil
}

// maxListPages bounds a lookup: a hundred pages of one external id would be
// a bug elsewhere, not a list to walk.
const maxListPages = 100

func (c *Client) findTicket(ctx context.Context, externalID string) (connectors.Ticket, error) {
	q := url.Values{"external_id": {externalID}, "include": {"users"}, "per_page": {"100"}}
	var oldest *api.Ticket
	var users []api.User
	for page := 1; ; page++ {
		if page > maxListPages {
			return connectors.Ticket{}, fmt.Errorf("%w: more than %d pages of tickets share this external id", connectors.ErrConflict, maxListPages)
		}
		q.Set("page", strconv.Itoa(page))
		var out api.TicketList
		if _, err := c.do(ctx, call{method: http.MethodGet, path: "/api/v2/tickets", query: q}, &out); err != nil {
			return connectors.Ticket{}, err
		}
		for i := range out.Tickets {
			t := &out.Tickets[i]
			// The list leaves deleted tickets out; checking again costs
			// nothing and a deleted ticket must never be returned.
			if t.Status == api.StatusDeleted {
				continue
			}
			if oldest == nil || t.CreatedAt.Before(oldest.CreatedAt) || (t.CreatedAt.Equal(oldest.CreatedAt) && t.ID < oldest.ID) {
				oldest = t
			}
		}
		users = append(users, out.Users...)
		if out.NextPage == nil || len(out.Tickets) == 0 {
			break
		}
	}
	if oldest == nil {
		return connectors.Ticket{}, connectors.ErrNotFound
	}
	return toTicket(*oldest, users), nil
}

// GetTicket returns the live ticket with this id.
func (c *Client) GetTicket(ctx context.Context, id string) (connectors.Ticket, error) {
	n, err := parseID(id)
	if err == nil {
		var t connectors.Ticket
		if t, err = c.showTicket(ctx, n); err == nil {
			return t, nil
		}
	}
	return connectors.Ticket{}, fmt.Errorf("zendesk: get ticket %s: %w", printableID(id), err)
}

func (c *Client) showTicket(ctx context.Context, id int64) (connectors.Ticket, error) {
	var out api.TicketResponse
	q := url.Values{"include": {"users"}}
	if _, err := c.do(ctx, call{method: http.MethodGet, path: ticketPath(id), query: q}, &out); err != nil {
		return connectors.Ticket{}, err
	}
	if out.Ticket.Status == api.StatusDeleted {
		return connectors.Ticket{}, connectors.ErrNotFound
	}
	return toTicket(out.Ticket, out.Users), nil
}

// AddMessage adds a comment: public=false for an internal note or an
// operator's message, and authored by the requester for a message from the
// customer. With an external id it adds it at most once.
func (c *Client) AddMessage(ctx context.Context, ticketID string, m connectors.Message) error {
	if err := c.addMessage(ctx, ticketID, m); err != nil {
		return fmt.Errorf("zendesk: add message to ticket %s: %w", printableID(ticketID), err)
	}
	return nil
}

func (c *Client) addMessage(ctx context.Context, ticketID string, m connectors.Message) error {
	id, err := parseID(ticketID)
	if err != nil {
		return err
	}
	if err := checkMessage(m); err != nil {
		return err
	}
	if m.ExternalID != "" {
		written, err := c.externalIDs(ctx, id)
		if err != nil {
			return err
		}
		for _, ext := range written {
			if ext == m.ExternalID {
				return nil
			}
		}
	}
	comment := newComment(m)
	if m.FromCustomer {
		var out api.TicketResponse
		if _, err := c.do(ctx, call{method: http.MethodGet, path: ticketPath(id)}, &out); err != nil {
			return err
		}
		comment.AuthorID = out.Ticket.RequesterID
	}
	if err := c.attachFiles(ctx, comment, m.Files); err != nil {
		return err
	}
	req := api.TicketRequest{Ticket: api.TicketWrite{Comment: comment}}
	if m.ExternalID != "" {
		req.Ticket.Metadata = map[string]any{api.MetadataExternalID: m.ExternalID}
	}
	_, err = c.do(ctx, call{method: http.MethodPut, path: ticketPath(id), body: req}, nil)
	// Update Ticket takes no idempotency key: a comment that got no answer
	// may still be added, and the caller lets it settle before looking.
	return connectors.Uncertain(err)
}

// ListMessages returns the ticket's comments, oldest first, with the
// external ids the bridge wrote them with.
func (c *Client) ListMessages(ctx context.Context, ticketID string) ([]connectors.TicketMessage, error) {
	msgs, err := c.listMessages(ctx, ticketID)
	if err != nil {
		return nil, fmt.Errorf("zendesk: list messages of ticket %s: %w", printableID(ticketID), err)
	}
	return msgs, nil
}

func (c *Client) listMessages(ctx context.Context, ticketID string) ([]connectors.TicketMessage, error) {
	id, err := parseID(ticketID)
	if err != nil {
		return nil, err
	}
	var tr api.TicketResponse
	if _, err := c.do(ctx, call{method: http.MethodGet, path: ticketPath(id)}, &tr); err != nil {
		return nil, err
	}
	if tr.Ticket.Status == api.StatusDeleted {
		return nil, connectors.ErrNotFound
	}
	var comments []api.Comment
	users := map[int64]api.User{}
	q := url.Values{"include": {"users"}, "per_page": {"100"}}
	for page := 1; ; page++ {
		if page > maxListPages {
			return nil, fmt.Errorf("comment listing found no end after %d pages", maxListPages)
		}
		q.Set("page", strconv.Itoa(page))
		var out api.CommentList
		if _, err := c.do(ctx, call{method: http.MethodGet, path: ticketPath(id) + "/comments", query: q}, &out); err != nil {
			return nil, err
		}
		comments = append(comments, out.Comments...)
		for _, u := range out.Users {
			users[u.ID] = u
		}
		if out.NextPage == nil || len(out.Comments) == 0 {
			break
		}
	}
	written, err := c.externalIDs(ctx, id)
	if err != nil {
		return nil, err
	}
	slices.SortStableFunc(comments, func(a, b api.Comment) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	out := make([]connectors.TicketMessage, 0, len(comments))
	for _, cm := range comments {
		msg := connectors.TicketMessage{
			ID:           strconv.FormatInt(cm.ID, 10),
			ExternalID:   written[cm.ID],
			Internal:     !cm.Public,
			FromCustomer: cm.AuthorID == tr.Ticket.RequesterID,
			BodyText:     cmp.Or(cm.PlainBody, cm.Body),
			BodyHTML:     cm.HTMLBody,
			CreatedAt:    cm.CreatedAt,
		}
		if u, ok := users[cm.AuthorID]; ok {
			msg.Author = connectors.Person{Email: u.Email, Name: u.Name}
		}
		for _, a := range cm.Attachments {
			if a.Deleted || a.Inline {
				continue
			}
			msg.Attachments = append(msg.Attachments, connectors.Attachment{
				Name: a.FileName, ContentType: a.ContentType, Size: a.Size, URL: a.ContentURL,
			})
		}
		out = append(out, msg)
	}
	return out, nil
}

// CheckFileURL tells whether DownloadAttachment would fetch rawURL: it is
// on a host the account serves files from.
func (c *Client) CheckFileURL(rawURL string) error {
	if err := connectors.FileURLAllowed(rawURL, c.fileHosts); err != nil {
		return fmt.Errorf("zendesk: attachment: %w", err)
	}
	return nil
}

// DownloadAttachment fetches an attachment, with the agent's credentials
// only when it is on the account's own host.
func (c *Client) DownloadAttachment(ctx context.Context, rawURL string) (io.ReadCloser, string, error) {
	body, contentType, err := c.download(ctx, rawURL)
	if err != nil {
		// The URL stays out: it carries the attachment's access token.
		return nil, "", fmt.Errorf("zendesk: download attachment: %w", err)
	}
	return body, contentType, nil
}

// externalIDs maps the ids of the comments the bridge wrote with an
// external id to that id, from the custom metadata of the ticket's audits.
func (c *Client) externalIDs(ctx context.Context, id int64) (map[int64]string, error) {
	written := map[int64]string{}
	q := url.Values{"per_page": {"100"}}
	for page := 1; ; page++ {
		if page > maxListPages {
			return nil, fmt.Errorf("audit listing found no end after %d pages", maxListPages)
		}
		q.Set("page", strconv.Itoa(page))
		var out api.AuditList
		if _, err := c.do(ctx, call{method: http.MethodGet, path: ticketPath(id) + "/audits", query: q}, &out); err != nil {
			return nil, err
		}
		for _, a := range out.Audits {
			ext, _ := a.Metadata.Custom[api.MetadataExternalID].(string)
			if ext == "" {
				continue
			}
			for _, e := range a.Events {
				if e.Type == api.AuditEventComment {
					written[e.ID] = ext
				}
			}
		}
		if out.NextPage == nil || len(out.Audits) == 0 {
			return written, nil
		}
	}
}

// attachFiles uploads files, one token each, and names the tokens in the
// comment.
func (c *Client) attachFiles(ctx context.Context, comment *api.NewComment, files []connectors.File) error {
	for _, f := range files {
		var out api.UploadResponse
		q := url.Values{"filename": {f.Name}}
		cl := call{method: http.MethodPost, path: "/api/v2/uploads", query: q, body: f.Data, contentType: cmp.Or(f.ContentType, "application/octet-stream")}
		if _, err := c.do(ctx, cl, &out); err != nil {
			return err
		}
		if out.Upload.Token == "" {
			return fmt.Errorf("%w: upload answered no token", connectors.ErrUnavailable)
		}
		comment.Uploads = append(comment.Uploads, out.Upload.Token)
	}
	return nil
}

// checkMessage refuses, before any call, a message Zendesk or the port
// would refuse.
func checkMessage(m connectors.Message) error {
	switch {
	case strings.TrimSpace(m.BodyText) == "":
		return fmt.Errorf("%w: message body is required", connectors.ErrInvalid)
	case m.FromCustomer && (m.Internal || m.FromOperator):
		return fmt.Errorf("%w: a customer message cannot be an internal note or the operator's", connectors.ErrInvalid)
	case m.FromOperator && strings.TrimSpace(m.Author.Name) == "":
		return fmt.Errorf("%w: the author name of an operator message is required", connectors.ErrInvalid)
	case len(m.ExternalID) > connectors.MaxExternalIDLen:
		return fmt.Errorf("%w: message external id is longer than %d bytes", connectors.ErrInvalid, connectors.MaxExternalIDLen)
	}
	for _, f := range m.Files {
		if strings.TrimSpace(f.Name) == "" || len(f.Data) == 0 {
			return fmt.Errorf("%w: files need a name and content", connectors.ErrInvalid)
		}
	}
	return nil
}

// SetTags replaces the ticket's tags with Set Tags (POST .../tags): the
// endpoint documented to replace the list, and not the one the docs put
// under Update Ticket's own 100-a-minute limit, which AddMessage and
// SetStatus already draw on. An empty list goes through Update Ticket
// instead (documented to replace the tags it is given): Set Tags with no
// tags is not documented.
func (c *Client) SetTags(ctx context.Context, ticketID string, tags []string) error {
	id, err := parseID(ticketID)
	if err == nil {
		if len(tags) == 0 {
			empty := []string{}
			req := api.TicketRequest{Ticket: api.TicketWrite{Tags: &empty}}
			_, err = c.do(ctx, call{method: http.MethodPut, path: ticketPath(id), body: req}, nil)
		} else {
			_, err = c.do(ctx, call{method: http.MethodPost, path: ticketPath(id) + "/tags", body: api.Tags{Tags: tags}}, nil)
		}
	}
	if err != nil {
		return fmt.Errorf("zendesk: set tags on ticket %s: %w", printableID(ticketID), err)
	}
	return nil
}

// SetStatus sets open, pending or solved, which Zendesk knows by the same
// names.
func (c *Client) SetStatus(ctx context.Context, ticketID string, s connectors.Status) error {
	id, err := parseID(ticketID)
	if err == nil {
		switch s {
		case connectors.StatusOpen, connectors.StatusPending, connectors.StatusSolved:
			req := api.TicketRequest{Ticket: api.TicketWrite{Status: string(s)}}
			_, err = c.do(ctx, call{method: http.MethodPut, path: ticketPath(id), body: req}, nil)
		default:
			err = fmt.Errorf("%w: unknown status %q", connectors.ErrInvalid, s)
		}
	}
	if err != nil {
		return fmt.Errorf("zendesk: set status of ticket %s: %w", printableID(ticketID), err)
	}
	return nil
}

// checkNewTicket refuses, before any call, what Zendesk or the bridge's
// contract would refuse. Errors name the field, never its value.
func checkNewTicket(t connectors.NewTicket) error {
	if err := checkExternalID(t.ExternalID); err != nil {
		return err
	}
	switch {
	case strings.TrimSpace(t.Subject) == "":
		return fmt.Errorf("%w: subject is required", connectors.ErrInvalid)
	case !validEmail(t.Requester.Email):
		return fmt.Errorf("%w: requester email is missing or malformed", connectors.ErrInvalid)
	}
	return checkMessage(t.Message)
}

// checkExternalID counts bytes, not characters: the stricter reading of
// Zendesk's 255.
func checkExternalID(id string) error {
	if id == "" || len(id) > connectors.MaxExternalIDLen {
		return fmt.Errorf("%w: external_id must be 1 to %d bytes", connectors.ErrInvalid, connectors.MaxExternalIDLen)
	}
	return nil
}

// validEmail accepts a bare address whose domain has a dot.
func validEmail(e string) bool {
	a, err := mail.ParseAddress(e)
	if err != nil || a.Address != e {
		return false
	}
	_, domain, _ := strings.Cut(e, "@")
	return strings.Contains(domain, ".")
}

// printableID keeps error strings short when an id is refused for its
// length.
func printableID(id string) string {
	if len(id) > connectors.MaxExternalIDLen {
		return id[:32] + "..."
	}
	return id
}

// parseID reads a Zendesk ticket id. Anything else cannot name a ticket.
func parseID(id string) (int64, error) {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%w: ticket ids are positive integers", connectors.ErrNotFound)
	}
	return n, nil
}

func ticketPath(id int64) string { return "/api/v2/tickets/" + strconv.FormatInt(id, 10) }

// idempotencyKey derives the key of a ticket's creation from its external
// id alone, so that every attempt and every replica sends the same key.
func idempotencyKey(externalID string) string {
	return "helpdesk-bridge-" + digest([]byte(externalID))
}

// deriveKey chains a new key from the previous one and what made it
// unusable, deterministically.
func deriveKey(prev, why string) string {
	return "helpdesk-bridge-" + digest([]byte(prev+"\x00"+why))
}

func digest(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// newComment always sends public: Zendesk carries the previous value over
// when it is absent, and an alert must never reach the customer by
// accident.
func newComment(m connectors.Message) *api.NewComment {
	public := !m.Internal && !m.FromOperator
	c := &api.NewComment{Body: m.BodyText, HTMLBody: m.BodyHTML, Public: &public}
	if m.FromOperator {
		// The note's author is the API agent, so the body is the only
		// place to say who wrote it.
		c.Body = m.Author.Name + " wrote:\n\n" + c.Body
		if c.HTMLBody != "" {
			c.HTMLBody = "<p><strong>" + html.EscapeString(m.Author.Name) + "</strong> wrote:</p>" + c.HTMLBody
		}
	}
	if len(m.Attachments) > 0 {
		var text, markup strings.Builder
		for _, a := range m.Attachments {
			fmt.Fprintf(&text, "\n- %s: %s", a.Name, a.URL)
			fmt.Fprintf(&markup, `<li><a href="%s">%s</a></li>`, html.EscapeString(a.URL), html.EscapeString(a.Name))
		}
		c.Body += "\n\nAttachments:" + text.String()
		if c.HTMLBody != "" {
			c.HTMLBody += "<p>Attachments:</p><ul>" + markup.String() + "</ul>"
		}
	}
	return c
}

// toTicket maps a Zendesk ticket; the requester's email comes from the
// side-loaded users when there are some.
func toTicket(t api.Ticket, users []api.User) connectors.Ticket {
	out := connectors.Ticket{
		ID:         strconv.FormatInt(t.ID, 10),
		ExternalID: t.ExternalID,
		Subject:    t.Subject,
		Status:     toStatus(t.Status),
		Tags:       slices.Clone(t.Tags),
	}
	for _, u := range users {
		if u.ID == t.RequesterID {
			out.RequesterEmail = u.Email
		}
	}
	return out
}

// toStatus folds Zendesk's six statuses into the bridge's three: new and
// hold are open work, closed is a solved ticket that can no longer change.
func toStatus(s string) connectors.Status {
	switch s {
	case api.StatusPending:
		return connectors.StatusPending
	case api.StatusSolved, api.StatusClosed:
		return connectors.StatusSolved
	default:
		return connectors.StatusOpen
	}
}

// IsUpdateTicket tells whether req is a call to Update Ticket
// (PUT /api/v2/tickets/{id}), which Zendesk limits on its own besides the
// account's limit: the bridge paces those calls on a budget of their own
// (connectors.Transport.Narrower).
func IsUpdateTicket(req *http.Request) bool {
	if req.Method != http.MethodPut {
		return false
	}
	_, rest, ok := strings.Cut(req.URL.Path, "/api/v2/tickets/")
	return ok && rest != "" && !strings.Contains(rest, "/")
}
