// Package mirakl is the bridge's connector to one shop on a Mirakl
// instance, through Mirakl's seller (shop) API (https://{instance}/api/...),
// authenticated by a shop user's API key, sent as is in the Authorization
// header (no "Bearer").
//
// How it maps connectors.Marketplace, and why:
//   - ListThreads is M11 with with_messages=true. M11 carries at most the
//     last 100 messages of a thread, so a thread whose metadata.total_count
//     is larger than what came is fetched again with M10, which carries
//     them all: every thread the port returns is complete. Mirakl's own
//     page tokens are the port's, and with_messages is sent with them too,
//     although Mirakl ignores other parameters next to page_token (official
//     PHP SDK), in case an instance does not. No sort is sent: the default
//     (most recently updated first, as the spec's example token shows) is
//     the only documented one.
//   - updated_since and start_update_date are written as Mirakl writes
//     dates, truncated to the millisecond: never later than asked.
//   - Reply is M12, multipart as the official PHP SDK sends it: a
//     message_input part in JSON (application/json;charset=utf-8) and one
//     "files" part per file (application/octet-stream, whatever the file's
//     type: the SDK knows no other). The body is checked before sending: 3
//     characters at least and 50,000 UTF-16 code units at most (Mirakl
//     counts as Java does; counting both ways keeps on the safe side).
//     Mirakl has no idempotency key and Reply does not retry; see the port.
//   - DownloadAttachment is M13; the name comes from Content-Disposition
//     (RFC 5987 filename*, an RFC 2047 encoded word, or a plain filename,
//     the forms the PHP SDK parses), the size from Content-Length. The
//     body is bounded with connectors.LimitDownload, as every connector's.
//   - ListOrders is OR11 with paginate=true and offset pagination. OR11
//     sorts by creation date, so an order updated while a listing pages
//     through keeps its place; the port's page token carries the offset
//     and the start date.
//   - GetOrder and Act (connectors.OrderActor) are OR11 with order_ids,
//     OR21, OR23, OR24, OR29 and OR30: see orders.go.
//   - ListEvaluations (connectors.EvaluationLister) is OR11 and OR51 for
//     each order, as the seller API lists no evaluations: see
//     evaluations.go.
//   - An order's documents, and its invoice, are OR72 and OR74: see
//     documents.go.
//   - Errors are classified with connectors.StatusError and
//     connectors.TransportError and carry Mirakl's message from the error
//     body ({"status", "message"}, UNVERIFIED: the spec documents none),
//     withheld if it echoes the reply's body. No customer data ever appears
//     in an error string.
//
// The caller's *http.Client carries timeouts and, in the bridge, the shared
// rate-limiting connectors.Transport; this package neither retries nor
// sleeps.
package mirakl

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/helpdesk-bridge/bridge/connectors"
	"github.com/helpdesk-bridge/bridge/connectors/mirakl/api"
)

const defaultTimeout = 30 * time.Second

// Options configures a Client.
type Options struct {
	// BaseURL is the instance, e.g. https://marketplace.example.com. A
	// path prefix, as behind a proxy, is kept; a trailing /api (as Mirakl
	// writes the "end point") is dropped, since API paths start with it.
	BaseURL string
	// APIKey is the shop user's API key.
	APIKey string
	// ShopID is sent as shop_id on every call, for a user of several
	// shops; "" uses the user's default shop.
	ShopID string
	// HTTPClient sends the requests; nil means a client with a 30 s
	// timeout. The bridge passes one whose Transport is the shared
	// connectors.Transport.
	HTTPClient *http.Client
	// Now is the clock, for Retry-After dates.
	Now func() time.Time
	// EvaluationWindow is how long after its last update an order may
	// still be evaluated, so how far before a listing's Since
	// ListEvaluations reads orders; 0 means DefaultEvaluationWindow.
	EvaluationWindow time.Duration
	// InvoiceDocumentType is the document type code invoices are uploaded
	// with (OR74); "" means DefaultInvoiceDocumentType. Operators set
	// their own codes: DO01 lists them.
	InvoiceDocumentType string
}

