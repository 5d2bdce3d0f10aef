// Package gorgias is the bridge's connector to a Gorgias helpdesk account,
// through its REST API (https://{domain}.gorgias.com/api/...), with HTTP
// Basic auth as a dedicated API user (email and API key).
//
// How it maps the connectors.Helpdesk port, and why:
//   - CreateTicket always looks the external id up first (GET /api/tickets
//     ?external_id=…&trashed=false), because Gorgias has no idempotency key
//     and asynq may run a task twice. trashed defaults to true in Gorgias,
//     so the client sends trashed=false AND skips any ticket carrying a
//     trashed_datetime or another external id, in case an API version
//     ignores a filter. Among several live matches it takes the oldest, so
//     that every replica settles on the same ticket, and moves the others
//     to the trash (PUT /api/tickets/{id} with trashed_datetime, which an
//     agent can undo). It does not look again after a create: a create
//     that got no answer is given a settle delay before the next look-up
//     (below), and a duplicate that lands later still is trashed by the
//     next look-up of its external id; a second look-up on every create
//     would cost a third of the account's budget for tickets.
//   - A create, a message append or a tag create that got no answer (a
//     timeout, a dropped connection, a cut answer, a 5xx) may still land:
//     the error carries connectors.ErrUncertain, and the caller waits a
//     settle delay before calling again (see bridge/settle), since a
//     look-up made while Gorgias is still handling the first request
//     would miss it.
//   - Tickets are created with channel and via "api" (auto-reply rules do
//     not fire on that channel) and exactly one message.
//   - An internal note is channel "internal-note", via "api", from_agent
//     true, sent by the API user. Any other message is channel "api",
//     from_agent false for the customer's own messages (customer sender, no
//     receiver) and true otherwise, and always carries sent_datetime: a
//     message with sent_datetime is imported, never sent to anyone.
//   - A message from a marketplace operator (Message.FromOperator) is an
//     internal note headed with the operator's name. Gorgias has no third
//     kind of author, and the alternative, an api-channel message with
//     from_agent true, would read as an agent's reply: in the thread, to
//     the agents, and to the bridge's own "ticket message created"
//     integration, which relays agents' public replies back to the
//     marketplace.
//   - Files are copied with POST /api/upload?type=attachment (multipart,
//     one file a request; the reference documents the type values and the
//     answer, a list of file objects) and the message references the file
//     objects it answered as attachments.
//   - AddMessage with an external id appends at most once: messages carry
//     an external_id ("not used by Gorgias", at most 255 characters), so
//     the client lists the ticket's messages (GET /api/messages?ticket_id=,
//     cursor pagination) and appends only when none has it. A retry after
//     a lost answer therefore finds the first message. Files are uploaded
//     after that look-up, so a retry that finds the message uploads
//     nothing; an upload whose message never got written is left
//     unreferenced (whether Gorgias ever deletes those is UNVERIFIED).
//   - DownloadAttachment fetches only from the hosts the account serves
//     files from (FileHosts; connectors.ErrRefusedURL otherwise, before any
//     request and on every redirect): the account's own host, the one
//     documented API host (https://{domain}.gorgias.com, helpdesks.md §2),
//     plus the hosts the operator lists. Which host Gorgias's file objects
//     point to is UNVERIFIED (the reference shows the upload answer's url
//     field, not its host), so no other Gorgias host is assumed: an
//     attachment elsewhere is refused, and the agent is told why, until an
//     operator lists its host. The credentials go only to the account's
//     own origin (BaseURL's scheme and host); which auth Gorgias wants for
//     private attachments is UNVERIFIED too: a URL elsewhere that refuses
//     an anonymous GET fails with ErrUnauthorized or ErrForbidden rather
//     than leak the key.
//   - SetTags replaces a ticket's tags with PUT /api/tickets/{id}/tags and
//     tag ids, the form public integration code is known to use. Replacing
//     by name ("names") appears only in a secondary copy of the reference,
//     so it is UNVERIFIED and not relied on: names are resolved to ids by
//     listing GET /api/tags, and missing tags are created with POST
//     /api/tags. That costs a few more calls, but only ever sends what the
//     API is known to take.
//   - Gorgias knows only open and closed: StatusSolved is closed, and
//     StatusPending is open (there is no waiting state to map it to).
//   - Errors are classified with connectors.StatusError and
//     connectors.TransportError, and carry the vendor's message from the
//     error body (whose exact shape is UNVERIFIED: the client reads
//     {"error": "..."}, {"error": {"msg": "...", "data": {...}}} and
//     {"message": "..."}, keeping only messages and field names). No
//     customer data we sent ever appears in an error string.
//
// The caller's *http.Client carries timeouts and, in the bridge, the shared
// rate-limiting connectors.Transport; this package neither retries nor
// sleeps.
package gorgias

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/helpdesk-bridge/bridge/connectors"
	"github.com/helpdesk-bridge/bridge/connectors/gorgias/api"
)

