package orders

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Store is the order read model in Redis. Per merchant it keeps:
//
//	o:{store}:{order}  the order with its shipments, returns and support
//	                   requests, each with the version it was written at,
//	                   as compressed JSON (see compact.go)
//	c:{email hash}     the set of a customer's orders, as "store:order"
//	d:{email hash}     the customer's materialised Document, behind its
//	                   revision: "{rev}\n{compressed binary form}"
//	                   (docform.go)
//	idx                every order, as "store:order", scored by its
//	                   purchase date (created_at) in ms: the order list
//	                   and export walk it (list.go)
//
// Every key of a merchant carries the merchant as a Redis Cluster hash tag,
// so that one transaction can apply a change and rebuild the documents it
// touches. Emails are hashed in keys: key names show up in monitoring.
type Store struct {
	rdb       redis.UniversalClient
	prefix    string
	retention time.Duration
	maxOrders int
	now       func() time.Time
	replicas  Replicas
	prerender Prerenderer
}

// Prerenderer renders the sidebars of a customer whose document is being
// written (widgets.Service.Prerender): each field names a sidebar's
// render, its value is what that sidebar's read sends. They are written
// in the document's own value, after it (see docRenders), so that a
// sidebar's read is one value fetched and sent, not a document decoded
// and rendered.
type Prerenderer interface {
	Prerender(merchant, rev string, doc *Document) map[string][]byte
}

// PrerenderWith renders the sidebars with p at each write of a document.
// Without it, or where a field is missing, the sidebars render at read.
func (s *Store) PrerenderWith(p Prerenderer) { s.prerender = p }

// Replicas holds a write back until it reached the Redis replicas: Write
// runs write's commands (none when nil) on the master that holds key and
// waits until they, and the writes finished earlier there, reached them.
type Replicas interface {
	Write(ctx context.Context, key string, write func(p redis.Pipeliner), also ...string) error
}

// WaitForReplicas makes a change count as applied only once it reached a
// replica. On a Cluster the task that carries the change is recorded as
// done on its queue's master, while the read model is on the merchant's:
// without the wait, a failover of the merchant's master could forget a
// change whose task is already done, and the order would never show.
func (s *Store) WaitForReplicas(r Replicas) { s.replicas = r }

// replicated waits until the writes finished on key's master reached the
// replicas, when the store waits for them.
func (s *Store) replicated(ctx context.Context, key string) error {
	if s.replicas == nil {
		return nil
	}
	if err := s.replicas.Write(ctx, key, nil); err != nil {
		return fmt.Errorf("widgets: the read model's write: %w", err)
	}
	return nil
}

// NewStore returns the read model on rdb.
func NewStore(rdb redis.UniversalClient, keyPrefix string, retention time.Duration, maxOrders int, now func() time.Time) *Store {
	return &Store{rdb: rdb, prefix: keyPrefix, retention: retention, maxOrders: maxOrders, now: now}
}

// version orders two writes of one entity: the later updated_at wins, and
// of two with the same updated_at the greater digest, so that replicas
// applying the same events in any order agree.
type version struct {
	UpdatedAt time.Time `json:"updated_at"`
	Digest    string    `json:"digest"`
}

func (v version) newerThan(o version) bool {
	if v.Digest == o.Digest {
		// The same content: nothing to write, nor to tell subscribers,
		// however later it was read (a marketplace without update times
		// dates an order by when it was read).
		return false
	}
	if c := v.UpdatedAt.Compare(o.UpdatedAt); c != 0 {
		return c > 0
	}
	return v.Digest > o.Digest
}

func versionOf(updatedAt time.Time, content any) version {
	b, _ := json.Marshal(content) // plain data: cannot fail
	sum := sha256.Sum256(b)
	return version{UpdatedAt: updatedAt.UTC(), Digest: hex.EncodeToString(sum[:8])}
}

