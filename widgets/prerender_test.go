package widgets

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/helpdesk-bridge/bridge/bridge/httpapi"
	"github.com/helpdesk-bridge/bridge/bridge/rdb/rdbtest"
	"github.com/helpdesk-bridge/bridge/config"
	"github.com/helpdesk-bridge/bridge/orders"
)

const tokZendesk = "zendesk-sidebar-token-0123456789abcdef"

// preFixture is the widget routes of a bridge whose store renders the
// sidebars as it writes documents, on a Redis of the test's own, with a
// clock of the test's.
type preFixture struct {
	svc   *Service
	eng   *gin.Engine
	rdb   *redis.Client
	store *orders.Store
	clock *testClock
}

// preSidebars are one sidebar of each kind: with signed links (HTML, Help
// Scout) and without (Gorgias, Zendesk).
var preSidebars = []config.Sidebar{
	{ID: "acme-html", Kind: config.SidebarHTML, Token: config.NewSecret(tokShip), Stores: []string{"acme-fr"}, Actions: []string{"ship", "cancel"}},
	{ID: "acme-gorgias", Kind: config.SidebarGorgias, Token: config.NewSecret(tokGorgias), Stores: []string{"acme-fr"}},
	{ID: "acme-zendesk", Kind: config.SidebarZendesk, Token: config.NewSecret(tokZendesk), Stores: []string{"acme-fr"}, Language: "fr"},
	{ID: "acme-hs", Kind: config.SidebarHelpScout, Secret: config.NewSecret(hsSecret), Stores: []string{"acme-fr"}, Actions: []string{"ship"}},
}

func newPreFixture(t *testing.T) *preFixture { return newPreFixtureB(t) }

func newPreFixtureB(t testing.TB) *preFixture {
	t.Helper()
	srv := rdbtest.Start(t)
	c := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { _ = c.Close() })
	clock := &testClock{t: time.Date(2026, 11, 2, 10, 20, 0, 0, time.UTC)}
	store := orders.NewStore(c, "test:", 365*24*time.Hour, 0, time.Now)
	a := orderChange("A", "jeanne@example.com", t0, t0, orders.StatusInProgress)
	b := orderChange("B", "jeanne@example.com", t0.Add(time.Hour), t0.Add(time.Hour), orders.StatusNew)
	cfg := &config.Config{Redis: config.Redis{KeyPrefix: "test:"}, Widgets: config.Widgets{LastKnown: 100},
		Merchants: []config.Merchant{{ID: "acme", Sidebars: preSidebars}}}
	svc := NewService(cfg, NewReader(c, store, 5*time.Second, 100, clock.now), nil, newFakeActions(*a.Order, *b.Order))
	store.PrerenderWith(svc)
	for _, ch := range []orders.Change{a, b} {
		if _, err := store.Apply(context.Background(), ch); err != nil {
			t.Fatal(err)
		}
	}
	eng := httpapi.NewEngine(zerolog.Nop(), nil)
	svc.Register(eng)
	return &preFixture{svc: svc, eng: eng, rdb: c, store: store, clock: clock}
}

