package gorgiasfake

import (
	"cmp"
	"encoding/base64"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/helpdesk-bridge/bridge/connectors/gorgias/api"
)

// sortKey places an item in a listing: a timestamp, then the id to break
// ties, so that every key is unique and cursors survive inserts.
type sortKey struct {
	at time.Time
	id int64
}

// order is one of the documented order_by values for a listing.
type order struct {
	name  string // as sent, e.g. "created_datetime:desc"
	field string // "created_datetime" or "updated_datetime"
	desc  bool
}

func parseOrder(v string, def string, fields ...string) (order, bool) {
	if v == "" {
		v = def
	}
	field, dir, ok := strings.Cut(v, ":")
	if !ok || (dir != "asc" && dir != "desc") {
		return order{}, false
	}
	for _, f := range fields {
		if f == field {
			return order{name: v, field: field, desc: dir == "desc"}, true
		}
	}
	return order{}, false
}

func (o order) compare(a, b sortKey) int {
	c := a.at.Compare(b.at)
	if c == 0 {
		c = cmp.Compare(a.id, b.id)
	}
	if o.desc {
		return -c
	}
	return c
}

func (o order) less(a, b sortKey) bool { return o.compare(a, b) < 0 }

// cursor is an opaque position in a listing: the key of the item it
// points past (next) or before (prev), bound to the order it was made for.
type cursor struct {
	prev bool
	key  sortKey
}

func (o order) encode(c cursor) *string {
	dir := "next"
	if c.prev {
		dir = "prev"
	}
	raw := fmt.Sprintf("%s|%s|%d|%d", dir, o.name, c.key.at.UnixNano(), c.key.id)
	s := base64.RawURLEncoding.EncodeToString([]byte(raw))
	return &s
}

func (o order) decode(s string) (cursor, error) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return cursor{}, fmt.Errorf("not a cursor")
	}
	parts := strings.Split(string(raw), "|")
	if len(parts) != 4 || (parts[0] != "next" && parts[0] != "prev") {
		return cursor{}, fmt.Errorf("not a cursor")
	}
	if parts[1] != o.name {
		return cursor{}, fmt.Errorf("cursor was made for another order_by")
	}
	nanos, err1 := strconv.ParseInt(parts[2], 10, 64)
	id, err2 := strconv.ParseInt(parts[3], 10, 64)
	if err1 != nil || err2 != nil {
		return cursor{}, fmt.Errorf("not a cursor")
	}
	return cursor{prev: parts[0] == "prev", key: sortKey{at: time.Unix(0, nanos), id: id}}, nil
}

// paginate sorts items by o, in place, and returns one page of them and
// the cursors around it.
func paginate[T any](items []T, key func(T) sortKey, o order, cur *cursor, limit int) ([]T, api.Meta) {
	slices.SortFunc(items, func(a, b T) int { return o.compare(key(a), key(b)) })
	start, end := 0, len(items)
	switch {
	case cur == nil:
		end = min(limit, len(items))
	case cur.prev:
		end = sort.Search(len(items), func(i int) bool { return !o.less(key(items[i]), cur.key) })
		start = max(0, end-limit)
	default:
		start = sort.Search(len(items), func(i int) bool { return o.less(cur.key, key(items[i])) })
		end = min(start+limit, len(items))
	}
	page := items[start:end]
	var meta api.Meta
	if len(page) == 0 {
		return page, meta
	}
	if start > 0 {
		meta.PrevCursor = o.encode(cursor{prev: true, key: key(page[0])})
	}
	if end < len(items) {
		meta.NextCursor = o.encode(cursor{key: key(page[len(page)-1])})
	}
	return page, meta
}