// aggregate is one order key's value. The order may be missing while its
// shipments arrive first.
type aggregate struct {
	Order           *orderEntry                      `json:"order,omitempty"`
	Shipments       map[string]entry[Shipment]       `json:"shipments,omitempty"`
	Returns         map[string]entry[Return]         `json:"returns,omitempty"`
	SupportRequests map[string]entry[SupportRequest] `json:"support_requests,omitempty"`
	// Action is the order's latest action (see Actions), kept beside the
	// order's own version: an order read from the marketplace replaces
	// the order, not the action.
	Action *OrderAction `json:"action,omitempty"`
	// Invoice is the number of the order's invoice, noted once issued
	// (NoteInvoice), kept beside the order like Action.
	Invoice string `json:"invoice,omitempty"`
}

type orderEntry struct {
	V     version `json:"v"`
	Email string  `json:"email"`
	Order Order   `json:"order"`
}

// entry is a shipment, return or support request with its version.
type entry[T any] struct {
	V   version `json:"v"`
	Val T       `json:"val"`
}

// upsert puts val in *m under id unless the entry there is as new or
// newer, and reports whether it did.
func upsert[T any](m *map[string]entry[T], id string, v version, val T) bool {
	if e, ok := (*m)[id]; ok && !v.newerThan(e.V) {
		return false
	}
	if *m == nil {
		*m = map[string]entry[T]{}
	}
	(*m)[id] = entry[T]{V: v, Val: val}
	return true
}

// lastActivity is the latest update of anything in the order: retention
// counts from it.
func (a *aggregate) lastActivity() time.Time {
	var t time.Time
	if a.Order != nil {
		t = a.Order.V.UpdatedAt
	}
	for _, e := range a.Shipments {
		t = latest(t, e.V.UpdatedAt)
	}
	for _, e := range a.Returns {
		t = latest(t, e.V.UpdatedAt)
	}
	for _, e := range a.SupportRequests {
		t = latest(t, e.V.UpdatedAt)
	}
	return t
}

