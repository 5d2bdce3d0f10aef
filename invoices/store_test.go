package invoices

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/helpdesk-bridge/bridge/invoices/pdftest"

	"github.com/redis/go-redis/v9"

	"github.com/helpdesk-bridge/bridge/bridge/rdb/rdbtest"
)

// testDB is this package's database on the test Redis (see rdbtest).
const testDB = 16

type clock struct{ t atomic.Pointer[time.Time] }

func (c *clock) Now() time.Time   { return *c.t.Load() }
func (c *clock) Set(t time.Time)  { c.t.Store(&t) }
func newClock(t time.Time) *clock { c := &clock{}; c.Set(t); return c }
func order(id string) Order {
	return Order{
		Store: "acme-fr", ID: id, Date: time.Date(2026, 10, 30, 12, 0, 0, 0, time.UTC), Currency: "EUR",
		Buyer: Buyer{Name: "Zoé Müller"},
		Lines: []Line{
			{SKU: "TSHIRT", Description: "T-shirt", Quantity: 2, UnitPrice: "19.99"},
			{SKU: "BOOK", Description: "Livre", Quantity: 1, UnitPrice: "12.34"},
		},
		Shipping: &Shipping{Price: "4.90"},
	}
}

// newTestService returns a service on the test Redis whose scripts and
// transactions are checked to stay in one hash slot.
func newTestService(t *testing.T) (*Service, *redis.Client, *clock) {
	t.Helper()
	rdb := rdbtest.Client(t, testDB)
	rdb.AddHook(rdbtest.NewSlotCheck(t, rdbtest.Client(t, testDB)))
	c := newClock(time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC))
	return NewService(rdb, "test:", NewRedisFiles(rdb, "test:", 0), c.Now), rdb, c
}

