package widgets

import (
	"context"
	"encoding/binary"
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/helpdesk-bridge/bridge/config"
	"github.com/helpdesk-bridge/bridge/orders"
)

// A sidebar's widget is rendered when its customer's document is written
// (Prerender), gzipped, and kept in the document's value, after it: a
// read by a client that takes gzip is then one GET and the render sent as
// it is, rather than a document decoded and rendered. Only a sidebar's
// own format, for its whole view, is kept this way; a read narrowed to
// some stores, in another format, or by a client that does not take gzip
// renders at the read, as before.
//
// A render is of the document it is stored with (written together, or
// put back by a script that finds the value unchanged; its revision is
// checked too), and, when it carries signed links, served only in the
// hour they were signed in (see bucket). Past that hour the next read
// renders again and puts the new render back (refill). The value read is
// what a stale answer comes from, should Redis then stop answering.

// Prerendered is a sidebar's widget as kept in Redis.
type Prerendered struct {
	// Rev is the revision of the document it was rendered from.
	Rev string
	// Hour is the hour (Unix time / 3600) of the render's signed links,
	// when Signed: it is usable in that hour only.
	Hour   int64
	Signed bool
	// Gzip is the answer's body, gzipped: a part of the value read.
	Gzip string
}

// The stored form: a version byte, the revision, a flags byte, the hour
// (8 bytes, little endian), then the gzipped body.
const (
	preForm    = 1
	preSigned  = 1 << 0
	preHeadLen = 1 + orders.RevLen + 1 + 8
)

func (p *Prerendered) encode() []byte {
	out := make([]byte, 0, preHeadLen+len(p.Gzip))
	out = append(out, preForm)
	out = append(out, p.Rev...)
	var flags byte
	if p.Signed {
		flags |= preSigned
	}
	out = append(out, flags)
	out = binary.LittleEndian.AppendUint64(out, uint64(p.Hour))
	return append(out, p.Gzip...)
}

func decodePrerendered(raw string) (*Prerendered, error) {
	if len(raw) < preHeadLen || raw[0] != preForm {
		return nil, errors.New("widgets: not a stored render")
	}
	var hour [8]byte
	copy(hour[:], raw[2+orders.RevLen:])
	return &Prerendered{
		Rev:    raw[1 : 1+orders.RevLen],
		Signed: raw[1+orders.RevLen]&preSigned != 0,
		Hour:   int64(binary.LittleEndian.Uint64(hour[:])),
		Gzip:   raw[preHeadLen:],
	}, nil
}

// usable tells whether p's signed links, if any, are the hour's at now.
func (p *Prerendered) usable(now time.Time) bool {
	return !p.Signed || p.Hour == hourOf(now)
}

func hourOf(now time.Time) int64 { return bucket(now).Unix() / 3600 }

// nativeFormat is the format a sidebar of kind is read in, the one kept.
func nativeFormat(kind string) string {
	switch kind {
	case config.SidebarGorgias:
		return FormatJSON
	case config.SidebarZendesk:
		return FormatZendesk
	case config.SidebarHelpScout:
		return FormatHelpScout
	case config.SidebarHTML:
		return FormatHTML
	}
	return ""
}

// renderField names the render of v in format among those kept with the
// customer's document, or is "" when such a read is not kept (another
// format than the sidebar's own). The layout's fingerprint is part of it:
// a changed layout finds no render and renders anew.
func (v *View) renderField(format string) string {
	if format == "" || format != nativeFormat(v.Sidebar.Kind) {
		return ""
	}
	return v.nativeField
}

// etag is the ETag of v's render of a document of revision rev in
// format, made at now (see Service.serve).
func (v *View) etag(rev, format string, signed bool, now time.Time) string {
	if rev == "" {
		rev = "none"
	}
	if signed {
		// The links' tickets change each hour: neither the memo nor a
		// browser may keep a widget past its tickets.
		return `"` + rev + "." + v.fingerprint + "." + format + ".h" + strconv.FormatInt(hourOf(now), 10) + `"`
	}
	return `"` + rev + "." + v.fingerprint + "." + format + `"`
}

