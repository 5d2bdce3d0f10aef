// Package fnac is the bridge's connector to one seller account on Fnac's
// marketplace platform, through its XML seller API (POST
// https://vendeur.fnac.com/api.php/<service>). Darty's marketplace runs on
// the same platform since May 2023: a Darty account is the same connector
// with Darty's own partner id, shop id and key.
//
// How it maps connectors.Marketplace, and why:
//   - Auth: auth with partner_id, shop_id and key gives a token and its
//     validity. The token is renewed a minute before its validity, and a
//     request refused at its root by an error that may be the session's
//     is sent once more with a new token (Fnac documents no code for an
//     expired token, so any root error but the known validation ones
//     counts, as in fnapy).
//   - Threads: Fnac has messages, each about an order or an offer
//     (message_referer) and from a client, Fnac's call centre or the
//     seller. A thread is one referer and one correspondent: the client's
//     messages on an order are one thread, the call centre's another. The
//     seller's own messages carry no recipient nor parent in a listing
//     (MessagesQueryService.xsd), so they appear in every thread of their
//     referer, with no recipients.
//   - ListThreads pages through messages_query by update date (oldest
//     first), and for each referer on the page reads all its messages
//     (order_fnac_id or offer_fnac_id), so that every thread is complete.
//     A thread is returned on the page holding its latest message, so a
//     listing returns it once.
//   - Reply is messages_update with action reply on the thread's latest
//     message from its correspondent, message_to CLIENT, CALLCENTER or ALL
//     from Reply.To. Fnac echoes the message answered, not the new one: the
//     new message's id is looked up afterwards; when that read fails the
//     reply is reported uncertain (ErrUncertain), so that the caller
//     finds it rather than mirror it back or send it again. Files cannot
//     be sent (the XSD has no element for them).
//   - DownloadAttachment fetches a message_file's url, found again by its
//     message_id, without credentials, from the hosts allowed.
//   - MarkRead and Archive (and Mirrored and Closed, which call them when
//     Options say so) are messages_update's mark_as_read and archive.
//   - Orders (connectors.OrderLister and connectors.OrderActor) are
//     orders_query and orders_update: see orders.go, and OrderStatus for
//     how Fnac's states are normalised.
//
// XML is read by api.Decode: bounded size, no DOCTYPE, bounded lists.
// The caller's *http.Client carries timeouts and the shared rate limiter;
// this package neither retries (but for the one new token) nor sleeps.
package fnac

import (
	"cmp"
	"context"
	"errors"
	"fmt"

	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/helpdesk-bridge/bridge/connectors"
	"github.com/helpdesk-bridge/bridge/connectors/fnac/api"
)

const (
	defaultTimeout     = 30 * time.Second
	defaultRenewBefore = time.Minute
	// maxRefererPages bounds the pages read for one order's messages.
	maxRefererPages = 50
)

// Options configures a Client.
type Options struct {
	// BaseURL is the API's root, e.g. https://vendeur.fnac.com/api.php;
	// services are below it.
	BaseURL string
	// PartnerID, ShopID and Key are the account's credentials. Darty has
	// its own ShopID (and key) on the same BaseURL.
	PartnerID string
	ShopID    string
	Key       string
	// FileHosts are the hosts message files may be downloaded from; nil
	// means BaseURL's host. Where Fnac serves them from is UNVERIFIED.
	FileHosts []string
	// MarkReadAfterMirroring makes Mirrored mark a thread's messages read.
	MarkReadAfterMirroring bool
	// ArchiveWhenClosed makes Closed archive a thread's messages.
	ArchiveWhenClosed bool
	// HTTPClient sends the requests; nil means a client with a 30 s
	// timeout.
	HTTPClient *http.Client
	// Now is the clock, for the token's validity.
	Now func() time.Time
	// RenewBefore is how long before its validity a token is renewed; 0
	// means a minute.
	RenewBefore time.Duration
}

// Client is one Fnac (or Darty) seller account. It is safe for concurrent
// use.
type Client struct {
	base                        string
	partnerID, shopID, key      string
	fileHosts                   []string
	markRead, archiveWhenClosed bool
	hc                          *http.Client
	now                         func() time.Time
	renewBefore                 time.Duration

	mu   sync.Mutex
	sess session
}