func latest(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// view assembles the order as the widget shows it.
func (a *aggregate) view() Order {
	o := a.Order.Order
	o.Lines = slices.Clone(o.Lines)
	o.Shipments = make([]Shipment, 0, len(a.Shipments))
	for _, id := range sortedKeys(a.Shipments) {
		o.Shipments = append(o.Shipments, a.Shipments[id].Val)
	}
	o.Returns = make([]Return, 0, len(a.Returns))
	for _, id := range sortedKeys(a.Returns) {
		o.Returns = append(o.Returns, a.Returns[id].Val)
	}
	ids := sortedKeys(a.SupportRequests)
	// Most recently modified first, as an agent reads them.
	slices.SortStableFunc(ids, func(x, y string) int {
		return a.SupportRequests[y].Val.UpdatedAt.Compare(a.SupportRequests[x].Val.UpdatedAt)
	})
	o.SupportRequests = make([]SupportRequest, 0, len(ids))
	for _, id := range ids {
		o.SupportRequests = append(o.SupportRequests, a.SupportRequests[id].Val)
	}
	if a.Action != nil {
		act := *a.Action
		o.Action = &act
	}
	o.Invoice = a.Invoice
	return o
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Change is one entity to upsert into an order. Exactly one of its
// pointers is set; see the constructors in planner.go.
type Change struct {
	Merchant string `json:"merchant"`
	Store    string `json:"store"`
	OrderID  string `json:"order_id"`
	// Email is the order's customer, for an order change.
	Email          string          `json:"email,omitempty"`
	Order          *Order          `json:"order,omitempty"`
	ShipmentID     string          `json:"shipment_id,omitempty"`
	Shipment       *Shipment       `json:"shipment,omitempty"`
	ReturnID       string          `json:"return_id,omitempty"`
	Return         *Return         `json:"return,omitempty"`
	RequestID      string          `json:"request_id,omitempty"`
	SupportRequest *SupportRequest `json:"support_request,omitempty"`
	UpdatedAt      time.Time       `json:"updated_at"`
}

// applyTo upserts the change into a, unless what a holds is as new or
// newer. It reports whether a changed.
func (c *Change) applyTo(a *aggregate) bool {
	switch {
	case c.Order != nil:
		v := versionOf(c.UpdatedAt, []any{c.Email, c.Order})
		if a.Order != nil && !v.newerThan(a.Order.V) {
			return false
		}
		a.Order = &orderEntry{V: v, Email: c.Email, Order: *c.Order}
	case c.Shipment != nil:
		return upsert(&a.Shipments, c.ShipmentID, versionOf(c.UpdatedAt, c.Shipment), *c.Shipment)
	case c.Return != nil:
		return upsert(&a.Returns, c.ReturnID, versionOf(c.UpdatedAt, c.Return), *c.Return)
	case c.SupportRequest != nil:
		return upsert(&a.SupportRequests, c.RequestID, versionOf(c.UpdatedAt, c.SupportRequest), *c.SupportRequest)
	default:
		return false
	}
	return true
}

// Applied says what Apply did.
type Applied struct {
	// Changed is false when the store already held this version or a
	// newer one.
	Changed bool
	// Expiries are, per rebuilt customer, when its oldest shown order
	// falls out of retention: the document must be rebuilt then.
	Expiries []Expiry
}

// Expiry asks for a customer's document to be rebuilt at a time.
type Expiry struct {
	Merchant  string
	EmailHash string
	At        time.Time
}

// maxAttempts bounds the optimistic retries of one change; each conflict
// means another change of the same customer committed meanwhile.
const maxAttempts = 50

// Apply upserts one change and rebuilds the documents of the customers it
// touches, all in one Redis transaction: a reader never sees the order
// without its document or the document of a half-applied change.
func (s *Store) Apply(ctx context.Context, c Change) (Applied, error) {
	c.Email = NormalizeEmail(c.Email)
	return s.update(ctx, c.Merchant, c.Store, c.OrderID, func(_ *watchSet, agg *aggregate) (mutation, error) {
		hadOrder, oldStatus := agg.Order != nil, ""
		if hadOrder {
			oldStatus = agg.Order.Order.Status
		}
		if !c.applyTo(agg) {
			return mutation{}, nil
		}
		typ := EventChanged
		switch {
		case !hadOrder:
			typ = EventCreated
		case agg.Order.Order.Status != oldStatus:
			typ = EventStatusChanged
		}
		return mutation{changed: true, event: outboxEntry(typ, c, c.Store, c.OrderID, agg, s.now())}, nil
	})
}

// mutation is what one transaction on an order key writes.
type mutation struct {
	// changed: the aggregate changed, and is written with the documents
	// it touches and its index entry.
	changed bool
	// event is the outbox entry recorded with it, if any.
	event []byte
	// extra writes more of the merchant's keys in the same transaction.
	extra func(p redis.Pipeliner)
}

// update runs one optimistic transaction on an order key: mutate reads
// the stored aggregate (and may watch more keys) and says what to write.
// An error of mutate ends it and is returned as it is.
func (s *Store) update(ctx context.Context, merchant, store, orderID string, mutate func(w *watchSet, agg *aggregate) (mutation, error)) (Applied, error) {
	okey := s.orderKey(merchant, store, orderID)
	for range maxAttempts {
		var res Applied
		var refused error
		err := s.rdb.Watch(ctx, func(tx *redis.Tx) error {
			w := newWatchSet(tx, okey)
			agg, err := s.readAggregate(ctx, tx, okey)
			if err != nil {
				return err
			}
			oldEmail := agg.email()
			m, err := mutate(w, agg)
			if err != nil {
				refused = err
				return nil
			}
			if !m.changed && m.extra == nil {
				return nil
			}
			res.Changed = m.changed
			var docs []rebuilt
			var raw []byte
			if m.changed {
				var hashes []string
				if e := agg.email(); e != "" {
					hashes = append(hashes, EmailHash(e))
				}
				if oldEmail != "" && oldEmail != agg.email() {
					hashes = append(hashes, EmailHash(oldEmail)) // the order moved away from this customer
				}
				for _, h := range hashes {
					d, err := s.rebuild(ctx, w, merchant, h, store+":"+orderID, agg)
					if err != nil {
						return err
					}
					docs = append(docs, d)
				}
				if raw, err = encodeAggregate(agg); err != nil {
					return err
				}
			}
			_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
				if m.changed {
					ttl := s.ttlFrom(agg.lastActivity())
					p.Set(ctx, okey, raw, ttl)
					if agg.Order != nil {
						s.index(ctx, p, merchant, store+":"+orderID, agg.Order.Order.CreatedAt, ttl)
					}
					for _, d := range docs {
						d.write(ctx, p)
						if !d.expiry.IsZero() {
							res.Expiries = append(res.Expiries, Expiry{Merchant: merchant, EmailHash: d.hash, At: d.expiry})
						}
					}
				}
				if m.event != nil {
					p.XAdd(ctx, &redis.XAddArgs{Stream: s.changesKey(merchant), MaxLen: maxChanges, Approx: true, Values: []any{"e", m.event}})
				}
				if m.extra != nil {
					m.extra(p)
				}
				return nil
			})
			return err
		}, okey)
		switch {
		case err == nil && refused != nil:
			return Applied{}, refused
		case err == nil:
			// Unchanged too: the version found may be an earlier
			// attempt's write that has not reached a replica yet.
			if err := s.replicated(ctx, okey); err != nil {
				return Applied{}, err
			}
			return res, nil
		case errors.Is(err, redis.TxFailedErr):
			continue
		default:
			return Applied{}, fmt.Errorf("orders: write order %s/%s: %w", store, orderID, err)
		}
	}
	return Applied{}, fmt.Errorf("orders: write order %s/%s: still conflicting after %d attempts", store, orderID, maxAttempts)
}

