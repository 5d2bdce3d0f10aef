package invoices

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	_ "time/tzdata" // invoices are dated in Paris time on any host

	"github.com/redis/go-redis/v9"
)

// Service issues and keeps a merchant's invoices. In Redis, per merchant
// and store (P is the key prefix):
//
//	P inv:{<merchant>}:seq:<store>:<kind>:<prefix>  a series: the last
//	                        number issued (n) and its date (d), a hash
//	P inv:{<merchant>}:r:<store>:<number>   an issued invoice or credit
//	                        note, as JSON: the record, kept for good
//	P inv:{<merchant>}:o:<store>:<order>    the number of an order's invoice
//	P inv:{<merchant>}:k:<store>:<key>      the number of the credit note
//	                        made for a caller's key (a refund, a return)
//	P inv:{<merchant>}:cn:<store>:<number>  an invoice's credit notes, a list
//	P inv:{<merchant>}:pdf:<store>:<number> the PDF, when kept in Redis
//	                        (files.go)
//
// Every key carries the merchant as its Redis Cluster hash tag, the same
// as the merchant's orders (w:{<merchant>}:…), so that the script that
// issues a number writes the series, the record and the order's link in
// one slot, atomically; and a later script can read the order beside them.
// Nothing expires: French law keeps invoices ten years (Code de commerce
// L123-22), and a number once issued is never issued again.
type Service struct {
	rdb    redis.UniversalClient
	prefix string
	files  Files
	now    func() time.Time
	loc    *time.Location
}

// NewService returns the invoices on rdb, keeping PDFs in files. Invoices
// are dated by now in Paris time.
func NewService(rdb redis.UniversalClient, keyPrefix string, files Files, now func() time.Time) *Service {
	loc, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		loc = time.UTC // unreachable: the zone is embedded
	}
	return &Service{rdb: rdb, prefix: keyPrefix, files: files, now: now, loc: loc}
}

func (s *Service) key(merchant, rest string) string {
	return s.prefix + "inv:{" + merchant + "}:" + rest
}

// Errors a caller can act on.
var (
	// ErrNotFound: no such invoice.
	ErrNotFound = errors.New("invoices: no such invoice")
	// ErrNumberUsed: the number exists already, in another series with the
	// same prefix (a prefix serves one kind of document).
	ErrNumberUsed = errors.New("invoices: number already used")
	// ErrBusy: other replicas kept taking the next number; try again.
	ErrBusy = errors.New("invoices: the series is busy, try again")
)

// NumberError is an explicit number that would break the series: it says
// which number the series allows instead.
type NumberError struct {
	Asked int64
	Next  int64
	// First is true when the series has issued nothing yet: then any
	// number from Next on is allowed.
	First bool
}

func (e *NumberError) Error() string {
	if e.First {
		return fmt.Sprintf("invoices: number %d is below the series' start, %d", e.Asked, e.Next)
	}
	return fmt.Sprintf("invoices: number %d would leave a gap or reuse a number: the next is %d", e.Asked, e.Next)
}

// Options are a generation's choices.
type Options struct {
	// Number is the sequence number asked for, 0 for the next one. The
	// rule that keeps a series gapless and chronological: it must be the
	// next number, except for the series' first document, which may take
	// any number from the start number on (continuing a series the
	// merchant kept elsewhere). Anything else is a *NumberError.
	Number int64
}

// issue commits a new document in one script: the series moves from last
// to the new number only if nobody moved it meanwhile and the date does
// not go back; the record and the ref's link are written with it. A ref
// that has a document already returns that one's number. A credit note
// passes the length its invoice's list had when it was checked against
// the earlier ones: a list that grew meanwhile answers 'moved'.
var issueScript = redis.NewScript(`
local have = redis.call('GET', KEYS[2])
if have then return {'exists', have} end
if ARGV[6] and redis.call('LLEN', KEYS[4]) ~= tonumber(ARGV[6]) then return {'moved'} end
local last = redis.call('HGET', KEYS[1], 'n') or ''
if last ~= ARGV[1] then return {'stale'} end
local d = redis.call('HGET', KEYS[1], 'd')
if d and d > ARGV[3] then return {'stale'} end
if redis.call('EXISTS', KEYS[3]) == 1 then return {'used'} end
redis.call('HSET', KEYS[1], 'n', ARGV[2], 'd', ARGV[3])
redis.call('SET', KEYS[3], ARGV[5])
redis.call('SET', KEYS[2], ARGV[4])
if #KEYS > 3 then redis.call('RPUSH', KEYS[4], ARGV[4]) end
return {'ok'}
`)