const (
	defaultTimeout = 30 * time.Second
	// maxLookupPages bounds the external-id lookup: a live match is nearly
	// always on the first page, and an API that ignored the filter must not
	// make us page through a whole account.
	maxLookupPages = 20
	// maxTagPages bounds the tag listing (100 tags a page).
	maxTagPages = 50
	// maxMessagePages bounds a ticket's message listing (100 a page).
	maxMessagePages = 100
)

// Options configures a Client.
type Options struct {
	// BaseURL is https://{domain}.gorgias.com. A path prefix, as behind a
	// proxy, is kept: API paths are appended to it.
	BaseURL string
	// Email and APIKey are the API user's credentials. Email is also the
	// sender of internal notes.
	Email  string
	APIKey string
	// HTTPClient sends the requests; nil means a client with a 30 s
	// timeout. The bridge passes one whose Transport is the shared
	// connectors.Transport.
	HTTPClient *http.Client
	// DownloadClient fetches attachments, whose URLs come from the
	// helpdesk's payloads; nil means HTTPClient. The bridge passes one
	// that dials only public addresses (connectors.NewDownloadTransport).
	DownloadClient *http.Client
	// FileHosts are hosts (host or host:port) that serve the account's
	// files besides its own.
	FileHosts []string
	// Now is the clock, for sent_datetime and Retry-After dates.
	Now func() time.Time
}

// Client is a Gorgias account. It is safe for concurrent use.
type Client struct {
	base   string
	origin *url.URL // scheme and host of base: where credentials may go
	email  string
	apiKey string
	hc     *http.Client
	dl     *http.Client
	// fileHosts are where attachments may be downloaded from.
	fileHosts []string
	now       func() time.Time
}

var _ connectors.Helpdesk = (*Client)(nil)

// New returns a client for one Gorgias account.
func New(opts Options) (*Client, error) {
	u, err := url.Parse(opts.BaseURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, errors.New("gorgias: BaseURL must be an http(s) URL such as https://acme.gorgias.com")
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, errors.New("gorgias: BaseURL must not carry credentials, a query or a fragment")
	}
	if opts.Email == "" || opts.APIKey == "" {
		return nil, errors.New("gorgias: Email and APIKey are required")
	}
	c := &Client{
		base:   strings.TrimRight(u.String(), "/"),
		origin: &url.URL{Scheme: u.Scheme, Host: u.Host},
		email:  opts.Email,
		apiKey: opts.APIKey,
		hc:     opts.HTTPClient,
		dl:     opts.DownloadClient,
		now:    opts.Now,
	}
	c.fileHosts = append([]string{u.Host}, opts.FileHosts...)
	if c.hc == nil {
		c.hc = &http.Client{Timeout: defaultTimeout}
	}
	if c.dl == nil {
		c.dl = c.hc
	}
	if c.now == nil {
		c.now = time.Now
	}
	return c, nil
}