// Refresh rebuilds one customer's document, so that orders past retention
// leave it on time.
func (s *Store) Refresh(ctx context.Context, merchant, emailHash string) (Applied, error) {
	ikey := s.indexKey(merchant, emailHash)
	for range maxAttempts {
		var res Applied
		err := s.rdb.Watch(ctx, func(tx *redis.Tx) error {
			d, err := s.rebuild(ctx, newWatchSet(tx, ikey), merchant, emailHash, "", nil)
			if err != nil {
				return err
			}
			_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
				d.write(ctx, p)
				return nil
			})
			res.Changed = true
			if !d.expiry.IsZero() {
				res.Expiries = []Expiry{{Merchant: merchant, EmailHash: emailHash, At: d.expiry}}
			}
			return err
		}, ikey)
		switch {
		case err == nil:
			if err := s.replicated(ctx, ikey); err != nil {
				return Applied{}, err
			}
			return res, nil
		case errors.Is(err, redis.TxFailedErr):
			continue
		default:
			return Applied{}, fmt.Errorf("widgets: refresh customer %s: %w", emailHash, err)
		}
	}
	return Applied{}, fmt.Errorf("widgets: refresh customer %s: still conflicting after %d attempts", emailHash, maxAttempts)
}

func (a *aggregate) email() string {
	if a.Order == nil {
		return ""
	}
	return a.Order.Email
}

func (s *Store) readAggregate(ctx context.Context, tx *redis.Tx, key string) (*aggregate, error) {
	raw, err := tx.Get(ctx, key).Bytes()
	if errors.Is(err, redis.Nil) {
		return &aggregate{}, nil
	}
	if err != nil {
		return nil, err
	}
	agg, err := decodeAggregate(raw)
	if err != nil {
		return nil, fmt.Errorf("decode %s: %w", key, err)
	}
	return agg, nil
}

// rebuilt is a customer's document ready to write.
type rebuilt struct {
	hash            string
	indexKey        string
	docKey          string
	legacyRenderKey string
	add, drop       []string          // index members
	doc             []byte            // nil: the customer has nothing left to show
	renders         map[string][]byte // written after doc, in its value
	ttl             time.Duration
	expiry          time.Time
}