var _ connectors.Marketplace = (*Client)(nil)

// New returns a client for one account.
func New(opts Options) (*Client, error) {
	u, err := url.Parse(opts.BaseURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, errors.New("fnac: BaseURL must be an http(s) URL such as https://vendeur.fnac.com/api.php")
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, errors.New("fnac: BaseURL must not carry credentials, a query or a fragment")
	}
	if opts.PartnerID == "" || opts.ShopID == "" || opts.Key == "" {
		return nil, errors.New("fnac: PartnerID, ShopID and Key are required")
	}
	c := &Client{
		base:      strings.TrimRight(u.String(), "/"),
		partnerID: opts.PartnerID, shopID: opts.ShopID, key: opts.Key,
		fileHosts:         opts.FileHosts,
		markRead:          opts.MarkReadAfterMirroring,
		archiveWhenClosed: opts.ArchiveWhenClosed,
		hc:                opts.HTTPClient,
		now:               opts.Now,
		renewBefore:       cmp.Or(opts.RenewBefore, defaultRenewBefore),
	}
	if c.fileHosts == nil {
		c.fileHosts = []string{u.Host}
	}
	if c.hc == nil {
		c.hc = &http.Client{Timeout: defaultTimeout}
	}
	if c.now == nil {
		c.now = time.Now
	}
	return c, nil
}

// Capabilities: replies to the client, the call centre or both, no files.
// The XSD bounds no reply length: MaxBodyChars is a conservative guess
// (UNVERIFIED), and Fnac's limit on messages per discussion is unknown.
func (c *Client) Capabilities() connectors.MarketplaceCapabilities {
	return connectors.MarketplaceCapabilities{
		MinBodyChars: 1,
		MaxBodyChars: api.MaxReplyChars,
		Recipients:   []connectors.PartyType{connectors.PartyCustomer, connectors.PartyOperator},
		// Each listed message's order or offer is read in full.
		CallsPerListedThread: 1,
	}
}

// Thread ids: "<referer type>/<referer id>/<correspondent>", e.g.
// ORDER/57BEAFDA828A8/CLIENT.
type threadKey struct {
	refType, refID, corr string
}

func (k threadKey) String() string { return k.refType + "/" + k.refID + "/" + k.corr }

// ThreadID is the id of the thread with corr (api.FromClient or
// api.FromCallCenter) about an order or offer.
func ThreadID(refType, refID, corr string) string { return threadKey{refType, refID, corr}.String() }

func parseThreadID(id string) (threadKey, bool) {
	first := strings.IndexByte(id, '/')
	last := strings.LastIndexByte(id, '/')
	if first <= 0 || last <= first+1 {
		return threadKey{}, false
	}
	k := threadKey{id[:first], id[first+1 : last], id[last+1:]}
	okType := k.refType == api.TypeOrder || k.refType == api.TypeOffer
	okCorr := k.corr == api.FromClient || k.corr == api.FromCallCenter
	return k, okType && okCorr
}

// Correspondent is whom a reply without a "To:" line goes to: the thread's
// own correspondent, the client or the call centre, so that an agent
// answering in the call centre's ticket answers the call centre.
func (c *Client) Correspondent(threadID string) (connectors.PartyType, bool) {
	k, ok := parseThreadID(threadID)
	switch {
	case !ok:
		return "", false
	case k.corr == api.FromCallCenter:
		return connectors.PartyOperator, true
	default:
		return connectors.PartyCustomer, true
	}
}

// uuidLike is the shape of Fnac's message ids (XSD type uuid).
var uuidLike = regexp.MustCompile(`^[0-9A-Za-z]{8}-[0-9A-Za-z]{4}-[0-9A-Za-z]{4}-[0-9A-Za-z]{4}-[0-9A-Za-z]{12}$`)

// ListPageSize is how many messages a listing asks for at a time. Each
// message's order or offer is read in full before the page is done, so a
// page costs up to this many calls more: small pages are work a paced
// sync finishes within its share of the account's budget, and a sync put
// off in the middle of one loses no more than a page.
const ListPageSize = 25

