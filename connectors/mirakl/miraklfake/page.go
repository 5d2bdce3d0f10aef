package miraklfake

import (
	"cmp"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"
)

// listQuery is an M11 listing's query. It travels inside the page tokens,
// because Mirakl ignores every other parameter when page_token is given.
type listQuery struct {
	Shop         string    `json:"s"`
	Limit        int       `json:"l"`
	UpdatedSince time.Time `json:"u,omitzero"`
	EntityType   string    `json:"t,omitempty"`
	EntityIDs    []string  `json:"i,omitempty"`
	WithMessages bool      `json:"m,omitempty"`
}

// seekKey places a thread in a listing. M11 lists the most recently
// updated threads first (the default sort "date,DESC" that the spec's
// example token carries); the id breaks ties so that every key is unique.
type seekKey struct {
	updated int64 // Unix milliseconds
	id      string
}

func keyOf(t *thread) seekKey { return seekKey{t.DateUpdated.UnixMilli(), t.ID} }

// compareKeys orders keys as the listing shows them: newest first.
func compareKeys(a, b seekKey) int {
	if c := cmp.Compare(b.updated, a.updated); c != 0 {
		return c
	}
	return strings.Compare(b.id, a.id)
}

// pageToken is an opaque position in a listing: past the thread with Key
// (or before it, for Prev), with the listing's query.
type pageToken struct {
	Query   listQuery `json:"q"`
	Prev    bool      `json:"p,omitempty"`
	Updated int64     `json:"a"`
	ID      string    `json:"id"`
}

func (p pageToken) key() seekKey { return seekKey{p.Updated, p.ID} }

var errBadToken = errors.New("invalid page token")

// encode writes the token as Mirakl's look: a base64 payload, a dot and a
// checksum, so that a token altered by a client is refused.
func (p pageToken) encode() string {
	raw, _ := json.Marshal(p)
	payload := base64.URLEncoding.EncodeToString(raw)
	return payload + "." + checksum(payload)
}

func decodeToken(s string) (pageToken, error) {
	payload, sum, ok := strings.Cut(s, ".")
	if !ok || sum != checksum(payload) {
		return pageToken{}, errBadToken
	}
	raw, err := base64.URLEncoding.DecodeString(payload)
	if err != nil {
		return pageToken{}, errBadToken
	}
	var p pageToken
	if err := json.Unmarshal(raw, &p); err != nil || p.Query.Limit < 1 {
		return pageToken{}, errBadToken
	}
	return p, nil
}

func checksum(payload string) string {
	sum := sha256.Sum256([]byte("miraklfake:" + payload))
	return base64.URLEncoding.EncodeToString(sum[:12])
}

// paginate sorts threads as M11 lists them, in place, and returns the page
// the token points to (the first page when tok is nil) and the tokens
// around it.
func paginate(threads []*thread, q listQuery, tok *pageToken) (page []*thread, next, prev string) {
	slices.SortFunc(threads, func(a, b *thread) int { return compareKeys(keyOf(a), keyOf(b)) })
	// search finds where the token's thread stands in the listing.
	search := func(k seekKey) (int, bool) {
		return slices.BinarySearchFunc(threads, k, func(t *thread, k seekKey) int { return compareKeys(keyOf(t), k) })
	}
	start, end := 0, min(q.Limit, len(threads))
	switch {
	case tok == nil:
	case tok.Prev:
		end, _ = search(tok.key())
		start = max(0, end-q.Limit)
	default:
		// The page starts past the token's thread.
		i, found := search(tok.key())
		if found {
			i++
		}
		start, end = i, min(i+q.Limit, len(threads))
	}
	page = threads[start:end]
	if len(page) == 0 {
		return page, "", ""
	}
	if end < len(threads) {
		last := keyOf(page[len(page)-1])
		next = pageToken{Query: q, Updated: last.updated, ID: last.id}.encode()
	}
	if start > 0 {
		first := keyOf(page[0])
		prev = pageToken{Query: q, Prev: true, Updated: first.updated, ID: first.id}.encode()
	}
	return page, next, prev
}
