package api

import (
	"fmt"
	"io"
	"strings"
	"time"
	_ "time/tzdata" // Rakuten's dates are Paris time: the zone must be there on any host

	"github.com/helpdesk-bridge/bridge/connectors/xmlsafe"
)

// Bounds on what an answer may hold. Rakuten states none: the bounds are
// far above what one seller's answers hold, and stop a runaway answer.
const (
	// MaxAnswerBytes bounds an answer's body.
	MaxAnswerBytes = 16 << 20
	// MaxSales bounds the sales of one answer (a getnewsales has no
	// paging of its own).
	MaxSales = 5000
	// MaxItems bounds the items of one sale, the todo list's items and a
	// billing's items.
	MaxItems = 5000
	// MaxMessages bounds the messages, mails and log lines of one item.
	MaxMessages = 2000
	// MaxErrors bounds the errors and details of a refusal.
	MaxErrors = 100
)

// ErrUnsafe marks an answer refused before decoding.
var ErrUnsafe = xmlsafe.ErrUnsafe

var decoder = xmlsafe.Decoder{MaxBytes: MaxAnswerBytes, Charsets: xmlsafe.Latin1}

// Read reads at most MaxAnswerBytes of r.
func Read(r io.Reader) ([]byte, error) { return xmlsafe.Read(r, MaxAnswerBytes) }

// Decode decodes an answer into v (one of this package's types), UTF-8
// or ISO-8859-1 (declared in the document, or else in contentCharset,
// the Content-Type's), without DOCTYPE, with its lists bounded.
func Decode(data []byte, contentCharset string, v any) error {
	return decoder.Decode(data, contentCharset, v)
}

// IsError tells whether data is an errorresponse.
func IsError(data []byte) bool { return xmlsafe.Root(data) == "errorresponse" }

func check(what string, n, limit int) error { return xmlsafe.Check(what, n, limit) }

func (r *ErrorResponse) Bound() error {
	if err := check("errors", len(r.Errors), MaxErrors); err != nil {
		return err
	}
	for _, e := range r.Errors {
		if err := check("details", len(e.Details), MaxErrors); err != nil {
			return err
		}
	}
	return nil
}

func (r *SalesResponse) bound() error {
	if err := check("sales", len(r.Sales), MaxSales); err != nil {
		return err
	}
	for _, s := range r.Sales {
		if err := check("items", len(s.Items), MaxItems); err != nil {
			return err
		}
	}
	return nil
}

func (r *GetNewSalesResult) Bound() error     { return r.Response.bound() }
func (r *GetCurrentSalesResult) Bound() error { return r.Response.bound() }

func (r *GetItemTodoListResult) Bound() error {
	if err := check("items", len(r.Response.Items), MaxItems); err != nil {
		return err
	}
	for _, it := range r.Response.Items {
		if err := check("causes", len(it.Causes), MaxErrors); err != nil {
			return err
		}
	}
	return nil
}

func (r *GetItemInfosResult) Bound() error {
	it := r.Response.Item
	for what, n := range map[string]int{"mails": len(it.Mails), "messages": len(it.Messages), "log lines": len(it.Logs)} {
		if err := check(what, n, MaxMessages); err != nil {
			return err
		}
	}
	if it.Actions != nil {
		return check("actions", len(it.Actions.Actions), MaxErrors)
	}
	return nil
}

func (r *GetBillingInformationResult) Bound() error {
	return check("items", len(r.Response.Items), MaxItems)
}

// Time layout of every date: dd/MM/yyyy-HH:mm, to the minute.
const timeLayout = "02/01/2006-15:04"

// Grain is the precision of Rakuten's dates.
const Grain = time.Minute

// Paris is the zone Rakuten's dates are read in. The answers name none;
// Rakuten France is in Paris: UNVERIFIED.
var Paris = func() *time.Location {
	loc, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		panic(fmt.Sprintf("rakuten: no Europe/Paris zone: %v", err))
	}
	return loc
}()

// ParseTime reads a Rakuten date. Seconds, when a date has some, are
// kept.
func ParseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.ParseInLocation(timeLayout+":05", s, Paris); err == nil {
		return t, nil
	}
	return time.ParseInLocation(timeLayout, s, Paris)
}

// FormatTime writes a Rakuten date, to the minute.
func FormatTime(t time.Time) string { return t.In(Paris).Format(timeLayout) }