// series names one numbering series.
type series struct {
	kind   Kind
	prefix string
	start  int64
	digits int
}

func invoiceSeries(set Settings) series {
	return series{KindInvoice, set.Prefix, set.StartNumber, set.Digits}
}

func creditSeries(set Settings) series {
	return series{KindCreditNote, set.CreditPrefix, set.CreditStartNumber, set.Digits}
}

func (s *Service) seqKey(merchant, store string, sr series) string {
	return s.key(merchant, "seq:"+store+":"+string(sr.kind)+":"+sr.prefix)
}

// position reads a series: its last number (0 when it issued nothing) and
// that one's date.
func (s *Service) position(ctx context.Context, merchant, store string, sr series) (int64, string, error) {
	v, err := s.rdb.HMGet(ctx, s.seqKey(merchant, store, sr), "n", "d").Result()
	if err != nil {
		return 0, "", fmt.Errorf("invoices: read series: %w", err)
	}
	var last int64
	if n, ok := v[0].(string); ok {
		if last, err = strconv.ParseInt(n, 10, 64); err != nil {
			return 0, "", fmt.Errorf("invoices: series %q holds %q", sr.prefix, n)
		}
	}
	d, _ := v[1].(string)
	return last, d, nil
}

// Next returns the number the store's next invoice (or credit note) would
// take, as a confirmation step shows it before generating.
func (s *Service) Next(ctx context.Context, merchant string, set Settings, store string, kind Kind) (int64, string, error) {
	set = set.Normalize()
	sr := invoiceSeries(set)
	if kind == KindCreditNote {
		sr = creditSeries(set)
	}
	last, _, err := s.position(ctx, merchant, store, sr)
	if err != nil {
		return 0, "", err
	}
	next := sr.start
	if last > 0 {
		next = last + 1
	}
	return next, formatNumber(sr.prefix, sr.digits, next), nil
}

// issue numbers inv in series sr and commits it with the link refKey
// (and the credit note list, when listKey is set, if it still has
// listLen entries, else errCreditsMoved). When refKey has a document
// already, that one is returned instead, and created is false.
func (s *Service) issue(ctx context.Context, merchant string, sr series, inv *Invoice, refKey, listKey string, listLen int, asked int64) (_ *Invoice, created bool, _ error) {
	today := s.now().In(s.loc).Format(time.DateOnly)
	for range 100 {
		last, lastDate, err := s.position(ctx, merchant, inv.Store, sr)
		if err != nil {
			return nil, false, err
		}
		next := sr.start
		if last > 0 {
			next = last + 1
		}
		if asked != 0 {
			switch {
			case last == 0 && asked < sr.start:
				return nil, false, &NumberError{Asked: asked, Next: sr.start, First: true}
			case last == 0:
				next = asked
			case asked != next:
				return nil, false, &NumberError{Asked: asked, Next: next}
			}
		}
		if next > maxNumber {
			return nil, false, fmt.Errorf("invoices: series %q is full", sr.prefix)
		}
		// A replica whose clock is behind must not date a later number
		// before an earlier one: the series is chronological.
		date := max(today, lastDate)
		inv.Seq, inv.Prefix, inv.Date = next, sr.prefix, date
		inv.Number = formatNumber(sr.prefix, sr.digits, next)
		data, err := json.Marshal(inv)
		if err != nil {
			return nil, false, err
		}
		expect := ""
		if last > 0 {
			expect = strconv.FormatInt(last, 10)
		}
		keys := []string{s.seqKey(merchant, inv.Store, sr), refKey, s.key(merchant, "r:"+inv.Store+":"+inv.Number)}
		args := []any{expect, strconv.FormatInt(next, 10), date, inv.Number, data}
		if listKey != "" {
			keys = append(keys, listKey)
			args = append(args, listLen)
		}
		res, err := issueScript.Run(ctx, s.rdb, keys, args...).StringSlice()
		if err != nil {
			return nil, false, fmt.Errorf("invoices: issue: %w", err)
		}
		switch res[0] {
		case "ok":
			return inv, true, nil
		case "exists":
			got, err := s.Get(ctx, merchant, inv.Store, res[1])
			return got, false, err
		case "used":
			return nil, false, fmt.Errorf("%w: %s", ErrNumberUsed, inv.Number)
		case "moved":
			return nil, false, errCreditsMoved
		}
		// stale: another replica issued a number meanwhile; read again.
		// The script runs in microseconds, so contention clears fast.
		select {
		case <-ctx.Done():
			return nil, false, ctx.Err()
		default:
		}
	}
	return nil, false, ErrBusy
}