// CreateTicket creates nt unless a live ticket with its external id
// exists, in which case it returns that one with created=false.
func (c *Client) CreateTicket(ctx context.Context, nt connectors.NewTicket) (connectors.Ticket, bool, error) {
	fail := func(err error) (connectors.Ticket, bool, error) {
		return connectors.Ticket{}, false, fmt.Errorf("gorgias: create ticket %s: %w", connectors.ShortID(nt.ExternalID), err)
	}
	req, err := c.ticketRequest(nt)
	if err != nil {
		return fail(err)
	}
	found, ok, err := c.oldest(ctx, nt.ExternalID)
	if err != nil {
		return fail(err)
	}
	if ok {
		return toTicket(found), false, nil
	}
	// Files go up only once the ticket is known to be missing.
	if err := c.attachFiles(ctx, &req.Messages[0], nt.Message.Files); err != nil {
		return fail(err)
	}
	var created api.Ticket
	if err := c.do(ctx, http.MethodPost, "/api/tickets", nil, req, &created); err != nil {
		// Without an idempotency key, a create that got no answer may
		// still land: the caller must let it settle before looking again.
		return fail(connectors.Uncertain(err))
	}
	// No second look-up here: it would cost every ticket a third call of
	// a tight budget, and the cases it would catch are caught anyway. A
	// create of an earlier attempt that got no answer is given its settle
	// delay before this look-up-then-create runs again; and any later
	// look-up keeps the oldest of several tickets and trashes the others.
	return toTicket(created), true, nil
}

// oldest looks the external id up and trashes every live ticket with it but
// the oldest, which it returns.
func (c *Client) oldest(ctx context.Context, externalID string) (api.Ticket, bool, error) {
	live, err := c.lookupAll(ctx, externalID)
	if err != nil || len(live) == 0 {
		return api.Ticket{}, false, err
	}
	for _, dup := range live[1:] {
		if err := c.trash(ctx, dup.ID); err != nil && !errors.Is(err, connectors.ErrNotFound) {
			return api.Ticket{}, false, fmt.Errorf("trash duplicate ticket %d: %w", dup.ID, err)
		}
	}
	return live[0], true, nil
}

// trash moves a ticket to Gorgias's trash, where an agent can still restore
// it, rather than deleting it for good.
func (c *Client) trash(ctx context.Context, id int64) error {
	return c.do(ctx, http.MethodPut, ticketPath(id), nil, api.UpdateTicketRequest{TrashedDatetime: api.NewDatetime(c.now())}, nil)
}

// FindTicket returns the oldest live ticket with this external id.
func (c *Client) FindTicket(ctx context.Context, externalID string) (connectors.Ticket, error) {
	fail := func(err error) (connectors.Ticket, error) {
		return connectors.Ticket{}, fmt.Errorf("gorgias: find ticket %s: %w", connectors.ShortID(externalID), err)
	}
	if err := checkExternalID(externalID); err != nil {
		return fail(err)
	}
	found, ok, err := c.lookup(ctx, externalID)
	switch {
	case err != nil:
		return fail(err)
	case !ok:
		return fail(connectors.ErrNotFound)
	}
	return toTicket(found), nil
}

// GetTicket returns the ticket with this Gorgias id, trashed or not.
func (c *Client) GetTicket(ctx context.Context, id string) (connectors.Ticket, error) {
	fail := func(err error) (connectors.Ticket, error) {
		return connectors.Ticket{}, fmt.Errorf("gorgias: get ticket %s: %w", connectors.ShortID(id), err)
	}
	n, err := parseTicketID(id, connectors.ErrNotFound)
	if err != nil {
		return fail(err)
	}
	var t api.Ticket
	if err := c.do(ctx, http.MethodGet, ticketPath(n), nil, nil, &t); err != nil {
		return fail(err)
	}
	return toTicket(t), nil
}

// AddMessage appends m to the ticket, as an internal note or an imported
// message: never one Gorgias would send. With an external id it appends at
// most once.
func (c *Client) AddMessage(ctx context.Context, ticketID string, m connectors.Message) error {
	fail := func(err error) error {
		return fmt.Errorf("gorgias: add message to ticket %s: %w", connectors.ShortID(ticketID), err)
	}
	n, err := parseTicketID(ticketID, connectors.ErrInvalid)
	if err != nil {
		return fail(err)
	}
	msg, err := c.message(m, connectors.Person{})
	if err != nil {
		return fail(err)
	}
	if m.ExternalID != "" {
		msgs, err := c.messages(ctx, n)
		if err != nil {
			return fail(err)
		}
		if slices.ContainsFunc(msgs, func(x api.Message) bool { return x.ExternalID == m.ExternalID }) {
			return nil
		}
	}
	if err := c.attachFiles(ctx, &msg, m.Files); err != nil {
		return fail(err)
	}
	if err := c.do(ctx, http.MethodPost, ticketPath(n)+"/messages", nil, msg, nil); err != nil {
		return fail(connectors.Uncertain(err))
	}
	return nil
}