// listCursor is the port's page token. A listing walks messages by their
// update time, oldest first, and each page starts where the last one
// ended (Since, inclusive) rather than at an offset: marking messages
// read updates them, which moves them to the end of the listing while it
// runs, so that an offset would skip messages that were never listed.
// Until, the listing's start, keeps messages updated since then for the
// next sync (the cursor never passes them). Seen are the messages at
// Since the last page listed already, skipped when the next one lists
// them again. Page counts pages within one
// Since, only needed when a whole page shares one update time; the order
// of such ties is Fnac's (UNVERIFIED that it is stable: the fake sorts
// them by id).
type listCursor struct {
	Since string   `json:"s,omitempty"`
	Until string   `json:"u,omitempty"`
	Seen  []string `json:"n,omitempty"`
	Limit int      `json:"l"`
	Page  int      `json:"p"`
}

func (cur listCursor) encode() string {
	return connectors.EncodePageToken(cur)
}

func decodeCursor(s string) (listCursor, error) {
	var cur listCursor
	err := connectors.DecodePageToken(s, &cur)
	if err != nil || cur.Limit < 1 || cur.Limit > api.DefaultResultsCount || cur.Page < 1 || len(cur.Seen) > api.DefaultResultsCount {
		return listCursor{}, invalid("not a page token of this connector")
	}
	return cur, nil
}

// ListThreads returns one page of threads, each with all its messages.
func (c *Client) ListThreads(ctx context.Context, q connectors.ThreadQuery) (connectors.ThreadPage, error) {
	fail := func(err error) (connectors.ThreadPage, error) {
		return connectors.ThreadPage{}, fmt.Errorf("fnac: list threads: %w", err)
	}
	cur := listCursor{Limit: ListPageSize, Page: 1}
	if q.PageToken != "" {
		var err error
		if cur, err = decodeCursor(q.PageToken); err != nil {
			return fail(err)
		}
	} else {
		if q.Limit > 0 {
			cur.Limit = min(q.Limit, ListPageSize)
		}
		if !q.UpdatedSince.IsZero() {
			cur.Since = api.FormatTime(q.UpdatedSince)
		}
		cur.Until = api.FormatTime(c.now())
	}
	query := api.MessagesQuery{
		ResultsCount: cur.Limit, Paging: cur.Page,
		SortBy: &api.SortBy{Type: api.SortAsc, Value: api.SortUpdatedAt},
	}
	if cur.Since != "" || cur.Until != "" {
		query.Date = &api.DateFilter{Type: api.DateUpdatedAt, Min: cur.Since, Max: cur.Until}
	}
	resp, err := c.query(ctx, query)
	if err != nil {
		return fail(err)
	}
	page := connectors.ThreadPage{}
	byReferer := map[api.Referer][]built{}
	emitted := map[string]bool{}
	for _, m := range resp.Messages {
		if slices.Contains(cur.Seen, m.ID) {
			continue
		}
		ref := m.Referer
		threads, ok := byReferer[ref]
		if !ok {
			msgs, err := c.refererMessages(ctx, ref)
			if err != nil {
				return fail(fmt.Errorf("%s %s: %w", ref.Type, connectors.ShortID(ref.ID), err))
			}
			threads = buildThreads(ref, msgs)
			byReferer[ref] = threads
		}
		for _, th := range threads {
			if th.lastID == m.ID && !emitted[th.ID] {
				emitted[th.ID] = true
				page.Threads = append(page.Threads, th.Thread)
			}
		}
	}
	if next, ok := cur.next(resp); ok {
		page.NextPageToken = next.encode()
	}
	return page, nil
}

// next is the page after the one resp answered, if any: from the last
// message's update time, or the next page of a page of ties.
func (cur listCursor) next(resp *api.MessagesQueryResponse) (listCursor, bool) {
	if len(resp.Messages) == 0 || cur.Page >= resp.TotalPaging {
		return listCursor{}, false
	}
	last, err := api.ParseTime(resp.Messages[len(resp.Messages)-1].UpdatedAt)
	if since := api.FormatTime(last); err == nil && since != cur.Since {
		cur.Since, cur.Page, cur.Seen = since, 1, nil
		for _, m := range resp.Messages {
			if t, err := api.ParseTime(m.UpdatedAt); err == nil && t.Equal(last) {
				cur.Seen = append(cur.Seen, m.ID)
			}
		}
	} else {
		cur.Page++
	}
	return cur, true
}