func TestGenerateNumbersAndReturnsTheSameInvoice(t *testing.T) {
	s, rdb, _ := newTestService(t)
	ctx := context.Background()
	set := validSettings()
	a, pdfA, err := s.Generate(ctx, "acme", set, order("O1"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if a.Number != "F-000001" || a.Date != "2026-11-02" || a.SaleDate != "2026-10-30" || a.Incl != "57.22" {
		t.Errorf("first invoice %+v", a)
	}
	b, _, err := s.Generate(ctx, "acme", set, order("O2"), Options{})
	if err != nil || b.Number != "F-000002" {
		t.Fatalf("second: %v %+v", err, b)
	}
	// The same order again, even with other lines: the invoice issued.
	o := order("O1")
	o.Lines[0].Quantity = 9
	again, pdfAgain, err := s.Generate(ctx, "acme", set, o, Options{})
	if err != nil || again.Number != "F-000001" || again.Incl != "57.22" || !bytes.Equal(pdfA, pdfAgain) {
		t.Fatalf("again: %v %+v", err, again)
	}
	// A PDF lost before it was kept renders again to the same bytes.
	if err := rdb.Del(ctx, "test:inv:{acme}:pdf:acme-fr:F-000001").Err(); err != nil {
		t.Fatal(err)
	}
	got, err := s.PDF(ctx, "acme", a)
	if err != nil || !bytes.Equal(got, pdfA) {
		t.Fatalf("re-rendered PDF differs (%v)", err)
	}
	if n, f, _ := s.Next(ctx, "acme", set, "acme-fr", KindInvoice); n != 3 || f != "F-000003" {
		t.Errorf("next %d %s", n, f)
	}
	// Every key carries the merchant's hash tag.
	keys, _ := rdb.Keys(ctx, "*").Result()
	re := regexp.MustCompile(`^test:inv:\{acme\}:(seq|r|o|k|cn|pdf):`)
	for _, k := range keys {
		if !re.MatchString(k) {
			t.Errorf("key %q", k)
		}
	}
}

func TestExplicitNumbers(t *testing.T) {
	s, _, _ := newTestService(t)
	ctx := context.Background()
	set := validSettings()
	set.StartNumber = 50
	var ne *NumberError
	// The series' first number: from the start number on.
	if _, _, err := s.Generate(ctx, "acme", set, order("O1"), Options{Number: 49}); !errors.As(err, &ne) || ne.Next != 50 || !ne.First {
		t.Fatalf("below start: %v", err)
	}
	a, _, err := s.Generate(ctx, "acme", set, order("O1"), Options{Number: 1200})
	if err != nil || a.Number != "F-001200" {
		t.Fatalf("first at 1200: %v %+v", err, a)
	}
	// Then only the next one: no gap, no reuse, nothing back in time.
	for _, n := range []int64{1200, 1199, 1202} {
		if _, _, err := s.Generate(ctx, "acme", set, order("O2"), Options{Number: n}); !errors.As(err, &ne) || ne.Next != 1201 {
			t.Errorf("number %d: %v", n, err)
		}
	}
	b, _, err := s.Generate(ctx, "acme", set, order("O2"), Options{Number: 1201})
	if err != nil || b.Number != "F-001201" {
		t.Fatalf("1201: %v", err)
	}
	c, _, err := s.Generate(ctx, "acme", set, order("O3"), Options{})
	if err != nil || c.Number != "F-001202" {
		t.Fatalf("next: %v", err)
	}
	// A new prefix (a new year) is a new series from the start number.
	set.Prefix = "F2027-"
	d, _, err := s.Generate(ctx, "acme", set, order("O4"), Options{})
	if err != nil || d.Number != "F2027-000050" {
		t.Fatalf("new series: %v %+v", err, d)
	}
}

func TestDatesNeverGoBack(t *testing.T) {
	s, _, c := newTestService(t)
	ctx := context.Background()
	set := validSettings()
	if _, _, err := s.Generate(ctx, "acme", set, order("O1"), Options{}); err != nil {
		t.Fatal(err)
	}
	// A replica whose clock is a day behind.
	c.Set(time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC))
	b, _, err := s.Generate(ctx, "acme", set, order("O2"), Options{})
	if err != nil || b.Date != "2026-11-02" {
		t.Fatalf("%v %+v", err, b)
	}
	// Paris time: 23:30 UTC on the 2nd is the 3rd in Paris.
	c.Set(time.Date(2026, 11, 2, 23, 30, 0, 0, time.UTC))
	d, _, err := s.Generate(ctx, "acme", set, order("O3"), Options{})
	if err != nil || d.Date != "2026-11-03" {
		t.Fatalf("%v %+v", err, d)
	}
}

// Replicas issuing at once: one gapless sequence, no number twice, each
// order one invoice.
func TestConcurrentNumbering(t *testing.T) {
	_, _, c := newTestService(t)
	ctx := context.Background()
	set := validSettings()
	const workers, each = 4, 8
	var mu sync.Mutex
	numbers := map[string]string{}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Each replica its own connection, and its own service.
			rdb := redis.NewClient(&redis.Options{Addr: rdbtest.Addr(), DB: testDB})
			defer rdb.Close()
			r := NewService(rdb, "test:", NewRedisFiles(rdb, "test:", 0), c.Now)
			for i := range each {
				// Orders overlap between replicas: two ask for the same.
				id := fmt.Sprintf("O%d", (w*each+i)%(workers*each-4))
				inv, _, err := r.Generate(ctx, "acme", set, order(id), Options{})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if prev, ok := numbers[id]; ok && prev != inv.Number {
					t.Errorf("order %s: %s and %s", id, prev, inv.Number)
				}
				numbers[id] = inv.Number
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	var got []string
	for _, n := range numbers {
		got = append(got, n)
	}
	sort.Strings(got)
	for i, n := range got {
		if want := fmt.Sprintf("F-%06d", i+1); n != want {
			t.Fatalf("numbers %v: %s where %s", got, n, want)
		}
	}
	if len(got) != workers*each-4 {
		t.Errorf("%d invoices", len(got))
	}
}

func TestCreditNotes(t *testing.T) {
	s, _, c := newTestService(t)
	ctx := context.Background()
	set := validSettings()
	inv, _, err := s.Generate(ctx, "acme", set, order("O1"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	c.Set(time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC))
	// Today's settings changed the book's rate: the credit note gives
	// back the 5.5 % the invoice charged.
	set.SKUVAT["BOOK"] = "20"
	part, pdf, err := s.CreditNote(ctx, "acme", set, "acme-fr", inv.Number, Credit{
		Key: "refund-1", Reason: "Livre abîmé", Lines: []Line{{SKU: "BOOK", Description: "Livre", Quantity: 1, UnitPrice: "12.34"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if part.Number != "AV-000001" || part.Kind != KindCreditNote || part.Of == nil || *part.Of != (Ref{Number: "F-000001", Date: "2026-11-02"}) ||
		part.Date != "2026-11-20" || part.Lines[0].Rate != "5.5" || part.Incl != "12.34" || part.VAT != "0.64" {
		t.Errorf("credit note %+v", part)
	}
	again, pdfAgain, err := s.CreditNote(ctx, "acme", set, "acme-fr", inv.Number, Credit{Key: "refund-1"})
	if err != nil || again.Number != part.Number || !bytes.Equal(pdf, pdfAgain) {
		t.Fatalf("same key: %v %+v", err, again)
	}
	// Part of it credited already: a whole cancellation is refused.
	var ce *CreditError
	if _, _, err := s.CreditNote(ctx, "acme", set, "acme-fr", inv.Number, Credit{Key: "cancel"}); !errors.As(err, &ce) || ce.Field != "lines" {
		t.Fatalf("whole cancellation after a part: %v", err)
	}
	inv2, _, err := s.Generate(ctx, "acme", set, order("O2"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	full, _, err := s.CreditNote(ctx, "acme", set, "acme-fr", inv2.Number, Credit{Key: "cancel"})
	if err != nil || full.Number != "AV-000002" || full.Incl != inv2.Incl {
		t.Fatalf("full: %v %+v", err, full)
	}
	if l, _ := s.CreditNotes(ctx, "acme", "acme-fr", inv.Number); len(l) != 1 || l[0] != "AV-000001" {
		t.Errorf("credit notes %v", l)
	}
	if _, _, err := s.CreditNote(ctx, "acme", set, "acme-fr", "AV-000001", Credit{Key: "x"}); err == nil {
		t.Error("a credit note on a credit note")
	}
	if _, _, err := s.CreditNote(ctx, "acme", set, "acme-fr", "F-000099", Credit{Key: "y"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown invoice: %v", err)
	}
	// The invoice series moved for O2 only.
	if n, _, _ := s.Next(ctx, "acme", set, "acme-fr", KindInvoice); n != 3 {
		t.Errorf("invoice series at %d", n)
	}
	txt := pdftest.Text(t, pdf)
	for _, want := range []string{"Avoir n° AV-000001", "Avoir sur la facture n° F-000001 du 02/11/2026", "Motif : Livre abîmé", "5,5 %", "0,64 €", "12,34 €"} {
		if !bytes.Contains([]byte(txt), []byte(want)) {
			t.Errorf("no %q in\n%s", want, txt)
		}
	}
}

// TestCreditNotesGiveBackNoMoreThanTheInvoice: what each credit note may
// give back is what is left of the invoice once the earlier ones count.
func TestCreditNotesGiveBackNoMoreThanTheInvoice(t *testing.T) {
	s, _, _ := newTestService(t)
	ctx := context.Background()
	set := validSettings()
	inv, _, err := s.Generate(ctx, "acme", set, order("O1"), Options{}) // 2 TSHIRT at 19.99, 1 BOOK at 12.34, shipping 4.90
	if err != nil {
		t.Fatal(err)
	}
	credit := func(key string, lines []Line, ship *Shipping) error {
		_, _, err := s.CreditNote(ctx, "acme", set, "acme-fr", inv.Number, Credit{Key: key, Reason: "r", Lines: lines, Shipping: ship})
		return err
	}
	tshirt := func(q int, price string) []Line {
		return []Line{{SKU: "TSHIRT", Description: "T-shirt", Quantity: q, UnitPrice: price}}
	}
	for _, c := range []struct {
		name  string
		lines []Line
		ship  *Shipping
		field string
	}{
		{"a product the invoice lacks", []Line{{SKU: "NOPE", Description: "x", Quantity: 1, UnitPrice: "1"}}, nil, "lines[0].sku"},
		{"a line without SKU matching none by description", []Line{{Description: "Chaussette", Quantity: 1, UnitPrice: "1"}}, nil, "lines[0].description"},
		{"more units than invoiced", tshirt(3, "1"), nil, "lines[0].quantity"},
		{"more units over two lines of one product", append(tshirt(1, "19.99"), tshirt(2, "1")...), nil, "lines[0].quantity"},
		{"more money than invoiced", tshirt(1, "999"), nil, "lines[0].unit_price"},
		{"more shipping than paid", nil, &Shipping{Price: "5.00"}, "shipping.price"},
	} {
		var ce *CreditError
		if err := credit(c.name, c.lines, c.ship); !errors.As(err, &ce) || ce.Field != c.field {
			t.Errorf("%s: %v, want a CreditError on %s", c.name, err, c.field)
		}
	}
	// What is left, in parts: one T-shirt, a goodwill gesture on the
	// other and part of the shipping, then the rest of both and the book.
	for i, c := range []struct {
		lines []Line
		ship  *Shipping
	}{
		{tshirt(1, "19.99"), nil},
		{tshirt(1, "5.00"), &Shipping{Price: "2.00"}},
		{append(tshirt(1, "14.99"), Line{SKU: "BOOK", Description: "Livre", Quantity: 1, UnitPrice: "12.34"}), &Shipping{Price: "2.90"}},
	} {
		if err := credit(fmt.Sprintf("part-%d", i), c.lines, c.ship); err != nil {
			t.Fatalf("part %d: %v", i, err)
		}
	}
	// Nothing is left: not a cent more, nor a whole cancellation.
	if err := credit("more", tshirt(1, "0.01"), nil); err == nil {
		t.Error("a credit past the invoice's total was issued")
	}
	if err := credit("whole", nil, nil); err == nil {
		t.Error("a whole cancellation of a credited invoice was issued")
	}
	l, _ := s.CreditNotes(ctx, "acme", "acme-fr", inv.Number)
	if len(l) != 3 {
		t.Errorf("credit notes %v, want the 3 parts", l)
	}
}

// TestConcurrentCreditNotesStayWithinTheInvoice: refunds asked at once
// from several replicas are checked one after the other.
func TestConcurrentCreditNotesStayWithinTheInvoice(t *testing.T) {
	s, _, _ := newTestService(t)
	ctx := context.Background()
	set := validSettings()
	inv, _, err := s.Generate(ctx, "acme", set, order("O1"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	var issued, refused atomic.Int32
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			_, _, err := s.CreditNote(ctx, "acme", set, "acme-fr", inv.Number, Credit{Key: fmt.Sprintf("refund-%d", i), Reason: "r",
				Lines: []Line{{SKU: "TSHIRT", Description: "T-shirt", Quantity: 1, UnitPrice: "19.99"}}})
			var ce *CreditError
			switch {
			case err == nil:
				issued.Add(1)
			case errors.As(err, &ce):
				refused.Add(1)
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if issued.Load() != 2 || refused.Load() != 6 {
		t.Errorf("%d issued and %d refused, want the invoice's 2 T-shirts and 6 refusals", issued.Load(), refused.Load())
	}
}

func TestRedisFilesLimit(t *testing.T) {
	rdb := rdbtest.Client(t, testDB)
	f := NewRedisFiles(rdb, "test:", 10)
	ctx := context.Background()
	if err := f.Put(ctx, "acme", "s", "F-1", make([]byte, 11)); !errors.Is(err, ErrTooLarge) {
		t.Fatal(err)
	}
	if _, err := f.Get(ctx, "acme", "s", "F-1"); !errors.Is(err, ErrNoFile) {
		t.Fatal(err)
	}
}
