package rakuten

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/helpdesk-bridge/bridge/connectors"
	"github.com/helpdesk-bridge/bridge/connectors/rakuten/api"
)

// Store keeps what the connector read from Rakuten and cannot read again:
// getiteminfos marks an item's messages read, so the todo list no longer
// names the item, and only this copy finds its messages for a listing
// afterwards; sales name an item's purchase, which getiteminfos does not;
// Rakuten dates no change of a sale, nor gives back the tracking the shop
// set. A Store shared by every replica serving one account (Redis) keeps
// a crash or another replica from losing any of it; MemoryStore keeps it
// for one process.
type Store interface {
	// SaveItem keeps an item as getiteminfos last answered it.
	SaveItem(ctx context.Context, r ItemRecord) error
	// ItemsSince returns the items last updated at or after since.
	ItemsSince(ctx context.Context, since time.Time) ([]ItemRecord, error)
	// SaveSales keeps which purchase items belong to.
	SaveSales(ctx context.Context, refs []SaleRef) error
	// Sale returns the purchase an item belongs to, if known.
	Sale(ctx context.Context, itemID string) (SaleRef, bool, error)
	// StampOrder returns when the order was first seen as fingerprint
	// says, recording now (when the read began) if it is new: Rakuten's
	// sales carry no update time. A read that began before the stamp of
	// another fingerprint (a listing under way while a ship was read
	// back) is older news: it gets its own time and records nothing, so
	// that it never outdates the later read.
	StampOrder(ctx context.Context, purchaseID, fingerprint string, now time.Time) (time.Time, error)
	// SaveTracking and Tracking keep the tracking the shop set on a
	// purchase.
	SaveTracking(ctx context.Context, purchaseID string, t connectors.Tracking) error
	Tracking(ctx context.Context, purchaseID string) (connectors.Tracking, bool, error)
	// Reading notes an item before getiteminfos is called for it, and Read
	// clears the note once its answer is kept: an item whose answer was
	// lost (Rakuten marked its messages read, so it is off the todo list)
	// is still noted, and Unread returns it, oldest first, at most n, for
	// the next listing to read again.
	Reading(ctx context.Context, itemID string, now time.Time) error
	Read(ctx context.Context, itemID string) error
	Unread(ctx context.Context, n int) ([]string, error)
}

// ItemRecord is an item as getiteminfos answered it.
type ItemRecord struct {
	ItemID string
	Info   api.ItemInfo
	// UpdatedAt is the time of the item's latest message or mail.
	UpdatedAt time.Time
}

// SaleRef is what a sale says of one of its items.
type SaleRef struct {
	ItemID, PurchaseID, Headline string
	PurchaseDate                 string
	// BuyerLogin, BuyerEmail (Rakuten's relay address) and BuyerName (the
	// billing address's) are customer data: getbillinginformation, which
	// reads an order once its items are accepted, names none of them.
	BuyerLogin, BuyerEmail, BuyerName string
}

// MemoryStore is a Store in memory, for one process and tests. It is
// safe for concurrent use.
type MemoryStore struct {
	mu       sync.Mutex
	items    map[string]ItemRecord
	sales    map[string]SaleRef
	stamps   map[string]stamp
	tracking map[string]connectors.Tracking
	reading  map[string]time.Time
}

type stamp struct {
	fingerprint string
	at          time.Time
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{items: map[string]ItemRecord{}, sales: map[string]SaleRef{}, stamps: map[string]stamp{}, tracking: map[string]connectors.Tracking{}, reading: map[string]time.Time{}}
}

func (m *MemoryStore) SaveItem(_ context.Context, r ItemRecord) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.items[r.ItemID] = r
	return nil
}

func (m *MemoryStore) ItemsSince(_ context.Context, since time.Time) ([]ItemRecord, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []ItemRecord
	for _, r := range m.items {
		if !r.UpdatedAt.Before(since) {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b ItemRecord) int { return a.UpdatedAt.Compare(b.UpdatedAt) })
	return out, nil
}

func (m *MemoryStore) SaveSales(_ context.Context, refs []SaleRef) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range refs {
		m.sales[r.ItemID] = r
	}
	return nil
}

func (m *MemoryStore) Sale(_ context.Context, itemID string) (SaleRef, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.sales[itemID]
	return r, ok, nil
}

func (m *MemoryStore) StampOrder(_ context.Context, purchaseID, fingerprint string, now time.Time) (time.Time, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s, ok := m.stamps[purchaseID]; ok && s.fingerprint == fingerprint {
		return s.at, nil
	} else if ok && s.at.After(now) {
		return now, nil
	}
	m.stamps[purchaseID] = stamp{fingerprint: fingerprint, at: now}
	return now, nil
}

func (m *MemoryStore) SaveTracking(_ context.Context, purchaseID string, t connectors.Tracking) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.tracking[purchaseID] = t
	return nil
}

func (m *MemoryStore) Tracking(_ context.Context, purchaseID string) (connectors.Tracking, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.tracking[purchaseID]
	return t, ok, nil
}

func (m *MemoryStore) Reading(_ context.Context, itemID string, now time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.reading[itemID]; !ok {
		m.reading[itemID] = now
	}
	return nil
}

func (m *MemoryStore) Read(_ context.Context, itemID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.reading, itemID)
	return nil
}

func (m *MemoryStore) Unread(_ context.Context, n int) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ids := make([]string, 0, len(m.reading))
	for id := range m.reading {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b string) int { return cmp.Or(m.reading[a].Compare(m.reading[b]), strings.Compare(a, b)) })
	return ids[:min(n, len(ids))], nil
}