// Client is one shop on a Mirakl instance. It is safe for concurrent use.
type Client struct {
	base   string
	apiKey string
	shopID string
	hc     *http.Client
	now    func() time.Time
	// evaluationWindow: see Options.EvaluationWindow.
	evaluationWindow time.Duration
	// invoiceType: see Options.InvoiceDocumentType.
	invoiceType string
}

var (
	_ connectors.Marketplace = (*Client)(nil)
	_ connectors.OrderLister = (*Client)(nil)
)

// New returns a client for one Mirakl shop.
func New(opts Options) (*Client, error) {
	u, err := url.Parse(opts.BaseURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, errors.New("mirakl: BaseURL must be an http(s) URL such as https://marketplace.example.com")
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, errors.New("mirakl: BaseURL must not carry credentials, a query or a fragment")
	}
	if opts.APIKey == "" {
		return nil, errors.New("mirakl: APIKey is required")
	}
	if opts.EvaluationWindow < 0 {
		return nil, errors.New("mirakl: EvaluationWindow cannot be negative")
	}
	if opts.ShopID != "" {
		if _, err := strconv.ParseInt(opts.ShopID, 10, 64); err != nil {
			return nil, errors.New("mirakl: ShopID must be a number")
		}
	}
	base := strings.TrimRight(u.String(), "/")
	c := &Client{
		base:   strings.TrimSuffix(base, "/api"),
		apiKey: opts.APIKey,
		shopID: opts.ShopID,
		hc:     opts.HTTPClient,
		now:    opts.Now,

		evaluationWindow: cmp.Or(opts.EvaluationWindow, DefaultEvaluationWindow),
		invoiceType:      cmp.Or(strings.TrimSpace(opts.InvoiceDocumentType), DefaultInvoiceDocumentType),
	}
	if c.hc == nil {
		c.hc = &http.Client{Timeout: defaultTimeout}
	}
	if c.now == nil {
		c.now = time.Now
	}
	return c, nil
}

// Capabilities states M12's limits, from the spec. Mirakl states no file
// size for M12 (OR43 allows 30 MB per message), so MaxFileBytes is unknown.
func (c *Client) Capabilities() connectors.MarketplaceCapabilities {
	return connectors.MarketplaceCapabilities{
		Attachments:             true,
		MaxAttachmentsPerEntity: api.MaxAttachmentsPerEntity,
		MaxMessagesPerThread:    api.MaxMessagesPerThread,
		MinBodyChars:            api.MinBodyChars,
		MaxBodyChars:            api.MaxBodyChars,
		Recipients:              []connectors.PartyType{connectors.PartyCustomer, connectors.PartyOperator},
	}
}

// ListThreads returns one page of threads, each with all its messages.
func (c *Client) ListThreads(ctx context.Context, q connectors.ThreadQuery) (connectors.ThreadPage, error) {
	fail := func(err error) (connectors.ThreadPage, error) {
		return connectors.ThreadPage{}, fmt.Errorf("mirakl: list threads: %w", err)
	}
	query := url.Values{"with_messages": {"true"}}
	if q.PageToken != "" {
		query.Set("page_token", q.PageToken)
	} else {
		limit := api.DefaultThreadLimit
		if q.Limit > 0 {
			limit = min(q.Limit, api.MaxThreadLimit)
		}
		query.Set("limit", strconv.Itoa(limit))
		if !q.UpdatedSince.IsZero() {
			query.Set("updated_since", api.FormatTime(q.UpdatedSince))
		}
	}
	var list api.ThreadList
	if err := c.do(ctx, call{method: http.MethodGet, path: "/api/inbox/threads", query: query}, &list); err != nil {
		return fail(err)
	}
	page := connectors.ThreadPage{NextPageToken: list.NextPageToken}
	for _, t := range list.Data {
		if t.Metadata.TotalCount > len(t.Messages) {
			// The listing carried only the last messages: M10 has them all.
			full, err := c.thread(ctx, t.ID)
			if err != nil {
				return fail(fmt.Errorf("thread %s: %w", connectors.ShortID(t.ID), err))
			}
			t = full
		}
		page.Threads = append(page.Threads, toThread(t))
	}
	return page, nil
}