// GetThread returns one thread with all its messages. The id of a
// client's or call centre's message also finds its thread.
func (c *Client) GetThread(ctx context.Context, threadID string) (connectors.Thread, error) {
	th, err := c.thread(ctx, threadID)
	if err != nil {
		return connectors.Thread{}, fmt.Errorf("fnac: get thread %s: %w", connectors.ShortID(threadID), err)
	}
	return th, nil
}

func (c *Client) thread(ctx context.Context, threadID string) (connectors.Thread, error) {
	key, ok := parseThreadID(threadID)
	if !ok {
		return c.threadOfMessage(ctx, threadID)
	}
	msgs, err := c.refererMessages(ctx, api.Referer{Type: key.refType, ID: key.refID})
	if err != nil {
		return connectors.Thread{}, err
	}
	for _, th := range buildThreads(api.Referer{Type: key.refType, ID: key.refID}, msgs) {
		if th.ID == threadID {
			return th.Thread, nil
		}
	}
	return connectors.Thread{}, fmt.Errorf("%w: no such thread", connectors.ErrNotFound)
}

// threadOfMessage finds the thread a message id belongs to. An id of no
// known shape is still checked against the session first, so that wrong
// credentials show as such.
func (c *Client) threadOfMessage(ctx context.Context, id string) (connectors.Thread, error) {
	if !uuidLike.MatchString(id) {
		if _, err := c.token(ctx); err != nil {
			return connectors.Thread{}, err
		}
		return connectors.Thread{}, fmt.Errorf("%w: not a thread id", connectors.ErrNotFound)
	}
	m, err := c.message(ctx, id)
	if err != nil {
		return connectors.Thread{}, err
	}
	if m.From == nil || (m.From.Type != api.FromClient && m.From.Type != api.FromCallCenter) {
		return connectors.Thread{}, fmt.Errorf("%w: not a thread id", connectors.ErrNotFound)
	}
	return c.thread(ctx, ThreadID(m.Referer.Type, m.Referer.ID, m.From.Type))
}

// message reads one message by its id.
func (c *Client) message(ctx context.Context, id string) (api.Message, error) {
	resp, err := c.query(ctx, api.MessagesQuery{ResultsCount: 1, Paging: 1, MessageID: id})
	if err != nil {
		return api.Message{}, err
	}
	for _, m := range resp.Messages {
		if m.ID == id {
			return m, nil
		}
	}
	return api.Message{}, fmt.Errorf("%w: no such message", connectors.ErrNotFound)
}

func (c *Client) query(ctx context.Context, q api.MessagesQuery) (*api.MessagesQueryResponse, error) {
	var resp api.MessagesQueryResponse
	err := c.call(ctx, api.ServiceMessagesQuery, func(h api.Header) any {
		q.Header = h
		return q
	}, &resp)
	if err != nil {
		return nil, err
	}
	if len(resp.Messages) > max(q.ResultsCount, 1) {
		return nil, fmt.Errorf("%w: %d messages in a page of %d", connectors.ErrUnavailable, len(resp.Messages), q.ResultsCount)
	}
	return &resp, nil
}

// refererMessages reads all the messages about one order or offer.
func (c *Client) refererMessages(ctx context.Context, ref api.Referer) ([]api.Message, error) {
	q := api.MessagesQuery{
		ResultsCount: api.DefaultResultsCount, MessageType: ref.Type,
		SortBy: &api.SortBy{Type: api.SortAsc, Value: api.SortCreatedAt},
	}
	if ref.Type == api.TypeOffer {
		q.OfferID = ref.ID // UNVERIFIED: that an offer referer is the offer_fnac_id
	} else {
		q.OrderID = ref.ID
	}
	var out []api.Message
	for page := 1; ; page++ {
		q.Paging = page
		resp, err := c.query(ctx, q)
		if err != nil {
			return nil, err
		}
		for _, m := range resp.Messages {
			if m.Referer == ref {
				out = append(out, m)
			}
		}
		if len(resp.Messages) == 0 || page >= resp.TotalPaging {
			return out, nil
		}
		if page >= maxRefererPages {
			return nil, fmt.Errorf("more than %d pages of messages", maxRefererPages)
		}
	}
}