// ListMessages returns the ticket's messages and internal notes, oldest
// first.
func (c *Client) ListMessages(ctx context.Context, ticketID string) ([]connectors.TicketMessage, error) {
	fail := func(err error) ([]connectors.TicketMessage, error) {
		return nil, fmt.Errorf("gorgias: list messages of ticket %s: %w", connectors.ShortID(ticketID), err)
	}
	n, err := parseTicketID(ticketID, connectors.ErrNotFound)
	if err != nil {
		return fail(err)
	}
	msgs, err := c.messages(ctx, n)
	if err != nil {
		return fail(err)
	}
	if len(msgs) == 0 {
		// Every ticket has a message (creation requires one), so an empty
		// listing may mean a ticket that does not exist: the listing
		// itself does not say.
		if err := c.do(ctx, http.MethodGet, ticketPath(n), nil, nil, nil); err != nil {
			return fail(err)
		}
	}
	out := make([]connectors.TicketMessage, 0, len(msgs))
	for _, m := range msgs {
		out = append(out, toTicketMessage(m))
	}
	return out, nil
}

// CheckFileURL tells whether DownloadAttachment would fetch rawURL: it is
// on a host the account serves files from.
func (c *Client) CheckFileURL(rawURL string) error {
	if err := connectors.FileURLAllowed(rawURL, c.fileHosts); err != nil {
		return fmt.Errorf("gorgias: attachment: %w", err)
	}
	return nil
}

// DownloadAttachment fetches an attachment, with the API credentials only
// when it is on the account's own origin.
func (c *Client) DownloadAttachment(ctx context.Context, rawURL string) (io.ReadCloser, string, error) {
	body, contentType, err := c.download(ctx, rawURL)
	if err != nil {
		// The URL stays out: it may carry an access token.
		return nil, "", fmt.Errorf("gorgias: download attachment: %w", err)
	}
	return body, contentType, nil
}

// SetTags replaces the ticket's tags, creating the tags Gorgias lacks.
func (c *Client) SetTags(ctx context.Context, ticketID string, tags []string) error {
	fail := func(err error) error {
		return fmt.Errorf("gorgias: set tags on ticket %s: %w", connectors.ShortID(ticketID), err)
	}
	n, err := parseTicketID(ticketID, connectors.ErrInvalid)
	if err != nil {
		return fail(err)
	}
	if err := checkTags(tags); err != nil {
		return fail(err)
	}
	ids, err := c.tagIDs(ctx, tags)
	if err != nil {
		return fail(err)
	}
	if err := c.do(ctx, http.MethodPut, ticketPath(n)+"/tags", nil, api.SetTicketTagsRequest{IDs: ids}, nil); err != nil {
		return fail(err)
	}
	return nil
}

// SetStatus opens or closes the ticket.
func (c *Client) SetStatus(ctx context.Context, ticketID string, s connectors.Status) error {
	fail := func(err error) error {
		return fmt.Errorf("gorgias: set status of ticket %s: %w", connectors.ShortID(ticketID), err)
	}
	n, err := parseTicketID(ticketID, connectors.ErrInvalid)
	if err != nil {
		return fail(err)
	}
	var status string
	switch s {
	case connectors.StatusSolved:
		status = api.StatusClosed
	case connectors.StatusOpen, connectors.StatusPending:
		// Gorgias has no waiting state: a pending ticket stays open.
		status = api.StatusOpen
	default:
		return fail(fmt.Errorf("%w: unknown status %q", connectors.ErrInvalid, s))
	}
	if err := c.do(ctx, http.MethodPut, ticketPath(n), nil, api.UpdateTicketRequest{Status: status}, nil); err != nil {
		return fail(err)
	}
	return nil
}

// lookup finds the oldest live ticket with this external id.
func (c *Client) lookup(ctx context.Context, externalID string) (api.Ticket, bool, error) {
	live, err := c.lookupAll(ctx, externalID)
	if err != nil || len(live) == 0 {
		return api.Ticket{}, false, err
	}
	return live[0], true, nil
}