// Get returns an issued invoice or credit note by its number.
func (s *Service) Get(ctx context.Context, merchant, store, number string) (*Invoice, error) {
	b, err := s.rdb.Get(ctx, s.key(merchant, "r:"+store+":"+number)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("invoices: read %s: %w", number, err)
	}
	var inv Invoice
	if err := json.Unmarshal(b, &inv); err != nil {
		return nil, fmt.Errorf("invoices: record %s: %w", number, err)
	}
	return &inv, nil
}

// ForOrder returns an order's invoice, or ErrNotFound.
func (s *Service) ForOrder(ctx context.Context, merchant, store, orderID string) (*Invoice, error) {
	n, err := s.rdb.Get(ctx, s.key(merchant, "o:"+store+":"+orderID)).Result()
	if errors.Is(err, redis.Nil) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("invoices: read the order's invoice: %w", err)
	}
	return s.Get(ctx, merchant, store, n)
}

// CreditNotes returns the numbers of an invoice's credit notes, oldest
// first.
func (s *Service) CreditNotes(ctx context.Context, merchant, store, number string) ([]string, error) {
	return s.rdb.LRange(ctx, s.key(merchant, "cn:"+store+":"+number), 0, -1).Result()
}

// Generate issues the order's invoice, or returns the one it has: the
// same invoice and number however often it is asked, the amounts it was
// issued with, and its PDF. set are the store's settings, validated.
func (s *Service) Generate(ctx context.Context, merchant string, set Settings, o Order, opt Options) (*Invoice, []byte, error) {
	inv, _, err := s.Issue(ctx, merchant, set, o, opt)
	if err != nil {
		return nil, nil, err
	}
	pdf, err := s.PDF(ctx, merchant, inv)
	return inv, pdf, err
}

// Issue is Generate without the PDF, which the first PDF call renders
// from the record: issuing a number costs a Redis script, rendering tens
// of milliseconds of CPU that a caller that only wants the number (the
// API's POST, a bulk job) need not wait for.
func (s *Service) Issue(ctx context.Context, merchant string, set Settings, o Order, opt Options) (_ *Invoice, created bool, _ error) {
	if inv, err := s.ForOrder(ctx, merchant, o.Store, o.ID); err == nil {
		return inv, false, nil
	} else if !errors.Is(err, ErrNotFound) {
		return nil, false, err
	}
	set = set.Normalize()
	if err := set.Validate("invoices"); err != nil {
		return nil, false, err
	}
	if err := checkOrder(o); err != nil {
		return nil, false, err
	}
	tot, err := Compute(set, o.Lines, o.Shipping)
	if err != nil {
		return nil, false, fmt.Errorf("invoices: order %s: %w", o.ID, err)
	}
	inv := &Invoice{
		Kind: KindInvoice, Store: o.Store, OrderID: o.ID, Currency: o.Currency,
		Language: set.Language, Seller: set.Seller, Buyer: o.Buyer, Totals: tot,
		PricesExcludeVAT: set.PricesExcludeVAT, HeaderHTML: set.HeaderHTML, FooterHTML: set.FooterHTML,
	}
	if !o.Date.IsZero() {
		inv.SaleDate = o.Date.In(s.loc).Format(time.DateOnly)
	}
	return s.issue(ctx, merchant, invoiceSeries(set), inv, s.key(merchant, "o:"+o.Store+":"+o.ID), "", 0, opt.Number)
}

// Credit is what a credit note gives back. With no lines and no shipping,
// it cancels the whole invoice.
type Credit struct {
	// Key makes the credit note once: the refund's or the return's id.
	Key      string
	Lines    []Line
	Shipping *Shipping
	Reason   string
}