// Prerender renders every sidebar of merchant, in its own format, from a
// document about to be written with revision rev (orders.Prerenderer).
func (s *Service) Prerender(merchant, rev string, doc *orders.Document) map[string][]byte {
	views := s.byMerchant[merchant]
	if len(views) == 0 {
		return nil
	}
	now := s.now()
	out := make(map[string][]byte, len(views))
	for _, v := range views {
		format := nativeFormat(v.Sidebar.Kind)
		acts := s.actionsFor(v, now)
		body := render(v, Snapshot{Rev: rev, Doc: doc, Freshness: Freshness{State: StateOK}}, format, acts)
		p := Prerendered{Rev: rev, Signed: acts.signed(doc), Hour: hourOf(now), Gzip: gzipString(body)}
		out[v.renderField(format)] = p.encode()
	}
	return out
}

// refillScript puts a document's value back with a new render, only if
// the value is still the one the render was added to: neither a change of
// the customer nor another sidebar's refill is undone. It keeps the
// document's expiry.
var refillScript = redis.NewScript(`
if redis.call("GET", KEYS[1]) ~= ARGV[1] then return 0 end
redis.call("SET", KEYS[1], ARGV[2], "KEEPTTL")
return 1`)

// maxRefills bounds the refills running at once: they are an
// optimisation, and a burst of reads past the hour must not queue
// goroutines behind a slow Redis.
const maxRefills = 8

// refill keeps body, just rendered at a read for lack of a usable render,
// for the reads that follow. It runs on its own goroutine, within the
// reader's budget, or not at all when maxRefills are running.
func (s *Service) refill(ctx context.Context, v *View, email, field string, snap Snapshot, body []byte, signed bool, now time.Time) {
	if snap.k == nil || snap.k.raw == "" {
		return // read without its value: nothing to put the render in
	}
	raw := snap.k.raw
	select {
	case s.refills <- struct{}{}:
	default:
		return
	}
	go func() {
		defer func() { <-s.refills }()
		p := Prerendered{Rev: snap.Rev, Signed: signed, Hour: hourOf(now), Gzip: gzipString(body)}
		value, err := orders.WithRender([]byte(raw), field, p.encode())
		if err != nil {
			zerolog.Ctx(ctx).Debug().Err(err).Msg("widget render not kept")
			return
		}
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.reader.budget)
		defer cancel()
		key := s.reader.store.DocKey(v.Merchant, email)
		if err := refillScript.Run(rctx, s.reader.rdb, []string{key}, raw, value).Err(); err != nil {
			zerolog.Ctx(ctx).Debug().Err(err).Msg("widget render not kept")
		}
	}()
}

// gzipWriters are reused: a compressor's state is far larger than a
// widget.
var gzipWriters = sync.Pool{New: func() any {
	w, _ := gzip.NewWriterLevel(nil, gzip.DefaultCompression)
	return w
}}

func gzipString(b []byte) string {
	var buf strings.Builder
	buf.Grow(len(b)/4 + 64)
	w := gzipWriters.Get().(*gzip.Writer)
	w.Reset(&buf)
	_, _ = w.Write(b) // a strings.Builder does not fail
	_ = w.Close()
	gzipWriters.Put(w)
	return buf.String()
}

// AcceptsGzip tells whether an Accept-Encoding header takes gzip: named
// (or as x-gzip, or by "*" when gzip is not refused) with a quality above
// zero.
func AcceptsGzip(header string) bool {
	star, gz := false, -1 // -1: not named
	for rest := header; rest != ""; {
		var part string
		part, rest, _ = strings.Cut(rest, ",")
		coding, params, _ := strings.Cut(part, ";")
		coding = strings.TrimSpace(coding)
		q := 1.0
		for params != "" {
			var p string
			p, params, _ = strings.Cut(params, ";")
			k, val, ok := strings.Cut(strings.TrimSpace(p), "=")
			if ok && strings.EqualFold(strings.TrimSpace(k), "q") {
				if n, err := strconv.ParseFloat(strings.TrimSpace(val), 64); err == nil {
					q = n
				} else {
					q = 0
				}
			}
		}
		switch {
		case strings.EqualFold(coding, "gzip"), strings.EqualFold(coding, "x-gzip"):
			if q > 0 {
				gz = 1
			} else if gz < 0 {
				gz = 0
			}
		case coding == "*":
			star = q > 0
		}
	}
	return gz == 1 || (gz < 0 && star)
}