// lookupAll lists the live tickets with this external id, oldest first
// (ties by id), whatever order the API answered in.
func (c *Client) lookupAll(ctx context.Context, externalID string) ([]api.Ticket, error) {
	q := url.Values{
		"external_id": {externalID},
		"trashed":     {"false"},
		"order_by":    {"created_datetime:asc"},
		"limit":       {strconv.Itoa(api.MaxPageLimit)},
	}
	var live []api.Ticket
	for range maxLookupPages {
		var page api.List[api.Ticket]
		if err := c.do(ctx, http.MethodGet, "/api/tickets", q, nil, &page); err != nil {
			return nil, err
		}
		for _, t := range page.Data {
			if t.ExternalID == externalID && !t.Trashed() {
				live = append(live, t)
			}
		}
		if page.Meta.NextCursor == nil || *page.Meta.NextCursor == "" {
			slices.SortStableFunc(live, func(a, b api.Ticket) int {
				if c := datetime(a.CreatedDatetime).Compare(datetime(b.CreatedDatetime)); c != 0 {
					return c
				}
				return cmp.Compare(a.ID, b.ID)
			})
			return live, nil
		}
		q.Set("cursor", *page.Meta.NextCursor)
	}
	return nil, fmt.Errorf("external id lookup found no end after %d pages", maxLookupPages)
}

// messages lists the ticket's messages, oldest first. The ticket_id filter
// is checked again on every message, in case an API version ignores it.
func (c *Client) messages(ctx context.Context, ticketID int64) ([]api.Message, error) {
	q := url.Values{
		"ticket_id": {strconv.FormatInt(ticketID, 10)},
		"limit":     {strconv.Itoa(api.MaxPageLimit)},
	}
	var out []api.Message
	for range maxMessagePages {
		var page api.List[api.Message]
		if err := c.do(ctx, http.MethodGet, "/api/messages", q, nil, &page); err != nil {
			return nil, err
		}
		for _, m := range page.Data {
			if m.TicketID == ticketID {
				out = append(out, m)
			}
		}
		if page.Meta.NextCursor == nil || *page.Meta.NextCursor == "" {
			// The listing's default order is newest first; which other
			// orders it takes is not fully documented, so the client sorts.
			slices.SortStableFunc(out, func(a, b api.Message) int {
				if c := datetime(a.CreatedDatetime).Compare(datetime(b.CreatedDatetime)); c != 0 {
					return c
				}
				return cmp.Compare(a.ID, b.ID)
			})
			return out, nil
		}
		q.Set("cursor", *page.Meta.NextCursor)
	}
	return nil, fmt.Errorf("message listing found no end after %d pages", maxMessagePages)
}

// attachFiles uploads files and adds them to msg's attachments.
func (c *Client) attachFiles(ctx context.Context, msg *api.Message, files []connectors.File) error {
	for _, f := range files {
		a, err := c.upload(ctx, f)
		if err != nil {
			return err
		}
		msg.Attachments = append(msg.Attachments, api.Attachment{
			URL: a.URL, Name: cmp.Or(a.Name, f.Name), ContentType: cmp.Or(a.ContentType, f.ContentType), Size: cmp.Or(a.Size, api.Size(len(f.Data))),
		})
	}
	return nil
}

// tagIDs resolves tag names to ids, creating the missing tags.
func (c *Client) tagIDs(ctx context.Context, names []string) ([]int64, error) {
	names = dedupe(names)
	ids := make(map[string]int64, len(names))
	if err := c.findTags(ctx, names, ids); err != nil {
		return nil, err
	}
	for _, name := range names {
		if _, ok := ids[name]; ok {
			continue
		}
		var tag api.Tag
		err := connectors.Uncertain(c.do(ctx, http.MethodPost, "/api/tags", nil, api.CreateTagRequest{Name: name}, &tag))
		if errors.Is(err, connectors.ErrConflict) {
			// Someone created it since we listed: list again.
			if err := c.findTags(ctx, []string{name}, ids); err != nil {
				return nil, err
			}
			if _, ok := ids[name]; ok {
				continue
			}
		}
		if err != nil {
			return nil, err
		}
		ids[name] = tag.ID
	}
	out := make([]int64, 0, len(names))
	for _, name := range names {
		out = append(out, ids[name])
	}
	return out, nil
}

