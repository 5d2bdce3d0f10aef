// Package rakuten is the bridge's connector to one seller account on
// Rakuten France (ex PriceMinister), through its sales_ws web service:
// GET https://ws.fr.shopping.rakuten.com/sales_ws?action=…&login=…&pwd=<token>&version=….
//
// How it maps connectors.Marketplace, and why:
//   - Threads: Rakuten sells per item, and each item sold has messages
//     between the shop and its buyer (which carry no id) and mails between
//     the shop and Rakuten's customer service (which have a mailid). A
//     thread is one item and one correspondent: "<itemid>/BUYER" holds the
//     messages, "<itemid>/RAKUTEN" the mails. Its entity is the item's
//     purchase (an order), read from the sales; getiteminfos does not name
//     it. A buyer message's id is derived from the item, its sender, date
//     and content, so that it stays the same from one read to the next.
//   - Listing: Rakuten lists no messages by date; getitemtodolist names the
//     items with an unread buyer message, an unread mail or a claim, and
//     getiteminfos gives an item's messages, all of them, and marks them
//     read. So the first page of a listing reads every item of the todo
//     list and keeps what it read in the Store; the listing is then the
//     Store's items updated since the query's time, by update time and
//     thread id, paged. Whatever a GetThread or a Reply read is kept too:
//     a message marked read by any call is never lost to the listing.
//   - Replies: to the buyer with contactuseraboutitem, to Rakuten with
//     contactusaboutitem answering Rakuten's latest mail (mailparentid).
//     A reply goes to its thread's correspondent only, as plain text, no
//     files. Before sending, the item is read and Rakuten's contact
//     windows are checked (window.go): a reply outside them is a
//     *WindowError (ErrInvalid) that says why, and nothing is sent.
//   - Orders (orders.go): a purchase is an order, its items its lines.
//   - Errors: errorresponse is read whatever the HTTP status (http.go).
//
// Dates are to the minute (dd/MM/yyyy-HH:mm), read in Paris time
// (UNVERIFIED). XML is read by api.Decode: bounded size, no DOCTYPE,
// bounded lists, UTF-8 or ISO-8859-1. The caller's *http.Client carries
// timeouts and the shared rate limiter; this package neither retries nor
// sleeps.
package rakuten

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/helpdesk-bridge/bridge/connectors"
	"github.com/helpdesk-bridge/bridge/connectors/rakuten/api"
)

const (
	defaultTimeout = 30 * time.Second
	// DefaultQuotaBackoff is how long a quota refusal puts the account
	// off. The quota is hourly and its numbers and window are UNVERIFIED;
	// after an hour every request it counted is older than an hour,
	// whatever the window.
	DefaultQuotaBackoff = time.Hour
	// DefaultMaxItemsPerListing bounds the items of the todo list one
	// listing reads; the rest stay unread and on the list for the next.
	DefaultMaxItemsPerListing = 1000
	// maxThreadsPerPage is the largest page of threads.
	maxThreadsPerPage = 100
	// maxSalePages bounds the pages of current sales read to find an
	// item's purchase.
	maxSalePages = 50
)

// Correspondents, as the last part of a thread id.
const (
	CorrBuyer   = "BUYER"
	CorrRakuten = "RAKUTEN"
)