// GetThread returns one thread with all its messages.
func (c *Client) GetThread(ctx context.Context, threadID string) (connectors.Thread, error) {
	if threadID == "" {
		return connectors.Thread{}, fmt.Errorf("mirakl: get thread: %w: no thread id", connectors.ErrNotFound)
	}
	t, err := c.thread(ctx, threadID)
	if err != nil {
		return connectors.Thread{}, fmt.Errorf("mirakl: get thread %s: %w", connectors.ShortID(threadID), err)
	}
	return toThread(t), nil
}

func (c *Client) thread(ctx context.Context, id string) (api.Thread, error) {
	var t api.Thread
	err := c.do(ctx, call{method: http.MethodGet, path: threadPath(id)}, &t)
	return t, err
}

// Reply posts the shop's message to a thread, with its files.
func (c *Client) Reply(ctx context.Context, threadID string, r connectors.Reply) (connectors.SentReply, error) {
	fail := func(err error) (connectors.SentReply, error) {
		return connectors.SentReply{}, fmt.Errorf("mirakl: reply to thread %s: %w", connectors.ShortID(threadID), connectors.WithholdQuoted(err, r.Body))
	}
	if threadID == "" {
		return fail(invalid("no thread id"))
	}
	in, err := messageInput(r)
	if err != nil {
		return fail(err)
	}
	body, contentType, err := multipartBody(in, r.Files)
	if err != nil {
		return fail(err)
	}
	var created api.ReplyCreated
	cl := call{method: http.MethodPost, path: threadPath(threadID) + "/message", body: body, contentType: contentType}
	if err := c.do(ctx, cl, &created); err != nil {
		// M12 takes no idempotency key: a reply that got no answer may
		// still be posted, and the caller must let it settle.
		return fail(connectors.Uncertain(err))
	}
	return connectors.SentReply{ThreadID: cmp.Or(created.ThreadID, threadID), MessageID: created.MessageID}, nil
}

// messageInput checks a reply against M12's rules and builds its
// message_input.
func messageInput(r connectors.Reply) (api.MessageInput, error) {
	switch {
	case strings.TrimSpace(r.Body) == "":
		return api.MessageInput{}, invalid("the body is empty")
	case utf8.RuneCountInString(r.Body) < api.MinBodyChars:
		return api.MessageInput{}, invalid(fmt.Sprintf("the body is shorter than %d characters", api.MinBodyChars))
	case len(utf16.Encode([]rune(r.Body))) > api.MaxBodyChars:
		return api.MessageInput{}, invalid(fmt.Sprintf("the body is longer than %d characters", api.MaxBodyChars))
	case len(r.To) == 0:
		return api.MessageInput{}, invalid("a reply needs a recipient")
	case len(r.Files) > api.MaxAttachmentsPerEntity:
		return api.MessageInput{}, invalid(fmt.Sprintf("a reply carries at most %d files", api.MaxAttachmentsPerEntity))
	}
	in := api.MessageInput{Body: r.Body}
	for _, to := range r.To {
		var typ string
		switch to {
		case connectors.PartyCustomer:
			typ = api.ParticipantCustomer
		case connectors.PartyOperator:
			typ = api.ParticipantOperator
		default:
			return api.MessageInput{}, invalid(fmt.Sprintf("a reply cannot be addressed to %q", to))
		}
		if !slices.ContainsFunc(in.To, func(r api.Recipient) bool { return r.Type == typ }) {
			in.To = append(in.To, api.Recipient{Type: typ})
		}
	}
	for _, f := range r.Files {
		if f.Name == "" || strings.ContainsFunc(f.Name, unicode.IsControl) {
			return api.MessageInput{}, invalid("a file needs a name without control characters")
		}
	}
	return in, nil
}