// findTags pages through the account's tags until every wanted name (case
// sensitive, as Gorgias's names are) has an id in ids.
func (c *Client) findTags(ctx context.Context, want []string, ids map[string]int64) error {
	missing := func() bool {
		return slices.ContainsFunc(want, func(n string) bool { _, ok := ids[n]; return !ok })
	}
	q := url.Values{"limit": {strconv.Itoa(api.MaxPageLimit)}}
	for range maxTagPages {
		if !missing() {
			return nil
		}
		var page api.List[api.Tag]
		if err := c.do(ctx, http.MethodGet, "/api/tags", q, nil, &page); err != nil {
			return err
		}
		for _, t := range page.Data {
			if t.DeletedDatetime == nil && slices.Contains(want, t.Name) {
				ids[t.Name] = t.ID
			}
		}
		if page.Meta.NextCursor == nil || *page.Meta.NextCursor == "" {
			return nil
		}
		q.Set("cursor", *page.Meta.NextCursor)
	}
	return fmt.Errorf("tag listing found no end after %d pages", maxTagPages)
}

// ticketRequest validates nt and builds the body of POST /api/tickets.
func (c *Client) ticketRequest(nt connectors.NewTicket) (api.CreateTicketRequest, error) {
	if err := checkExternalID(nt.ExternalID); err != nil {
		return api.CreateTicketRequest{}, err
	}
	switch {
	case strings.TrimSpace(nt.Subject) == "":
		return api.CreateTicketRequest{}, invalid("subject is required")
	case !strings.Contains(nt.Requester.Email, "@"):
		return api.CreateTicketRequest{}, invalid("requester email is required")
	}
	if err := checkTags(nt.Tags); err != nil {
		return api.CreateTicketRequest{}, err
	}
	msg, err := c.message(nt.Message, nt.Requester)
	if err != nil {
		return api.CreateTicketRequest{}, err
	}
	req := api.CreateTicketRequest{
		Customer:   &api.Person{Email: nt.Requester.Email, Name: nt.Requester.Name},
		ExternalID: nt.ExternalID,
		Subject:    nt.Subject,
		Channel:    api.ChannelAPI,
		Via:        api.ViaAPI,
		Language:   nt.Language,
		Messages:   []api.Message{msg},
	}
	for _, name := range dedupe(nt.Tags) {
		req.Tags = append(req.Tags, api.Tag{Name: name})
	}
	return req, nil
}

// message validates m and builds it as Gorgias must receive it so that it
// is never sent: an internal note, or an imported message. customer is the
// sender of a customer message whose author is unknown.
func (c *Client) message(m connectors.Message, customer connectors.Person) (api.Message, error) {
	switch {
	case strings.TrimSpace(m.BodyText) == "":
		return api.Message{}, invalid("message body_text is required")
	case m.Internal && m.FromCustomer:
		return api.Message{}, invalid("an internal note cannot come from the customer")
	case m.FromOperator && m.FromCustomer:
		return api.Message{}, invalid("a message cannot come from both the operator and the customer")
	case m.FromOperator && strings.TrimSpace(m.Author.Name) == "":
		return api.Message{}, invalid("the author name of an operator message is required")
	case utf8.RuneCountInString(m.ExternalID) > api.MaxExternalIDLen:
		return api.Message{}, invalid(fmt.Sprintf("message external_id is longer than %d characters", api.MaxExternalIDLen))
	}
	for _, f := range m.Files {
		if strings.TrimSpace(f.Name) == "" || len(f.Data) == 0 {
			return api.Message{}, invalid("files need a name and content")
		}
	}
	sent := m.SentAt
	if sent.IsZero() {
		sent = c.now()
	}
	msg := api.Message{
		ExternalID: m.ExternalID,
		Channel:    api.ChannelAPI,
		Via:        api.ViaAPI,
		BodyText:   m.BodyText,
		BodyHTML:   m.BodyHTML,
		// Set on internal notes too, so that no reading of the message
		// could make Gorgias send it.
		SentDatetime: api.NewDatetime(sent),
	}
	for _, a := range m.Attachments {
		if a.URL == "" {
			return api.Message{}, invalid("attachment url is required")
		}
		msg.Attachments = append(msg.Attachments, api.Attachment{
			URL: a.URL, Name: a.Name, ContentType: a.ContentType, Size: api.Size(a.Size),
		})
	}
	fromAgent := !m.FromCustomer
	msg.FromAgent = &fromAgent
	switch {
	case m.FromOperator:
		msg.Channel = api.ChannelInternalNote
		msg.Sender = &api.Person{Email: c.email}
		msg.BodyText, msg.BodyHTML = headed(m)
	case m.Internal:
		msg.Channel = api.ChannelInternalNote
		msg.Sender = &api.Person{Email: c.email}
	case m.FromCustomer:
		author := m.Author
		if author.Email == "" {
			author = customer
		}
		if author.Email == "" {
			return api.Message{}, invalid("the author email of a customer message is required")
		}
		msg.Sender = &api.Person{Email: author.Email, Name: author.Name}
	case m.Author.Email != "":
		msg.Sender = &api.Person{Email: m.Author.Email, Name: m.Author.Name}
	default:
		msg.Sender = &api.Person{Email: c.email}
	}
	return msg, nil
}