// Options configures a Client.
type Options struct {
	// BaseURL is the service's root, https://ws.fr.shopping.rakuten.com;
	// sales_ws is below it.
	BaseURL string
	// Login is the seller's login; Token its web service token (the pwd
	// parameter).
	Login string
	Token string
	// Store keeps what cannot be read twice (see Store); nil means a
	// MemoryStore, which a restart loses.
	Store Store
	// Versions overrides the version sent per action (api.Versions).
	Versions map[string]string
	// QuotaBackoff is how long a quota refusal defers the account; 0
	// means DefaultQuotaBackoff.
	QuotaBackoff time.Duration
	// Limiter and LimiterKey, when set, are the shared limiter and the
	// account's key in it (the HTTPClient's): a quota refusal, which
	// Rakuten answers with 200, penalizes the key there, so that every
	// call of the account, on every replica, waits for the quota too.
	Limiter    connectors.Limiter
	LimiterKey string
	// MaxItemsPerListing bounds the todo list's items one listing reads;
	// 0 means DefaultMaxItemsPerListing.
	MaxItemsPerListing int
	// HTTPClient sends the requests; nil means a client with a 30 s
	// timeout.
	HTTPClient *http.Client
	// Now is the clock, for the contact windows and order stamps.
	Now func() time.Time
}

// Client is one Rakuten France seller account. It is safe for concurrent
// use.
type Client struct {
	base         string
	login, token string
	store        Store
	versions     map[string]string
	quotaBackoff time.Duration
	limiter      connectors.Limiter
	limiterKey   string
	maxItems     int
	hc           *http.Client
	now          func() time.Time
}

var (
	_ connectors.Marketplace = (*Client)(nil)
	_ connectors.OrderLister = (*Client)(nil)
	_ connectors.OrderActor  = (*Client)(nil)
)

// New returns a client for one account.
func New(opts Options) (*Client, error) {
	u, err := url.Parse(opts.BaseURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, errors.New("rakuten: BaseURL must be an http(s) URL such as https://ws.fr.shopping.rakuten.com")
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, errors.New("rakuten: BaseURL must not carry credentials, a query or a fragment")
	}
	if opts.Login == "" || opts.Token == "" {
		return nil, errors.New("rakuten: Login and Token are required")
	}
	c := &Client{
		base: strings.TrimRight(u.String(), "/"), login: opts.Login, token: opts.Token,
		store: opts.Store, versions: map[string]string{},
		quotaBackoff: cmp.Or(opts.QuotaBackoff, DefaultQuotaBackoff),
		limiter:      opts.Limiter, limiterKey: opts.LimiterKey,
		maxItems: cmp.Or(opts.MaxItemsPerListing, DefaultMaxItemsPerListing),
		hc:       opts.HTTPClient, now: opts.Now,
	}
	for k, v := range api.Versions {
		c.versions[k] = cmp.Or(opts.Versions[k], v)
	}
	if c.store == nil {
		c.store = NewMemoryStore()
	}
	if c.hc == nil {
		c.hc = &http.Client{Timeout: defaultTimeout}
	}
	if c.now == nil {
		c.now = time.Now
	}
	return c, nil
}

// Capabilities: plain text to the buyer or to Rakuten, no files. Rakuten
// states no length bound: api.MaxContentChars is a conservative guess
// (UNVERIFIED).
func (c *Client) Capabilities() connectors.MarketplaceCapabilities {
	return connectors.MarketplaceCapabilities{
		MinBodyChars: 1,
		MaxBodyChars: api.MaxContentChars,
		Recipients:   []connectors.PartyType{connectors.PartyCustomer, connectors.PartyOperator},
		// Each listed item's messages are read (getiteminfos).
		CallsPerListedThread: 1,
	}
}

// ThreadID is the id of the thread with corr (CorrBuyer or CorrRakuten)
// about an item.
func ThreadID(itemID, corr string) string { return itemID + "/" + corr }

var itemIDShape = regexp.MustCompile(`^[0-9A-Za-z_-]{1,40}$`)

func parseThreadID(id string) (itemID, corr string, ok bool) {
	itemID, corr, found := strings.Cut(id, "/")
	return itemID, corr, found && itemIDShape.MatchString(itemID) && (corr == CorrBuyer || corr == CorrRakuten)
}

// listCursor is the port's page token: the query and where the last page
// ended.
type listCursor struct {
	Since   time.Time `json:"s"`
	AfterAt time.Time `json:"a"`
	AfterID string    `json:"i,omitempty"`
	Limit   int       `json:"l"`
}