// multipartBody writes M12's body as the official PHP SDK does.
func multipartBody(in api.MessageInput, files []connectors.ReplyFile) ([]byte, string, error) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	part, err := mw.CreatePart(textproto.MIMEHeader{
		"Content-Disposition": {`form-data; name="message_input"`},
		"Content-Type":        {"application/json;charset=utf-8"},
	})
	if err != nil {
		return nil, "", err
	}
	if err := json.NewEncoder(part).Encode(in); err != nil {
		return nil, "", fmt.Errorf("encode message_input: %w", err)
	}
	for _, f := range files {
		part, err := mw.CreatePart(textproto.MIMEHeader{
			"Content-Disposition": {multipart.FileContentDisposition("files", f.Name)},
			"Content-Type":        {"application/octet-stream"},
		})
		if err != nil {
			return nil, "", err
		}
		if _, err := part.Write(f.Content); err != nil {
			return nil, "", err
		}
	}
	if err := mw.Close(); err != nil {
		return nil, "", err
	}
	return buf.Bytes(), mw.FormDataContentType(), nil
}

// DownloadAttachment streams an attachment's content (M13).
func (c *Client) DownloadAttachment(ctx context.Context, attachmentID string) (io.ReadCloser, connectors.AttachmentMeta, error) {
	fail := func(err error) (io.ReadCloser, connectors.AttachmentMeta, error) {
		return nil, connectors.AttachmentMeta{}, fmt.Errorf("mirakl: download attachment %s: %w", connectors.ShortID(attachmentID), err)
	}
	if attachmentID == "" {
		return fail(fmt.Errorf("%w: no attachment id", connectors.ErrNotFound))
	}
	resp, err := c.open(ctx, call{method: http.MethodGet, path: threadPath(attachmentID) + "/download", accept: "application/octet-stream, application/json"})
	if err != nil {
		return fail(err)
	}
	meta := connectors.AttachmentMeta{
		ID:   attachmentID,
		Name: cmp.Or(fileName(resp.Header.Get("Content-Disposition")), attachmentID),
		Size: resp.ContentLength,
	}
	return connectors.LimitDownload(resp.Body, maxDownloadBytes), meta, nil
}

// plainFilename reads filename="…" when the header as a whole does not
// parse (a raw non-ASCII name, say).
var plainFilename = regexp.MustCompile(`(?i)filename\s*=\s*"([^"]*)"`)

// fileName reads the file name of a Content-Disposition header in the
// forms the PHP SDK knows: RFC 5987 (a percent-encoded filename*, which
// ParseMediaType decodes and prefers), an RFC 2047 encoded word inside
// filename="…", or a plain filename.
func fileName(disposition string) string {
	name := ""
	if _, params, err := mime.ParseMediaType(disposition); err == nil {
		name = params["filename"]
	} else if m := plainFilename.FindStringSubmatch(disposition); m != nil {
		name = m[1]
	}
	if strings.HasPrefix(name, "=?") {
		if decoded, err := new(mime.WordDecoder).DecodeHeader(name); err == nil {
			name = decoded
		}
	}
	return name
}

// ListOrders returns one page of the shop's orders (OR11).
func (c *Client) ListOrders(ctx context.Context, q connectors.OrderQuery) (connectors.OrderPage, error) {
	fail := func(err error) (connectors.OrderPage, error) {
		return connectors.OrderPage{}, fmt.Errorf("mirakl: list orders: %w", err)
	}
	cur := orderCursor{Max: api.MaxOrderMax}
	if q.PageToken != "" {
		var err error
		if cur, err = decodeCursor(q.PageToken); err != nil {
			return fail(err)
		}
	} else {
		if q.Limit > 0 {
			cur.Max = min(q.Limit, api.MaxOrderMax)
		}
		if !q.UpdatedSince.IsZero() {
			cur.Since = api.FormatTime(q.UpdatedSince)
		}
	}
	query := url.Values{
		"paginate": {"true"},
		"max":      {strconv.Itoa(cur.Max)},
		"offset":   {strconv.Itoa(cur.Offset)},
	}
	if cur.Since != "" {
		query.Set("start_update_date", cur.Since)
	}
	var list api.OrderList
	if err := c.do(ctx, call{method: http.MethodGet, path: "/api/orders", query: query}, &list); err != nil {
		return fail(err)
	}
	page := connectors.OrderPage{Total: list.TotalCount}
	for _, o := range list.Orders {
		page.Orders = append(page.Orders, toOrder(o))
	}
	if next := cur.Offset + len(list.Orders); len(list.Orders) > 0 && next < list.TotalCount {
		cur.Offset = next
		page.NextPageToken = cur.encode()
	}
	return page, nil
}