// built is a thread and the id of its message updated last, the one a
// listing returns it with.
type built struct {
	connectors.Thread
	lastID string
}

// buildThreads groups a referer's messages into its threads, one per
// correspondent.
func buildThreads(ref api.Referer, msgs []api.Message) []built {
	var seller []api.Message
	byCorr := map[string][]api.Message{}
	for _, m := range msgs {
		typ := ""
		if m.From != nil {
			typ = m.From.Type
		}
		switch typ {
		case api.FromClient, api.FromCallCenter:
			byCorr[typ] = append(byCorr[typ], m)
		case api.FromSeller:
			seller = append(seller, m)
		}
	}
	var out []built
	for _, corr := range []string{api.FromClient, api.FromCallCenter} {
		own := byCorr[corr]
		if len(own) == 0 {
			continue
		}
		out = append(out, toThread(ref, corr, own, seller))
	}
	return out
}

func toThread(ref api.Referer, corr string, own, seller []api.Message) built {
	th := connectors.Thread{
		ID:     ThreadID(ref.Type, ref.ID, corr),
		Entity: connectors.ThreadEntity{Type: connectors.EntityOther, RawType: ref.Type, ID: ref.ID, Label: ref.ID},
	}
	switch ref.Type {
	case api.TypeOrder:
		th.Entity.Type = connectors.EntityOrder
	case api.TypeOffer:
		th.Entity.Type = connectors.EntityProduct
	}
	shop := connectors.Party{Type: connectors.PartyShop}
	if corr == api.FromClient {
		th.Participants = []connectors.Party{{Type: connectors.PartyCustomer}, shop}
	} else {
		th.Participants = []connectors.Party{{Type: connectors.PartyOperator}, shop}
	}
	lastID := ""
	for _, m := range slices.Concat(own, seller) {
		th.Messages = append(th.Messages, toMessage(m))
		// The latest update wins; equal dates go to the greater id, so
		// that every reader picks the same message.
		u := parsed(m.UpdatedAt)
		if c := u.Compare(th.UpdatedAt); lastID == "" || c > 0 || (c == 0 && m.ID > lastID) {
			th.UpdatedAt, lastID = u, m.ID
		}
	}
	slices.SortStableFunc(th.Messages, func(a, b connectors.ThreadMessage) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), strings.Compare(a.ID, b.ID))
	})
	first := own[0]
	for _, m := range own[1:] {
		if t, _ := api.ParseTime(m.CreatedAt); t.Before(parsed(first.CreatedAt)) {
			first = m
		}
	}
	th.Topic = first.Subject
	if first.OfferTitle != "" {
		th.Entity.Label = first.OfferTitle
	}
	for _, m := range th.Messages {
		if th.CreatedAt.IsZero() || m.CreatedAt.Before(th.CreatedAt) {
			th.CreatedAt = m.CreatedAt
		}
		if m.From.Type == connectors.PartyCustomer && th.Customer == nil {
			p := m.From
			th.Customer = &p
			th.Participants[0] = p
		}
	}
	th.TotalMessages = len(th.Messages)
	return built{Thread: th, lastID: lastID}
}

func parsed(s string) time.Time {
	t, _ := api.ParseTime(s)
	return t
}

func toMessage(m api.Message) connectors.ThreadMessage {
	out := connectors.ThreadMessage{ID: m.ID, Body: m.Description, CreatedAt: parsed(m.CreatedAt)}
	from := ""
	if m.From != nil {
		from = m.From.Type
		out.From.Name = strings.TrimSpace(m.From.Name)
	}
	shop := connectors.Party{Type: connectors.PartyShop}
	switch from {
	case api.FromClient:
		out.From.Type = connectors.PartyCustomer
		out.To = []connectors.Party{shop}
	case api.FromCallCenter:
		out.From.Type = connectors.PartyOperator
		out.To = []connectors.Party{shop}
	case api.FromSeller:
		out.From.Type = connectors.PartyShop
	default:
		out.From.Type = connectors.PartyOther
	}
	for i, f := range m.Files {
		out.Attachments = append(out.Attachments, connectors.AttachmentMeta{ID: m.ID + "/" + strconv.Itoa(i), Name: f.Name, Size: -1})
	}
	return out
}