// read reads sidebar sb's widget of email as a client that takes gzip or
// not, with query added to the URL, and returns the answer with its body
// unzipped.
func (f *preFixture) read(t *testing.T, sb config.Sidebar, email string, gz bool, query string) (*httptest.ResponseRecorder, string) {
	t.Helper()
	var r *http.Request
	if sb.Kind == config.SidebarHelpScout {
		body := `{"customer":{"email":"` + email + `"}}`
		mac := hmac.New(sha1.New, []byte(sb.Secret.Reveal()))
		mac.Write([]byte(body))
		r = httptest.NewRequest(http.MethodPost, "/v1/widgets/helpscout/"+sb.ID, strings.NewReader(body))
		r.Header.Set("X-HelpScout-Signature", base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	} else {
		path := map[string]string{config.SidebarHTML: "html", config.SidebarGorgias: "gorgias", config.SidebarZendesk: "zendesk"}[sb.Kind]
		r = httptest.NewRequest(http.MethodGet, "/v1/widgets/"+path+"?email="+email+query, nil)
		r.Header.Set("Authorization", "Bearer "+sb.Token.Reveal())
	}
	if gz {
		r.Header.Set("Accept-Encoding", "br;q=1.0, gzip;q=0.8, *;q=0.1")
	}
	w := httptest.NewRecorder()
	f.eng.ServeHTTP(w, r)
	if w.Code != http.StatusOK {
		t.Fatalf("%s: %d %s", sb.ID, w.Code, w.Body)
	}
	body := w.Body.Bytes()
	if w.Header().Get("Content-Encoding") == "gzip" {
		var err error
		if body, err = gunzip(body); err != nil {
			t.Fatalf("%s: %v", sb.ID, err)
		}
	}
	return w, string(body)
}

// stored is the render kept for sb's view of email, or nil.
func (f *preFixture) stored(t *testing.T, sb config.Sidebar, email string) *Prerendered {
	t.Helper()
	v := NewView("acme", sb)
	raw, err := f.rdb.Get(context.Background(), f.store.DocKey("acme", email)).Result()
	if err == redis.Nil {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	kept := orders.StoredRender(raw, v.renderField(nativeFormat(sb.Kind)))
	if kept == "" {
		return nil
	}
	p, err := decodePrerendered(kept)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// rendered is what rendering the customer's document at the read would
// answer for sb: the reference every kept render must equal.
func (f *preFixture) rendered(t *testing.T, sb config.Sidebar, email string) string {
	t.Helper()
	snap := f.svc.reader.Read(context.Background(), "acme", email)
	v := NewView("acme", sb)
	return string(render(v, snap, nativeFormat(sb.Kind), f.svc.actionsFor(v, f.clock.now())))
}

// Each sidebar's widget is kept, gzipped, as the document is written, and
// a read by a client that takes gzip answers it as it is: the same bytes,
// unzipped, as a render at the read makes.
func TestPrerenderedWidgetsAreServed(t *testing.T) {
	t.Parallel()
	f := newPreFixture(t)
	for _, sb := range preSidebars {
		p := f.stored(t, sb, "jeanne@example.com")
		if p == nil {
			t.Fatalf("%s: no render kept", sb.ID)
		}
		want := f.rendered(t, sb, "jeanne@example.com")
		w, body := f.read(t, sb, "jeanne@example.com", true, "")
		if w.Header().Get("Content-Encoding") != "gzip" || w.Body.String() != p.Gzip {
			t.Errorf("%s: a client taking gzip got %q (%d bytes), want the kept render as it is", sb.ID, w.Header().Get("Content-Encoding"), w.Body.Len())
		}
		if body != want {
			t.Errorf("%s: kept render differs from a render at the read:\n%s\n%s", sb.ID, body, want)
		}
		if !strings.Contains(w.Header().Get("Vary"), "Accept-Encoding") {
			t.Errorf("%s: Vary %q", sb.ID, w.Header().Get("Vary"))
		}
		// A client that does not take gzip is answered a render made at
		// the read: the same bytes.
		plain, plainBody := f.read(t, sb, "jeanne@example.com", false, "")
		if plain.Header().Get("Content-Encoding") != "" || plainBody != want {
			t.Errorf("%s: a client not taking gzip got %q encoded, or other bytes", sb.ID, plain.Header().Get("Content-Encoding"))
		}
		if sb.Kind == config.SidebarHelpScout {
			continue
		}
		etag := w.Header().Get("ETag")
		if !strings.HasPrefix(etag, `W/"`) || plain.Header().Get("ETag") != strings.TrimPrefix(etag, "W/") {
			t.Errorf("%s: ETags %s (gzip) and %s", sb.ID, etag, plain.Header().Get("ETag"))
		}
		r := httptest.NewRequest(http.MethodGet, "/v1/widgets/"+map[string]string{config.SidebarHTML: "html", config.SidebarGorgias: "gorgias", config.SidebarZendesk: "zendesk"}[sb.Kind]+"?email=jeanne@example.com", nil)
		r.Header.Set("Authorization", "Bearer "+sb.Token.Reveal())
		r.Header.Set("If-None-Match", etag)
		r.Header.Set("Accept-Encoding", "gzip")
		rec := httptest.NewRecorder()
		f.eng.ServeHTTP(rec, r)
		if rec.Code != http.StatusNotModified || rec.Header().Get("ETag") != etag {
			t.Errorf("%s: If-None-Match of the gzipped answer's ETag: %d, ETag %s", sb.ID, rec.Code, rec.Header().Get("ETag"))
		}
	}
}

// keep replaces the render kept for field in email's document value.
func (f *preFixture) keep(t *testing.T, email, field string, p Prerendered) {
	t.Helper()
	ctx := context.Background()
	key := f.store.DocKey("acme", email)
	raw, err := f.rdb.Get(ctx, key).Bytes()
	if err != nil {
		t.Fatal(err)
	}
	value, err := orders.WithRender(raw, field, p.encode())
	if err != nil {
		t.Fatal(err)
	}
	if err := f.rdb.Set(ctx, key, value, redis.KeepTTL).Err(); err != nil {
		t.Fatal(err)
	}
}

// A kept render is what a read answers, and only while it is the
// document's: a render of another revision is not, and a read narrowed to
// some stores renders at the read.
func TestPrerenderedWidgetOfAnotherRevisionIsNotServed(t *testing.T) {
	t.Parallel()
	f := newPreFixture(t)
	sb := preSidebars[1] // Gorgias
	field := NewView("acme", sb).renderField(FormatJSON)
	p := f.stored(t, sb, "jeanne@example.com")
	forged := Prerendered{Rev: p.Rev, Gzip: gzipString([]byte(`{"forged":true}`))}
	f.keep(t, "jeanne@example.com", field, forged)
	if _, body := f.read(t, sb, "jeanne@example.com", true, ""); body != `{"forged":true}` {
		t.Fatalf("the kept render of the document's revision was not the answer: %s", body)
	}
	if _, body := f.read(t, sb, "jeanne@example.com", true, "&store=acme-fr"); strings.Contains(body, "forged") {
		t.Error("a read narrowed to a store answered the kept render")
	}
	forged.Rev = strings.Repeat("0", orders.RevLen)
	f.keep(t, "jeanne@example.com", field, forged)
	if _, body := f.read(t, sb, "jeanne@example.com", true, ""); strings.Contains(body, "forged") || !strings.Contains(body, `"SKU-A"`) {
		t.Errorf("a render of another revision was answered: %s", body)
	}
}

// A change to the customer's orders replaces every render with the new
// document's, in the same transaction.
func TestPrerenderedWidgetsFollowTheDocument(t *testing.T) {
	t.Parallel()
	f := newPreFixture(t)
	before := f.stored(t, preSidebars[1], "jeanne@example.com")
	if _, err := f.store.Apply(context.Background(), orderChange("C", "jeanne@example.com", t0.Add(2*time.Hour), t0.Add(2*time.Hour), orders.StatusNew)); err != nil {
		t.Fatal(err)
	}
	for _, sb := range preSidebars {
		p := f.stored(t, sb, "jeanne@example.com")
		if p == nil || p.Rev == before.Rev {
			t.Fatalf("%s: render not replaced with the document", sb.ID)
		}
		if _, body := f.read(t, sb, "jeanne@example.com", true, ""); !strings.Contains(body, "SKU-C") || body != f.rendered(t, sb, "jeanne@example.com") {
			t.Errorf("%s: the new order is not in the widget: %s", sb.ID, body)
		}
	}
}

// A render with signed links serves in the hour they were signed in only:
// the next hour's read renders again, with new links, and keeps that. A
// render without them serves on.
func TestPrerenderedWidgetsWithLinksLastTheirHour(t *testing.T) {
	t.Parallel()
	f := newPreFixture(t)
	signed, plain := preSidebars[0], preSidebars[1]
	w1, b1 := f.read(t, signed, "jeanne@example.com", true, "")
	p1, _ := f.read(t, plain, "jeanne@example.com", true, "")
	if w1.Header().Get("Content-Encoding") != "gzip" || len(buttons(b1)["ship"]) == 0 {
		t.Fatalf("the widget with actions is not the kept render, or has no button: %s", b1)
	}
	f.clock.add(time.Hour)
	w2, b2 := f.read(t, signed, "jeanne@example.com", true, "")
	p2, _ := f.read(t, plain, "jeanne@example.com", true, "")
	if w2.Header().Get("ETag") == w1.Header().Get("ETag") || b1 == b2 {
		t.Error("an hour later the widget with actions is the same")
	}
	if b2 != f.rendered(t, signed, "jeanne@example.com") {
		t.Error("an hour later the widget with actions is not the hour's render")
	}
	if p1.Header().Get("ETag") != p2.Header().Get("ETag") || p2.Header().Get("Content-Encoding") != "gzip" {
		t.Error("the widget without links did not serve on from its render")
	}
	// The render made at the read is kept for the hour's next reads.
	want := hourOf(f.clock.now())
	deadline := time.Now().Add(5 * time.Second)
	for p := f.stored(t, signed, "jeanne@example.com"); p == nil || p.Hour != want; p = f.stored(t, signed, "jeanne@example.com") {
		if time.Now().After(deadline) {
			t.Fatal("the new hour's render was not kept")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if w3, b3 := f.read(t, signed, "jeanne@example.com", true, ""); w3.Header().Get("Content-Encoding") != "gzip" || b3 != b2 {
		t.Error("the kept new render is not the answer")
	}
}

// A document written without renders (by a store without a renderer, as
// an earlier release) is rendered at the read, and that render is kept.
func TestPrerenderedWidgetIsKeptAtTheFirstRead(t *testing.T) {
	t.Parallel()
	f := newPreFixture(t)
	plainStore := orders.NewStore(f.rdb, "test:", 0, 0, time.Now)
	if _, err := plainStore.Apply(context.Background(), orderChange("P", "paul@example.com", t0, t0, orders.StatusNew)); err != nil {
		t.Fatal(err)
	}
	sb := preSidebars[2] // Zendesk
	if f.stored(t, sb, "paul@example.com") != nil {
		t.Fatal("a render was kept by a store without a renderer")
	}
	w, body := f.read(t, sb, "paul@example.com", true, "")
	if w.Header().Get("Content-Encoding") != "" || !strings.Contains(body, "SKU-P") {
		t.Fatalf("first read: %q encoded, %s", w.Header().Get("Content-Encoding"), body)
	}
	deadline := time.Now().Add(5 * time.Second)
	for f.stored(t, sb, "paul@example.com") == nil {
		if time.Now().After(deadline) {
			t.Fatal("the render made at the read was not kept")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if w, again := f.read(t, sb, "paul@example.com", true, ""); w.Header().Get("Content-Encoding") != "gzip" || again != body {
		t.Error("the kept render is not the next answer")
	}
	// Writing the document again without a renderer drops the renders.
	if _, err := plainStore.Apply(context.Background(), orderChange("Q", "paul@example.com", t0.Add(time.Hour), t0.Add(time.Hour), orders.StatusNew)); err != nil {
		t.Fatal(err)
	}
	if f.stored(t, sb, "paul@example.com") != nil {
		t.Error("a render outlived its document")
	}
}

func TestAcceptsGzip(t *testing.T) {
	for header, want := range map[string]bool{
		"":                         false,
		"gzip":                     true,
		"GZIP":                     true,
		"gzip, deflate, br":        true,
		"br;q=1.0, gzip;q=0.8":     true,
		"x-gzip":                   true,
		"gzip;q=0":                 false,
		"gzip; q=0.000":            false,
		"gzip;q=bogus":             false,
		"*":                        true,
		"*;q=0.1":                  true,
		"*, gzip;q=0":              false,
		"identity":                 false,
		"deflate, br":              false,
		"gzipped":                  false,
		"identity;q=1, *;q=0":      false,
		"br, gzip;q=0, x-gzip;q=1": true,
	} {
		if got := AcceptsGzip(header); got != want {
			t.Errorf("AcceptsGzip(%q) = %v, want %v", header, got, want)
		}
	}
}

// gunzip is what a client that took gzip does with the answer.
func gunzip(b []byte) ([]byte, error) {
	r, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}

// A sidebar read keeps to the budget when Redis hangs, as a document read
// does: it answers the last document read, stale, whichever sidebar read
// it, or unavailable.
func TestPrerenderedReadAnswersWithinBudget(t *testing.T) {
	srv := rdbtest.Start(t)
	// As rdb builds the bridge's clients: the context's deadline holds.
	c := redis.NewClient(&redis.Options{Addr: srv.Addr, MaxRetries: -1, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = c.Close() })
	store := orders.NewStore(c, "test:", 0, 0, time.Now)
	clock := &testClock{t: t0}
	cfg := &config.Config{Widgets: config.Widgets{LastKnown: 100}, Merchants: []config.Merchant{{ID: "acme", Sidebars: preSidebars}}}
	r := NewReader(c, store, 100*time.Millisecond, 100, clock.now)
	svc := NewService(cfg, r, nil, nil)
	store.PrerenderWith(svc)
	if _, err := store.Apply(context.Background(), orderChange("A", "jeanne@example.com", t0, t0, orders.StatusNew)); err != nil {
		t.Fatal(err)
	}
	gorgias, zendesk := NewView("acme", preSidebars[1]), NewView("acme", preSidebars[2])
	if snap := r.ReadSidebar(context.Background(), "acme", "jeanne@example.com", gorgias.renderField(FormatJSON)); snap.Pre == nil {
		t.Fatalf("first read: no render: %+v", snap.Freshness)
	}
	clock.add(90 * time.Second)

	srv.Signal(t, syscall.SIGSTOP)
	defer srv.Signal(t, syscall.SIGCONT)
	start := time.Now()
	snap := r.ReadSidebar(context.Background(), "acme", "jeanne@example.com", zendesk.renderField(FormatZendesk))
	if took := time.Since(start); took > time.Second {
		t.Errorf("frozen redis: the read took %s, budget 100ms", took)
	}
	if snap.Freshness.State != StateStale || snap.Freshness.Age != 90*time.Second || snap.Doc == nil || len(snap.Doc.Orders) != 1 {
		t.Errorf("frozen redis: %+v, want the document another sidebar's read fetched, 90s old", snap.Freshness)
	}
	snap = r.ReadSidebar(context.Background(), "acme", "never.read@example.com", gorgias.renderField(FormatJSON))
	if snap.Freshness.State != StateUnavailable || len(snap.Doc.Orders) != 0 {
		t.Errorf("frozen redis, unknown customer: %+v", snap.Freshness)
	}
}

// A refill puts a render back only into the value it was read from: a
// change of the customer meanwhile is not undone, and the other sidebars'
// renders stay.
func TestRefillDoesNotUndoAChange(t *testing.T) {
	t.Parallel()
	f := newPreFixture(t)
	ctx := context.Background()
	sb := preSidebars[0] // HTML, signed links
	v := NewView("acme", sb)
	field := v.renderField(FormatHTML)
	key := f.store.DocKey("acme", "jeanne@example.com")
	refill := func(snap Snapshot, body string) {
		t.Helper()
		f.svc.refill(ctx, v, "jeanne@example.com", field, snap, []byte(body), true, f.clock.now())
		deadline := time.Now().Add(5 * time.Second)
		for len(f.svc.refills) > 0 {
			if time.Now().After(deadline) {
				t.Fatal("the refill did not end")
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	old := f.svc.reader.ReadSidebar(ctx, "acme", "jeanne@example.com", field)
	if _, err := f.store.Apply(ctx, orderChange("C", "jeanne@example.com", t0.Add(2*time.Hour), t0.Add(2*time.Hour), orders.StatusNew)); err != nil {
		t.Fatal(err)
	}
	changed := f.rdb.Get(ctx, key).Val()
	refill(old, "<p>before the change</p>")
	if got := f.rdb.Get(ctx, key).Val(); got != changed {
		t.Fatal("a refill of the value read before a change overwrote the change")
	}

	current := f.svc.reader.ReadSidebar(ctx, "acme", "jeanne@example.com", field)
	refill(current, "<p>refilled</p>")
	p := f.stored(t, sb, "jeanne@example.com")
	if p == nil {
		t.Fatal("no render after the refill")
	}
	if body, err := gunzip([]byte(p.Gzip)); err != nil || string(body) != "<p>refilled</p>" {
		t.Fatalf("kept render %q, %v; want the refill's", body, err)
	}
	for _, other := range preSidebars[1:] {
		if f.stored(t, other, "jeanne@example.com") == nil {
			t.Errorf("%s: its render went with another sidebar's refill", other.ID)
		}
	}
	if ttl := f.rdb.TTL(ctx, key).Val(); ttl <= 0 {
		t.Errorf("the refill dropped the document's expiry: TTL %s", ttl)
	}
}