// CreditNote issues a credit note against an invoice, in the credit
// notes' own series, citing the invoice's number and date; or returns the
// one already made for c.Key. Lines are priced on the settings' basis and
// taxed at the rates the invoice charged for their SKUs.
func (s *Service) CreditNote(ctx context.Context, merchant string, set Settings, store, invoiceNumber string, c Credit) (*Invoice, []byte, error) {
	if c.Key == "" {
		return nil, nil, fmt.Errorf("invoices: a credit note needs a key")
	}
	keyKey := s.key(merchant, "k:"+store+":"+c.Key)
	if n, err := s.rdb.Get(ctx, keyKey).Result(); err == nil {
		cn, err := s.Get(ctx, merchant, store, n)
		if err != nil {
			return nil, nil, err
		}
		pdf, err := s.PDF(ctx, merchant, cn)
		return cn, pdf, err
	} else if !errors.Is(err, redis.Nil) {
		return nil, nil, fmt.Errorf("invoices: read credit key: %w", err)
	}
	set = set.Normalize()
	if err := set.Validate("invoices"); err != nil {
		return nil, nil, err
	}
	orig, err := s.Get(ctx, merchant, store, invoiceNumber)
	if err != nil {
		return nil, nil, err
	}
	if orig.Kind != KindInvoice {
		return nil, nil, fmt.Errorf("invoices: %s is a credit note, not an invoice", invoiceNumber)
	}
	whole := len(c.Lines) == 0 && c.Shipping == nil
	var tot Totals
	if whole {
		tot = orig.Totals
	} else {
		// The invoice's rates, not today's settings: a credit note gives
		// back the VAT that was charged.
		rates := set
		rates.SKUVAT = map[string]string{}
		for _, l := range orig.Lines {
			if l.SKU != "" {
				rates.SKUVAT[l.SKU] = l.Rate
			}
		}
		if orig.Shipping != nil {
			rates.ShippingVAT = orig.Shipping.Rate
		}
		if tot, err = Compute(rates, c.Lines, c.Shipping); err != nil {
			return nil, nil, fmt.Errorf("invoices: credit note on %s: %w", invoiceNumber, err)
		}
	}
	ref := orig.Ref()
	listKey := s.key(merchant, "cn:"+store+":"+invoiceNumber)
	// Checked against the credit notes issued so far, and issued only if
	// none was issued meanwhile: two refunds at once cannot together give
	// back more than the invoice charged.
	for range 100 {
		prior, err := s.creditNotesOf(ctx, merchant, store, listKey)
		if err != nil {
			return nil, nil, err
		}
		if err := checkCredit(orig, prior, tot, whole); err != nil {
			return nil, nil, err
		}
		cn := &Invoice{
			Kind: KindCreditNote, Store: store, OrderID: orig.OrderID, Currency: orig.Currency,
			Language: set.Language, Seller: set.Seller, Buyer: orig.Buyer, Totals: tot,
			PricesExcludeVAT: set.PricesExcludeVAT, HeaderHTML: set.HeaderHTML, FooterHTML: set.FooterHTML, SaleDate: orig.SaleDate,
			Of: &ref, Reason: c.Reason,
		}
		cn, _, err = s.issue(ctx, merchant, creditSeries(set), cn, keyKey, listKey, len(prior), 0)
		if errors.Is(err, errCreditsMoved) {
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		pdf, err := s.PDF(ctx, merchant, cn)
		return cn, pdf, err
	}
	return nil, nil, ErrBusy
}

// creditNotesOf reads the credit notes of the list at listKey.
func (s *Service) creditNotesOf(ctx context.Context, merchant, store, listKey string) ([]*Invoice, error) {
	numbers, err := s.rdb.LRange(ctx, listKey, 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("invoices: read credit notes: %w", err)
	}
	out := make([]*Invoice, 0, len(numbers))
	for _, n := range numbers {
		cn, err := s.Get(ctx, merchant, store, n)
		if err != nil {
			return nil, err
		}
		out = append(out, cn)
	}
	return out, nil
}

// PDF returns an issued document's PDF: the kept one, or rendered from
// its record and kept. Rendering is deterministic, so a PDF lost before it
// was kept comes back identical.
func (s *Service) PDF(ctx context.Context, merchant string, inv *Invoice) ([]byte, error) {
	b, err := s.files.Get(ctx, merchant, inv.Store, inv.Number)
	if err == nil {
		return b, nil
	}
	if !errors.Is(err, ErrNoFile) {
		return nil, err
	}
	b, err = Render(inv)
	if err != nil {
		return nil, err
	}
	if err := s.files.Put(ctx, merchant, inv.Store, inv.Number, b); err != nil && !errors.Is(err, ErrTooLarge) {
		return nil, err
	}
	// Too large to keep: rendered again at each read, to the same bytes.
	return b, nil
}