func (cur listCursor) encode() string {
	return connectors.EncodePageToken(cur)
}

func decodeCursor(s string) (listCursor, error) {
	var cur listCursor
	err := connectors.DecodePageToken(s, &cur)
	if err != nil || cur.Limit < 1 || cur.Limit > maxThreadsPerPage || cur.AfterID == "" {
		return listCursor{}, invalid("not a page token of this connector")
	}
	return cur, nil
}

// ListThreads returns one page of threads, each with all its messages.
func (c *Client) ListThreads(ctx context.Context, q connectors.ThreadQuery) (connectors.ThreadPage, error) {
	fail := func(err error) (connectors.ThreadPage, error) {
		return connectors.ThreadPage{}, fmt.Errorf("rakuten: list threads: %w", err)
	}
	cur := listCursor{Limit: maxThreadsPerPage, Since: q.UpdatedSince}
	if q.PageToken != "" {
		var err error
		if cur, err = decodeCursor(q.PageToken); err != nil {
			return fail(err)
		}
	} else {
		if q.Limit > 0 {
			cur.Limit = min(q.Limit, maxThreadsPerPage)
		}
		if err := c.refresh(ctx); err != nil {
			return fail(err)
		}
	}
	recs, err := c.store.ItemsSince(ctx, cur.Since)
	if err != nil {
		return fail(err)
	}
	var threads []connectors.Thread
	for _, r := range recs {
		ref, _, err := c.store.Sale(ctx, r.ItemID)
		if err != nil {
			return fail(err)
		}
		for _, th := range c.buildThreads(r, ref) {
			if !th.UpdatedAt.Before(cur.Since) {
				threads = append(threads, th)
			}
		}
	}
	slices.SortFunc(threads, func(a, b connectors.Thread) int {
		return cmp.Or(a.UpdatedAt.Compare(b.UpdatedAt), strings.Compare(a.ID, b.ID))
	})
	if cur.AfterID != "" {
		i := slices.IndexFunc(threads, func(th connectors.Thread) bool { return after(th, cur) })
		if i < 0 {
			i = len(threads)
		}
		threads = threads[i:]
	}
	page := connectors.ThreadPage{Threads: threads[:min(cur.Limit, len(threads))]}
	if len(threads) > cur.Limit {
		last := page.Threads[len(page.Threads)-1]
		cur.AfterAt, cur.AfterID = last.UpdatedAt, last.ID
		page.NextPageToken = cur.encode()
	}
	return page, nil
}

func after(th connectors.Thread, cur listCursor) bool {
	return cmp.Or(th.UpdatedAt.Compare(cur.AfterAt), strings.Compare(th.ID, cur.AfterID)) > 0
}