func (r rebuilt) write(ctx context.Context, p redis.Pipeliner) {
	// The previous version kept renders in a hash of their own: they go
	// at the customer's next change.
	p.Del(ctx, r.legacyRenderKey)
	if len(r.drop) > 0 {
		p.SRem(ctx, r.indexKey, toAny(r.drop)...)
	}
	if len(r.add) > 0 {
		p.SAdd(ctx, r.indexKey, toAny(r.add)...)
	}
	if r.doc == nil {
		p.Del(ctx, r.docKey)
		if len(r.add) == 0 {
			p.Del(ctx, r.indexKey)
		}
		return
	}
	p.Set(ctx, r.docKey, withRenders(r.doc, r.renders), r.ttl)
	if r.ttl > 0 { // EXPIRE 0 would delete it
		p.Expire(ctx, r.indexKey, r.ttl)
	}
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// watchSet WATCHes each key at most once in a transaction. Redis ignores
// a second WATCH of a key, keeping the version seen first, but the
// embedded miniredis records the key's version anew: a write that landed
// between the two WATCHes would then go unseen, and be overwritten.
type watchSet struct {
	tx      *redis.Tx
	watched map[string]bool
}

// newWatchSet is the set of a transaction that already watches keys.
func newWatchSet(tx *redis.Tx, keys ...string) *watchSet {
	w := &watchSet{tx: tx, watched: map[string]bool{}}
	for _, k := range keys {
		w.watched[k] = true
	}
	return w
}

func (w *watchSet) watch(ctx context.Context, keys ...string) error {
	var fresh []string
	for _, k := range keys {
		if !w.watched[k] {
			w.watched[k] = true
			fresh = append(fresh, k)
		}
	}
	if len(fresh) == 0 {
		return nil
	}
	return w.tx.Watch(ctx, fresh...).Err()
}

// rebuild reads, under WATCH, every order of one customer and builds its
// document. changedMember and changed stand for the order being written,
// whose new value is not in Redis yet.
func (s *Store) rebuild(ctx context.Context, w *watchSet, merchant, hash, changedMember string, changed *aggregate) (rebuilt, error) {
	tx := w.tx
	r := rebuilt{hash: hash, indexKey: s.indexKey(merchant, hash), docKey: s.docKey(merchant, hash), legacyRenderKey: s.base(merchant) + "r:" + hash}
	if err := w.watch(ctx, r.indexKey); err != nil {
		return r, err
	}
	members, err := tx.SMembers(ctx, r.indexKey).Result()
	if err != nil {
		return r, err
	}
	keys := make([]string, len(members))
	for i, m := range members {
		store, order, _ := strings.Cut(m, ":")
		keys[i] = s.orderKey(merchant, store, order)
	}
	if err := w.watch(ctx, keys...); err != nil {
		return r, err
	}
	// One MGET, not a GET per order: all of a merchant's keys share a
	// slot, and a customer's every change reads all their orders, which
	// made these GETs half of the read model's commands.
	var vals []any
	if len(keys) > 0 {
		if vals, err = tx.MGet(ctx, keys...).Result(); err != nil {
			return r, err
		}
	}

	now := s.now()
	type found struct {
		member string
		agg    *aggregate
	}
	var orders []found
	seenChanged := false
	for i, v := range vals {
		if members[i] == changedMember {
			seenChanged = true
			continue // its new value is changed
		}
		if v == nil {
			r.drop = append(r.drop, members[i]) // expired
			continue
		}
		str, ok := v.(string)
		if !ok {
			return r, fmt.Errorf("decode %s: unexpected %T", keys[i], v)
		}
		raw := []byte(str)
		agg, err := decodeAggregate(raw)
		if err != nil {
			return r, fmt.Errorf("decode %s: %w", keys[i], err)
		}
		if agg.Order == nil || EmailHash(agg.Order.Email) != hash {
			r.drop = append(r.drop, members[i])
			continue
		}
		orders = append(orders, found{members[i], agg})
	}
	if changed != nil {
		member := changedMember
		if changed.Order != nil && EmailHash(changed.Order.Email) == hash {
			orders = append(orders, found{member, changed})
			if !seenChanged {
				r.add = append(r.add, member)
			}
		} else if seenChanged {
			r.drop = append(r.drop, member)
		}
	}

	// Past retention: hidden now, and dropped with its key's expiry.
	orders = slices.DeleteFunc(orders, func(f found) bool { return !s.retained(f.agg.lastActivity(), now) })
	if len(orders) == 0 {
		return r, nil
	}
	slices.SortFunc(orders, func(a, b found) int {
		if c := b.agg.Order.Order.CreatedAt.Compare(a.agg.Order.Order.CreatedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.member, b.member)
	})
	if s.maxOrders > 0 && len(orders) > s.maxOrders {
		orders = orders[:s.maxOrders]
	}
	doc := Document{Customer: Customer{Email: orders[0].agg.Order.Email}, Orders: make([]Order, len(orders))}
	var lastActive time.Time
	for i, f := range orders {
		doc.Orders[i] = f.agg.view()
		at := f.agg.lastActivity()
		lastActive = latest(lastActive, at)
		if exp := at.Add(s.retention); r.expiry.IsZero() || exp.Before(r.expiry) {
			r.expiry = exp
		}
	}
	r.doc = encodeDoc(&doc)
	r.ttl = s.ttlFrom(lastActive)
	if s.prerender != nil {
		r.renders = s.prerender.Prerender(merchant, string(r.doc[:RevLen]), &doc)
	}
	return r, nil
}

func (s *Store) retained(lastActivity, now time.Time) bool {
	return s.retention <= 0 || lastActivity.Add(s.retention).After(now)
}

// ttlFrom is how long a key last touched at t is kept. A key already past
// retention gets a short life rather than none, so that a write never
// fails on it.
func (s *Store) ttlFrom(t time.Time) time.Duration {
	if s.retention <= 0 {
		return 0
	}
	ttl := t.Add(s.retention).Sub(s.now())
	return max(ttl, time.Minute)
}

// EmailHash is how a customer's email appears in keys and task payloads.
func EmailHash(email string) string {
	sum := sha256.Sum256([]byte(NormalizeEmail(email)))
	return hex.EncodeToString(sum[:16])
}

// NormalizeEmail is the customer key: trimmed and lower-cased. Local parts
// are case-sensitive in theory only; helpdesks and marketplaces vary the
// case of one address.
func NormalizeEmail(email string) string {
	return strings.ToLower(strings.TrimSpace(email))
}

func (s *Store) base(merchant string) string {
	return s.prefix + "w:{" + merchant + "}:"
}

func (s *Store) orderKey(merchant, store, order string) string {
	return s.base(merchant) + "o:" + store + ":" + order
}

// ordersKey is the merchant's index of every order (see Store).
func (s *Store) ordersKey(merchant string) string { return s.base(merchant) + "idx" }

func (s *Store) indexKey(merchant, hash string) string { return s.base(merchant) + "c:" + hash }

func (s *Store) docKey(merchant, hash string) string { return s.base(merchant) + "d:" + hash }

// DocKey is where the document of a customer of merchant is.
func (s *Store) DocKey(merchant, email string) string {
	// docKey(merchant, EmailHash(email)), built at once: every widget
	// read asks for it.
	sum := sha256.Sum256([]byte(NormalizeEmail(email)))
	var hash [32]byte
	hex.Encode(hash[:], sum[:16])
	var b strings.Builder
	b.Grow(len(s.prefix) + len(merchant) + len("w:{}:d:") + len(hash))
	b.WriteString(s.prefix)
	b.WriteString("w:{")
	b.WriteString(merchant)
	b.WriteString("}:d:")
	b.Write(hash[:])
	return b.String()
}

// CustomerEmail returns the email of an order's customer, or "" when the
// read model has no such order: mirrored discussions take their ticket's
// requester from it, so that the sidebar finds the buyer's orders.
func (s *Store) CustomerEmail(ctx context.Context, merchant, store, orderID string) (string, error) {
	agg, err := s.stored(ctx, merchant, store, orderID)
	if err != nil {
		return "", err
	}
	return agg.email(), nil
}

// stored reads an order key's aggregate; empty when there is none.
func (s *Store) stored(ctx context.Context, merchant, store, orderID string) (*aggregate, error) {
	raw, err := s.rdb.Get(ctx, s.orderKey(merchant, store, orderID)).Bytes()
	if errors.Is(err, redis.Nil) {
		return &aggregate{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("orders: read order %s/%s: %w", store, orderID, err)
	}
	agg, err := decodeAggregate(raw)
	if err != nil {
		return nil, fmt.Errorf("orders: decode order %s/%s: %w", store, orderID, err)
	}
	return agg, nil
}
