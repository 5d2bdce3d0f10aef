package orders

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"

	"github.com/redis/go-redis/v9"
)

// AuditQuery selects entries of a merchant's audit trail; a zero field
// selects them all.
type AuditQuery struct {
	Store    string
	OrderID  string
	ActionID string
	Kind     string // accept, refuse, ship, cancel, cancel_lines
	Result   string // requested, confirmed, refused, failed
	Limit    int    // DefaultLimit when 0, at most MaxLimit
	Cursor   string // a previous page's NextCursor
}

// AuditPage is one page of the audit trail, most recent first.
type AuditPage struct {
	Entries []AuditEntry `json:"entries"`
	// NextCursor continues the listing; absent on the last page. Like
	// the order list, a page reads a bounded number of entries, so with
	// filters it may be short, even empty, and still have one.
	NextCursor string `json:"next_cursor,omitempty"`
}

// AuditResults are the results an audit entry records.
var AuditResults = []string{"requested", Confirmed, Refused, Failed}

var streamID = regexp.MustCompile(`^[0-9]{1,20}-[0-9]{1,20}$`)

// Audit lists a merchant's audit trail, most recent first.
func (s *Store) Audit(ctx context.Context, merchant string, q AuditQuery) (AuditPage, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	limit = min(limit, MaxLimit)
	from := "+"
	if q.Cursor != "" {
		if !streamID.MatchString(q.Cursor) {
			return AuditPage{}, ErrInvalidCursor
		}
		from = "(" + q.Cursor
	}
	page := AuditPage{Entries: []AuditEntry{}}
	read := 0
	for read < scanBudget {
		xs, err := s.rdb.XRevRangeN(ctx, s.auditKey(merchant), from, "-", int64(min(scanBatch, scanBudget-read))).Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			return AuditPage{}, fmt.Errorf("orders: read the audit trail: %w", err)
		}
		if len(xs) == 0 {
			return page, nil
		}
		read += len(xs)
		for i, x := range xs {
			var e AuditEntry
			raw, _ := x.Values["e"].(string)
			if err := json.Unmarshal([]byte(raw), &e); err != nil {
				continue // not an entry this release wrote
			}
			e.Cursor = x.ID
			if !q.matches(e) {
				continue
			}
			page.Entries = append(page.Entries, e)
			if len(page.Entries) == limit {
				if i < len(xs)-1 || len(xs) == scanBatch {
					page.NextCursor = x.ID
				}
				return page, nil
			}
		}
		from = "(" + xs[len(xs)-1].ID
		if len(xs) < scanBatch {
			return page, nil
		}
	}
	page.NextCursor = from[1:]
	return page, nil
}

func (q AuditQuery) matches(e AuditEntry) bool {
	return (q.Store == "" || q.Store == e.Store) && (q.OrderID == "" || q.OrderID == e.OrderID) &&
		(q.ActionID == "" || q.ActionID == e.ActionID) && (q.Kind == "" || q.Kind == e.Kind) &&
		(q.Result == "" || q.Result == e.Result)
}