// refresh reads the items of the todo list into the Store.
func (c *Client) refresh(ctx context.Context) error {
	var todo api.GetItemTodoListResult
	if err := c.call(ctx, api.ActionGetItemTodoList, nil, &todo); err != nil {
		return err
	}
	// Items whose last read lost its answer first: Rakuten marked their
	// messages read, so they are off the todo list.
	ids, err := c.store.Unread(ctx, c.maxItems)
	if err != nil {
		return err
	}
	for _, it := range todo.Response.Items {
		if id := strings.TrimSpace(it.ItemID); !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	var missing bool
	for i, id := range ids {
		if i >= c.maxItems {
			break
		}
		if _, err := c.itemInfo(ctx, id); err != nil {
			if errors.Is(err, connectors.ErrNotFound) {
				if err := c.store.Read(ctx, id); err != nil {
					return err
				}
				continue // gone meanwhile
			}
			return fmt.Errorf("item %s: %w", connectors.ShortID(id), err)
		}
		if _, ok, err := c.store.Sale(ctx, id); err != nil {
			return err
		} else if !ok {
			missing = true
		}
	}
	if missing {
		return c.learnSales(ctx)
	}
	return nil
}

// itemInfo reads an item with getiteminfos, which marks its messages
// read, and keeps it in the Store before anything else.
func (c *Client) itemInfo(ctx context.Context, itemID string) (api.ItemInfo, error) {
	if err := c.store.Reading(ctx, itemID, c.now()); err != nil {
		return api.ItemInfo{}, fmt.Errorf("noting item %s: %w", connectors.ShortID(itemID), err)
	}
	var res api.GetItemInfosResult
	if err := c.call(ctx, api.ActionGetItemInfos, url.Values{api.ParamItemID: {itemID}}, &res); err != nil {
		return api.ItemInfo{}, err
	}
	info := res.Response.Item
	if strings.TrimSpace(info.ItemID) == "" {
		info.ItemID = itemID
	}
	rec := ItemRecord{ItemID: itemID, Info: info}
	for _, d := range slices.Concat(mailDates(info), messageDates(info)) {
		if t, err := api.ParseTime(d); err == nil && t.After(rec.UpdatedAt) {
			rec.UpdatedAt = t
		}
	}
	if err := c.store.SaveItem(ctx, rec); err != nil {
		return api.ItemInfo{}, fmt.Errorf("keeping item %s: %w", connectors.ShortID(itemID), err)
	}
	if err := c.store.Read(ctx, itemID); err != nil {
		return api.ItemInfo{}, fmt.Errorf("keeping item %s: %w", connectors.ShortID(itemID), err)
	}
	return info, nil
}

func mailDates(info api.ItemInfo) []string {
	out := make([]string, len(info.Mails))
	for i, m := range info.Mails {
		out[i] = m.SendDate
	}
	return out
}

func messageDates(info api.ItemInfo) []string {
	out := make([]string, len(info.Messages))
	for i, m := range info.Messages {
		out[i] = m.SendDate
	}
	return out
}

// learnSales reads the new and current sales into the Store, to know
// the purchase of each item.
func (c *Client) learnSales(ctx context.Context) error {
	var news api.GetNewSalesResult
	if err := c.call(ctx, api.ActionGetNewSales, nil, &news); err != nil {
		return err
	}
	if err := c.keepSales(ctx, news.Response.Sales); err != nil {
		return err
	}
	token := ""
	for range maxSalePages {
		sales, next, err := c.currentSales(ctx, token)
		if err != nil {
			return err
		}
		if err := c.keepSales(ctx, sales); err != nil {
			return err
		}
		if next == "" || next == token {
			return nil
		}
		token = next
	}
	return nil
}

func (c *Client) currentSales(ctx context.Context, token string) ([]api.Sale, string, error) {
	var res api.GetCurrentSalesResult
	params := url.Values{}
	if token != "" {
		params.Set(api.ParamNextToken, token)
	}
	if err := c.call(ctx, api.ActionGetCurrentSales, params, &res); err != nil {
		return nil, "", err
	}
	next := ""
	if res.Response.NextToken != nil {
		next = strings.TrimSpace(*res.Response.NextToken)
	}
	return res.Response.Sales, next, nil
}

func (c *Client) keepSales(ctx context.Context, sales []api.Sale) error {
	var refs []SaleRef
	for _, s := range sales {
		for _, it := range s.Items {
			ref := SaleRef{
				ItemID: strings.TrimSpace(it.ItemID), PurchaseID: strings.TrimSpace(s.PurchaseID), Headline: strings.TrimSpace(it.Headline),
				PurchaseDate: strings.TrimSpace(s.PurchaseDate), BuyerLogin: strings.TrimSpace(s.Delivery.BuyerLogin),
				BuyerEmail: strings.TrimSpace(s.Delivery.BuyerEmail),
			}
			if a := s.Delivery.BillingAddress; a != nil {
				ref.BuyerName = strings.TrimSpace(strings.TrimSpace(a.FirstName) + " " + strings.TrimSpace(a.LastName))
			}
			refs = append(refs, ref)
		}
	}
	if len(refs) == 0 {
		return nil
	}
	return c.store.SaveSales(ctx, refs)
}

// GetThread returns one thread with all its messages. It reads the item
// from Rakuten, which marks its messages read; the Store keeps them.
func (c *Client) GetThread(ctx context.Context, threadID string) (connectors.Thread, error) {
	th, _, err := c.thread(ctx, threadID)
	if err != nil {
		return connectors.Thread{}, fmt.Errorf("rakuten: get thread %s: %w", connectors.ShortID(threadID), err)
	}
	return th, nil
}

func (c *Client) thread(ctx context.Context, threadID string) (connectors.Thread, api.ItemInfo, error) {
	itemID, corr, ok := parseThreadID(threadID)
	if !ok {
		// Checked against the account first, so that wrong credentials
		// show as such.
		var todo api.GetItemTodoListResult
		if err := c.call(ctx, api.ActionGetItemTodoList, nil, &todo); err != nil {
			return connectors.Thread{}, api.ItemInfo{}, err
		}
		return connectors.Thread{}, api.ItemInfo{}, fmt.Errorf("%w: not a thread id", connectors.ErrNotFound)
	}
	info, err := c.itemInfo(ctx, itemID)
	if err != nil {
		return connectors.Thread{}, api.ItemInfo{}, err
	}
	ref, known, err := c.store.Sale(ctx, itemID)
	if err != nil {
		return connectors.Thread{}, api.ItemInfo{}, err
	}
	if !known {
		if err := c.learnSales(ctx); err != nil {
			return connectors.Thread{}, api.ItemInfo{}, err
		}
		if ref, _, err = c.store.Sale(ctx, itemID); err != nil {
			return connectors.Thread{}, api.ItemInfo{}, err
		}
	}
	for _, th := range c.buildThreads(ItemRecord{ItemID: itemID, Info: info}, ref) {
		if th.ID == ThreadID(itemID, corr) {
			return th, info, nil
		}
	}
	return connectors.Thread{}, info, fmt.Errorf("%w: no such thread", connectors.ErrNotFound)
}

// DownloadAttachment: Rakuten's messages carry no files.
func (c *Client) DownloadAttachment(ctx context.Context, attachmentID string) (io.ReadCloser, connectors.AttachmentMeta, error) {
	return nil, connectors.AttachmentMeta{}, fmt.Errorf("rakuten: download attachment %s: %w: Rakuten's messages carry no files", connectors.ShortID(attachmentID), connectors.ErrNotFound)
}

// isShop tells whether a sender is the shop itself.
func (c *Client) isShop(sender string) bool {
	return strings.EqualFold(strings.TrimSpace(sender), c.login)
}

// buildThreads makes an item's threads: the buyer's, when there are
// messages, and Rakuten's, when there are mails.
func (c *Client) buildThreads(r ItemRecord, ref SaleRef) []connectors.Thread {
	info := r.Info
	entity := connectors.ThreadEntity{Type: connectors.EntityOrder, RawType: "ITEM", ID: r.ItemID, Label: r.ItemID}
	if ref.PurchaseID != "" {
		entity = connectors.ThreadEntity{Type: connectors.EntityOrder, RawType: "PURCHASE", ID: ref.PurchaseID, Label: cmp.Or(ref.Headline, ref.PurchaseID)}
	}
	shop := connectors.Party{Type: connectors.PartyShop, ID: c.login, Name: c.login}
	var out []connectors.Thread
	if len(info.Messages) > 0 {
		th := connectors.Thread{ID: ThreadID(r.ItemID, CorrBuyer), Entity: entity, Topic: cmp.Or(ref.Headline, "Article "+r.ItemID)}
		var buyer *connectors.Party
		if ref.BuyerLogin != "" {
			buyer = &connectors.Party{Type: connectors.PartyCustomer, ID: ref.BuyerLogin, Name: ref.BuyerLogin}
		}
		msgs := slices.Clone(info.Messages)
		slices.Reverse(msgs) // the answer's order is newest first
		slices.SortStableFunc(msgs, func(a, b api.Message) int { return parsed(a.SendDate).Compare(parsed(b.SendDate)) })
		seen := map[string]int{}
		for _, m := range msgs {
			tm := connectors.ThreadMessage{ID: messageID(r.ItemID, m, seen), Body: strings.TrimSpace(m.Content), CreatedAt: parsed(m.SendDate)}
			if c.isShop(m.Sender) {
				tm.From = shop
				tm.To = []connectors.Party{{Type: connectors.PartyCustomer}}
			} else {
				login := strings.TrimSpace(m.Sender)
				tm.From = connectors.Party{Type: connectors.PartyCustomer, ID: login, Name: login}
				tm.To = []connectors.Party{shop}
				if buyer == nil {
					p := tm.From
					buyer = &p
				}
			}
			th.Messages = append(th.Messages, tm)
		}
		if buyer != nil {
			for i := range th.Messages {
				if th.Messages[i].From.Type == connectors.PartyShop {
					th.Messages[i].To = []connectors.Party{*buyer}
				}
			}
			th.Customer = buyer
			th.Participants = []connectors.Party{*buyer, shop}
		} else {
			th.Participants = []connectors.Party{{Type: connectors.PartyCustomer}, shop}
		}
		out = append(out, finish(th))
	}
	if len(info.Mails) > 0 {
		th := connectors.Thread{ID: ThreadID(r.ItemID, CorrRakuten), Entity: entity}
		operator := connectors.Party{Type: connectors.PartyOperator, Name: "Rakuten"}
		mails := slices.Clone(info.Mails)
		slices.Reverse(mails)
		slices.SortStableFunc(mails, func(a, b api.Mail) int { return parsed(a.SendDate).Compare(parsed(b.SendDate)) })
		for _, m := range mails {
			tm := connectors.ThreadMessage{ID: strings.TrimSpace(m.MailID), Body: strings.TrimSpace(m.Content), CreatedAt: parsed(m.SendDate)}
			if c.isShop(m.Sender) {
				tm.From, tm.To = shop, []connectors.Party{operator}
			} else {
				tm.From = connectors.Party{Type: connectors.PartyOperator, Name: strings.TrimSpace(m.Sender)}
				tm.To = []connectors.Party{shop}
			}
			if th.Topic == "" {
				th.Topic = strings.TrimSpace(m.Object)
			}
			th.Messages = append(th.Messages, tm)
		}
		th.Participants = []connectors.Party{operator, shop}
		out = append(out, finish(th))
	}
	return out
}

func finish(th connectors.Thread) connectors.Thread {
	for _, m := range th.Messages {
		if th.CreatedAt.IsZero() || m.CreatedAt.Before(th.CreatedAt) {
			th.CreatedAt = m.CreatedAt
		}
		if m.CreatedAt.After(th.UpdatedAt) {
			th.UpdatedAt = m.CreatedAt
		}
	}
	th.TotalMessages = len(th.Messages)
	return th
}

// messageID derives a buyer message's id, which Rakuten does not give,
// from what makes it: the item, its sender, its date and content. Equal
// messages are told apart by their rank, oldest first.
func messageID(itemID string, m api.Message, seen map[string]int) string {
	h := sha256.New()
	for _, part := range []string{itemID, strings.TrimSpace(m.Sender), strings.TrimSpace(m.SendDate), strings.TrimSpace(m.Content)} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	id := "m" + hex.EncodeToString(h.Sum(nil))[:20]
	seen[id]++
	if n := seen[id]; n > 1 {
		id += "-" + strconv.Itoa(n)
	}
	return id
}

func parsed(s string) time.Time {
	t, _ := api.ParseTime(s)
	return t
}