// headed prefixes an operator's message with their name: the note's sender
// is the API user, so the body is the only place to say who wrote it.
func headed(m connectors.Message) (text, markup string) {
	text = m.Author.Name + " wrote:\n\n" + m.BodyText
	if m.BodyHTML != "" {
		markup = "<p><strong>" + html.EscapeString(m.Author.Name) + "</strong> wrote:</p>" + m.BodyHTML
	}
	return text, markup
}

func toTicketMessage(m api.Message) connectors.TicketMessage {
	out := connectors.TicketMessage{
		ID:           strconv.FormatInt(m.ID, 10),
		ExternalID:   m.ExternalID,
		Internal:     m.Internal() || (m.Public != nil && !*m.Public),
		FromCustomer: m.FromAgent != nil && !*m.FromAgent,
		BodyText:     m.BodyText,
		BodyHTML:     m.BodyHTML,
		CreatedAt:    datetime(m.CreatedDatetime),
	}
	if m.Sender != nil {
		out.Author = connectors.Person{Email: m.Sender.Email, Name: m.Sender.Name}
	}
	for _, a := range m.Attachments {
		out.Attachments = append(out.Attachments, connectors.Attachment{
			Name: a.Name, ContentType: a.ContentType, Size: int64(a.Size), URL: a.URL,
		})
	}
	return out
}

func datetime(d *api.Datetime) time.Time {
	if d == nil {
		return time.Time{}
	}
	return d.Time
}

func toTicket(t api.Ticket) connectors.Ticket {
	out := connectors.Ticket{
		ID:         strconv.FormatInt(t.ID, 10),
		ExternalID: t.ExternalID,
		Subject:    t.Subject,
		Status:     connectors.StatusOpen,
	}
	if t.Status == api.StatusClosed {
		out.Status = connectors.StatusSolved
	}
	for _, tag := range t.Tags {
		out.Tags = append(out.Tags, tag.Name)
	}
	if t.Customer != nil {
		out.RequesterEmail = t.Customer.Email
	}
	return out
}

func checkExternalID(id string) error {
	if n := utf8.RuneCountInString(id); n == 0 || n > api.MaxExternalIDLen {
		return invalid(fmt.Sprintf("external_id must be 1 to %d characters", api.MaxExternalIDLen))
	}
	return nil
}

func checkTags(tags []string) error {
	for _, t := range tags {
		if n := utf8.RuneCountInString(t); n == 0 || n > api.MaxTagNameLen {
			return invalid(fmt.Sprintf("tags must be 1 to %d characters", api.MaxTagNameLen))
		}
	}
	return nil
}

// parseTicketID parses a Gorgias ticket id. A malformed one names no ticket
// (ErrNotFound) when read, and is the caller's mistake (ErrInvalid) when
// written to.
func parseTicketID(id string, malformed error) (int64, error) {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("%w: ticket id must be a positive integer", malformed)
	}
	return n, nil
}

func ticketPath(id int64) string { return "/api/tickets/" + strconv.FormatInt(id, 10) }

func invalid(what string) error { return fmt.Errorf("%w: %s", connectors.ErrInvalid, what) }

func dedupe(names []string) []string {
	out := make([]string, 0, len(names))
	for _, n := range names {
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}