// orderCursor is the port's page token for OR11: a listing's query and
// where it stands.
type orderCursor struct {
	Since  string `json:"s,omitempty"`
	Max    int    `json:"m"`
	Offset int    `json:"o"`
}

func (c orderCursor) encode() string {
	return connectors.EncodePageToken(c)
}

func decodeCursor(s string) (orderCursor, error) {
	var c orderCursor
	err := connectors.DecodePageToken(s, &c)
	if err != nil || c.Max < 1 || c.Max > api.MaxOrderMax || c.Offset < 0 {
		return orderCursor{}, invalid("not a page token of this connector")
	}
	return c, nil
}

func toThread(t api.Thread) connectors.Thread {
	out := connectors.Thread{
		ID:            t.ID,
		Topic:         t.Topic.Value,
		Entity:        connectors.ThreadEntity{Type: connectors.EntityOther},
		CreatedAt:     t.DateCreated.Time,
		UpdatedAt:     t.DateUpdated.Time,
		TotalMessages: t.Metadata.TotalCount,
	}
	if len(t.Entities) > 0 {
		e := t.Entities[0]
		out.Entity = connectors.ThreadEntity{Type: entityType(e.Type), RawType: e.Type, ID: e.ID, Label: e.Label}
	}
	for _, p := range t.AuthorizedParticipants {
		out.Participants = append(out.Participants, toParty(p))
	}
	for _, p := range slices.Concat(t.AuthorizedParticipants, t.CurrentParticipants) {
		if party := toParty(p); party.Type == connectors.PartyCustomer {
			out.Customer = &party
			break
		}
	}
	for _, m := range t.Messages {
		msg := connectors.ThreadMessage{
			ID:        m.ID,
			Body:      m.Body,
			CreatedAt: m.DateCreated.Time,
			From:      connectors.Party{Type: senderType(m.From.Type), Name: m.From.DisplayName},
		}
		if d := m.From.OrganizationDetails; d != nil {
			msg.From.ID = d.ID
		}
		for _, p := range m.To {
			msg.To = append(msg.To, toParty(p))
		}
		for _, a := range m.Attachments {
			msg.Attachments = append(msg.Attachments, connectors.AttachmentMeta{ID: a.ID, Name: a.Name, Size: a.Size})
		}
		out.Messages = append(out.Messages, msg)
	}
	// Oldest first, whatever order the answer used; equal dates keep it.
	slices.SortStableFunc(out.Messages, func(a, b connectors.ThreadMessage) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return out
}

func toParty(p api.Participant) connectors.Party {
	typ := connectors.PartyOther
	switch p.Type {
	case api.ParticipantCustomer:
		typ = connectors.PartyCustomer
	case api.ParticipantOperator:
		typ = connectors.PartyOperator
	case api.ParticipantShop:
		typ = connectors.PartyShop
	}
	return connectors.Party{Type: typ, ID: p.ID, Name: p.DisplayName}
}

func senderType(s string) connectors.PartyType {
	switch s {
	case api.SenderCustomer:
		return connectors.PartyCustomer
	case api.SenderOperator:
		return connectors.PartyOperator
	case api.SenderShop:
		return connectors.PartyShop
	}
	return connectors.PartyOther
}

// entityType normalises Mirakl's entity types. Product orders (MMP) and
// service orders (MPS) are orders; offers and services are what a
// customer asks about before buying. An unknown type ending in ORDER is
// taken for an order, as Mirakl adds types.
func entityType(raw string) string {
	switch raw {
	case api.EntityOrder, api.EntityServiceOrder:
		return connectors.EntityOrder
	case api.EntityOffer, api.EntityService:
		return connectors.EntityProduct
	}
	if strings.HasSuffix(raw, "ORDER") {
		return connectors.EntityOrder
	}
	return connectors.EntityOther
}

func toOrder(o api.Order) connectors.Order {
	out := connectors.Order{
		ID:              o.OrderID,
		CommercialID:    o.CommercialID,
		State:           o.OrderState,
		Status:          OrderStatus(o.OrderState),
		Actions:         orderActions(o),
		CreatedAt:       o.CreatedDate.Time,
		UpdatedAt:       o.LastUpdatedDate.Time,
		CustomerEmail:   o.CustomerNotificationEmail,
		CustomerName:    strings.TrimSpace(o.Customer.Firstname + " " + o.Customer.Lastname),
		CustomerID:      o.Customer.CustomerID,
		TrackingNumber:  o.ShippingTracking,
		TrackingURL:     o.ShippingTrackingURL,
		Carrier:         cmp.Or(o.ShippingCompany, o.ShippingCarrierCode),
		Total:           o.TotalPrice.String(),
		Currency:        o.CurrencyISOCode,
		ShippingPrice:   o.ShippingPrice.String(),
		BillingAddress:  toAddress(o.Customer.BillingAddress),
		ShippingAddress: toAddress(o.Customer.ShippingAddress),
	}
	for _, l := range o.OrderLines {
		canceled := 0
		for _, c := range l.Cancelations {
			canceled += c.Quantity
		}
		out.Lines = append(out.Lines, connectors.OrderLine{
			ID: l.OrderLineID, SKU: l.OfferSKU, Title: l.ProductTitle, Quantity: l.Quantity, Canceled: canceled,
			Price: l.Price.String(), Status: OrderStatus(l.OrderLineState),
		})
	}
	return out
}

// toAddress maps a Mirakl address; nil for none.
func toAddress(a *api.Address) *connectors.Address {
	if a == nil {
		return nil
	}
	out := &connectors.Address{
		Name:  strings.TrimSpace(strings.TrimSpace(a.Firstname) + " " + strings.TrimSpace(a.Lastname)),
		Line1: strings.TrimSpace(a.Street1), Line2: strings.TrimSpace(a.Street2),
		PostalCode: strings.TrimSpace(a.ZipCode), City: strings.TrimSpace(a.City),
		Country: alpha2[strings.ToUpper(strings.TrimSpace(a.CountryISOCode))],
	}
	if *out == (connectors.Address{}) {
		return nil
	}
	return out
}

// alpha2 reads Mirakl's ISO 3166-1 alpha-3 country codes, for the
// countries European marketplaces deliver to.
var alpha2 = map[string]string{
	"FRA": "FR", "BEL": "BE", "LUX": "LU", "MCO": "MC", "CHE": "CH", "DEU": "DE", "AUT": "AT", "NLD": "NL",
	"ITA": "IT", "ESP": "ES", "PRT": "PT", "GBR": "GB", "IRL": "IE", "DNK": "DK", "SWE": "SE", "FIN": "FI",
	"NOR": "NO", "POL": "PL", "CZE": "CZ", "SVK": "SK", "HUN": "HU", "ROU": "RO", "BGR": "BG", "GRC": "GR",
	"HRV": "HR", "SVN": "SI", "EST": "EE", "LVA": "LV", "LTU": "LT", "CYP": "CY", "MLT": "MT", "AND": "AD",
	"GLP": "GP", "MTQ": "MQ", "GUF": "GF", "REU": "RE", "MYT": "YT", "USA": "US", "CAN": "CA",
}

// threadPath is a path below /api/inbox/threads/; M13 shares it, with an
// attachment id.
func threadPath(id string) string { return "/api/inbox/threads/" + url.PathEscape(id) }

func invalid(what string) error { return fmt.Errorf("%w: %s", connectors.ErrInvalid, what) }
