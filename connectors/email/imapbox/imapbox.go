// Package imapbox reads one IMAP mailbox by UID: the transport under the
// e-mail marketplace channel (Amazon's and CDON's relayed buyer mail).
//
// A Box holds at most one connection, opened lazily and opened again when
// the server drops it. It never changes the mailbox: it selects it read
// only (EXAMINE) and fetches with BODY.PEEK, so flags a person sees in the
// seller's mail client stay as they are.
//
// The position in the mailbox is a Cursor, (UIDVALIDITY, last UID handed
// out), which the caller stores after it has handled a batch. UIDs only
// grow within one UIDVALIDITY, so a stored cursor resumes exactly where the
// caller stopped, across restarts and replicas.
//
// When the server changes the mailbox's UIDVALIDITY (the mailbox was
// deleted and recreated, restored, or moved to another server), the old
// UIDs mean nothing: Fetch then starts again from the oldest message of the
// mailbox, and marks the messages Replayed. The caller must drop those it
// already handled by their Message-ID (by a hash of the raw message when it
// has none). It must do so anyway: a crash between handling a message and
// storing the cursor hands the same message out again.
package imapbox

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-imap"
	"github.com/emersion/go-imap/client"

	"github.com/helpdesk-bridge/bridge/connectors"
	"github.com/helpdesk-bridge/bridge/connectors/email/mailnet"
)

// Security is how the connection is protected.
type Security int

const (
	// StartTLS connects in clear text and upgrades with STARTTLS before
	// logging in (port 143 style). A server that does not offer STARTTLS
	// is refused.
	StartTLS Security = iota
	// ImplicitTLS speaks TLS from the first byte (IMAPS, port 993 style).
	ImplicitTLS
	// InsecureNoTLS sends the password in clear text. Only for local tests.
	InsecureNoTLS
)

// Options configures a Box. Addr, Username and Password are required.
type Options struct {
	Addr     string // host:port
	Username string
	Password string
	// Mailbox is the folder to read; "" is INBOX.
	Mailbox  string
	Security Security
	// TLSConfig is used for TLS and STARTTLS; nil verifies the server's
	// certificate against the system's roots for the host of Addr.
	TLSConfig *tls.Config

	// DialTimeout bounds connecting, the greeting, TLS and login.
	// Zero: 30 s.
	DialTimeout time.Duration
	// CommandTimeout bounds each IMAP command. Zero: 2 min.
	CommandTimeout time.Duration
	// MaxMessageSize is the largest message Fetch loads. A larger one is
	// handed out with its UID and size only (TooLarge). Zero: 32 MiB,
	// room for Amazon's 10 MB of attachments once base64-encoded.
	MaxMessageSize int64
	// MaxBatchBytes bounds the sum of the messages one Fetch loads; the
	// first message is always loaded. Zero: 64 MiB.
	MaxBatchBytes int64
	// MaxWait is how long Wait waits for new mail before it returns nil
	// anyway (the caller then fetches, which also checks the connection).
	// It also restarts IDLE before servers drop idle clients (RFC 3501
	// allows 30 min). Zero: 10 min.
	MaxWait time.Duration
	// PollInterval is how often Wait looks for new mail when the server
	// has no IDLE. Zero: 1 min.
	PollInterval time.Duration
	// NoIdle polls even when the server offers IDLE, for servers whose
	// IDLE misbehaves.
	NoIdle bool
	// Reconnects is how many times an operation opens a new connection
	// after the old one failed, with a growing pause, before it gives up
	// with ErrUnavailable. Zero: 5 (about 3 s of pauses, enough for a
	// server restart); negative: none.
	Reconnects int
}

func (o *Options) defaults() {
	if o.Mailbox == "" {
		o.Mailbox = "INBOX"
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = 30 * time.Second
	}
	if o.CommandTimeout <= 0 {
		o.CommandTimeout = 2 * time.Minute
	}
	if o.MaxMessageSize <= 0 {
		o.MaxMessageSize = 32 << 20
	}
	if o.MaxBatchBytes <= 0 {
		o.MaxBatchBytes = 64 << 20
	}
	if o.MaxWait <= 0 {
		o.MaxWait = 10 * time.Minute
	}
	if o.PollInterval <= 0 {
		o.PollInterval = time.Minute
	}
	if o.Reconnects == 0 {
		o.Reconnects = 5
	}
}

// Cursor is a position in the mailbox: every message up to LastUID of
// UIDValidity has been handed out. The zero Cursor is the start of the
// mailbox.
type Cursor struct {
	UIDValidity uint32
	LastUID     uint32
}

// RawMessage is one message as the server stores it.
type RawMessage struct {
	UID          uint32
	UIDValidity  uint32
	InternalDate time.Time
	// Size is the message's size in octets, as the server reports it.
	Size int64
	// Raw is the whole message (RFC 5322), nil when TooLarge.
	Raw []byte
	// TooLarge says the message exceeds MaxMessageSize and was not loaded.
	// The cursor moves past it all the same: the caller records it (for
	// an admin, or a note on the ticket) rather than retrying it.
	TooLarge bool
	// Replayed says the mailbox's UIDVALIDITY changed since the cursor's,
	// so this message may have been handed out before under another UID:
	// the caller drops it if it already has its Message-ID.
	Replayed bool
}

// ErrTLSRequired is returned when the server offers no STARTTLS and the
// Box was not told to do without TLS. It unwraps to ErrForbidden: only a
// configuration change helps.
var ErrTLSRequired = fmt.Errorf("imapbox: the server offers no STARTTLS: %w", connectors.ErrForbidden)

// Box reads one mailbox. Fetch, Wait and Head are meant for one goroutine
// at a time (they are serialised); Close may be called from any goroutine
// and interrupts a Wait.
type Box struct {
	opts Options

	mu   sync.Mutex // serialises operations
	conn *conn      // nil when not connected

	closeOnce sync.Once
	closing   chan struct{}
}

// New returns a Box. It does not connect: the first operation does.
func New(opts Options) (*Box, error) {
	if opts.Addr == "" || opts.Username == "" {
		return nil, fmt.Errorf("imapbox: Addr and Username are required: %w", connectors.ErrInvalid)
	}
	opts.defaults()
	return &Box{opts: opts, closing: make(chan struct{})}, nil
}

// Close logs out and closes the connection. Operations after Close fail.
func (b *Box) Close() error {
	b.closeOnce.Do(func() { close(b.closing) })
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.conn != nil {
		b.conn.logout(b.opts.CommandTimeout)
		b.conn = nil
	}
	return nil
}

var errClosed = errors.New("imapbox: closed")

// conn is one logged-in connection with the mailbox selected.
type conn struct {
	c        *client.Client
	raw      *budgetConn
	mailbox  *imap.MailboxStatus
	idle     bool
	newMail  chan struct{} // has a value once the server announced mail
	lost     <-chan struct{}
	idleDone chan struct{} // closed when the update drainer has ended

	updates    chan client.Update
	marker     *client.StatusUpdate // our own, sent by settle
	markerSeen chan struct{}
}

func (cn *conn) alive() bool {
	select {
	case <-cn.lost:
		return false
	default:
		return true
	}
}

// close closes the socket and waits for the client's goroutines to end.
func (cn *conn) close() {
	cn.raw.Close()
	<-cn.lost
	<-cn.idleDone
}

// logout says goodbye politely, within timeout, then closes.
func (cn *conn) logout(timeout time.Duration) {
	if cn.alive() {
		cn.c.Timeout = timeout
		_ = cn.c.Logout()
	}
	cn.close()
}

// budgetConn cuts the connection when the server sends more than the
// budget allows while one is set: a server that sends a larger message
// than it announced must not make us load it.
type budgetConn struct {
	net.Conn
	budget atomic.Int64 // bytes left; only checked while limited
	limit  atomic.Bool
	over   atomic.Bool // the budget was exceeded and the socket closed
}

var errOverBudget = errors.New("imapbox: the server sent more than the size it announced")

func (c *budgetConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if c.limit.Load() && c.budget.Add(-int64(n)) < 0 {
		c.over.Store(true)
		c.Conn.Close()
		return n, errOverBudget
	}
	return n, err
}

func (c *budgetConn) setBudget(n int64) {
	c.budget.Store(n)
	c.limit.Store(true)
}

func (c *budgetConn) unlimit() { c.limit.Store(false) }

type discardLog struct{}

func (discardLog) Printf(string, ...interface{}) {}
func (discardLog) Println(...interface{})        {}

// dial connects, secures, logs in and selects the mailbox, all within
// DialTimeout and ctx.
func (b *Box) dial(ctx context.Context) (*conn, error) {
	o := &b.opts
	ctx, cancel := context.WithTimeout(ctx, o.DialTimeout)
	defer cancel()
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", o.Addr)
	if err != nil {
		return nil, fmt.Errorf("imapbox: connect: %w", connectors.TransportError(ctx, err))
	}
	deadline, _ := ctx.Deadline()
	_ = nc.SetDeadline(deadline)
	// The socket is closed if ctx ends during the handshake.
	stop := context.AfterFunc(ctx, func() { nc.Close() })
	defer stop()

	tlsConf := mailnet.TLSConfig(o.TLSConfig, o.Addr)

	raw := &budgetConn{Conn: nc}
	var under net.Conn = raw
	if o.Security == ImplicitTLS {
		tc := tls.Client(raw, tlsConf)
		if err := tc.HandshakeContext(ctx); err != nil {
			nc.Close()
			return nil, b.dialErr(ctx, "TLS handshake", err)
		}
		under = tc
	}
	c, err := client.New(under)
	if err != nil {
		nc.Close()
		return nil, b.dialErr(ctx, "greeting", err)
	}
	c.ErrorLog = discardLog{}
	c.Timeout = o.CommandTimeout
	updates := make(chan client.Update, 16)
	cn := &conn{
		c: c, raw: raw, lost: c.LoggedOut(),
		newMail: make(chan struct{}, 1), idleDone: make(chan struct{}),
		updates: updates, markerSeen: make(chan struct{}),
		marker: &client.StatusUpdate{Status: &imap.StatusResp{Info: "imapbox marker"}},
	}
	c.Updates = updates
	// Drain the server's unsolicited updates for the connection's life:
	// the client blocks while nobody reads them.
	go func() {
		defer close(cn.idleDone)
		for {
			select {
			case u := <-updates:
				if u == client.Update(cn.marker) {
					select {
					case cn.markerSeen <- struct{}{}:
					case <-cn.lost:
						return
					}
					continue
				}
				if _, ok := u.(*client.MailboxUpdate); ok {
					select {
					case cn.newMail <- struct{}{}:
					default:
					}
				}
			case <-cn.lost:
				return
			}
		}
	}()
	fail := func(what string, err error) (*conn, error) {
		cn.close()
		return nil, b.dialErr(ctx, what, err)
	}

	switch o.Security {
	case StartTLS:
		ok, err := c.SupportStartTLS()
		if err != nil {
			return fail("capability", err)
		}
		if !ok {
			cn.close()
			return nil, ErrTLSRequired
		}
		if err := c.StartTLS(tlsConf); err != nil {
			return fail("STARTTLS", err)
		}
	case ImplicitTLS, InsecureNoTLS:
	default:
		cn.close()
		return nil, fmt.Errorf("imapbox: unknown Security %d: %w", o.Security, connectors.ErrInvalid)
	}

	if err := c.Login(o.Username, o.Password); err != nil {
		if !cn.alive() {
			return fail("login", err)
		}
		cn.close()
		// The server's text may echo the user name: keep it out of errors.
		return nil, fmt.Errorf("imapbox: login refused: %w", connectors.ErrUnauthorized)
	}
	mb, err := c.Select(o.Mailbox, true)
	if err != nil {
		if !cn.alive() {
			return fail("select", err)
		}
		cn.close()
		return nil, fmt.Errorf("imapbox: select the mailbox: %w: %v", connectors.ErrNotFound, err)
	}
	cn.mailbox = mb
	cn.idle, err = c.Support("IDLE")
	if err != nil {
		return fail("capability", err)
	}
	cn.idle = cn.idle && !o.NoIdle
	_ = nc.SetDeadline(time.Time{})
	return cn, nil
}

func (b *Box) dialErr(ctx context.Context, what string, err error) error {
	if ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return ctx.Err()
	}
	var cve *tls.CertificateVerificationError
	if errors.As(err, &cve) {
		// Not the server being away: its certificate is not trusted.
		return fmt.Errorf("imapbox: %s: %w: %w", what, connectors.ErrForbidden, err)
	}
	return fmt.Errorf("imapbox: %s: %w: %w", what, connectors.ErrUnavailable, err)
}

// do runs op on a live connection. When the connection is lost during op,
// it connects again and runs op again (ops only read, so this is safe), up
// to Reconnects times. If ctx ends or the Box is closed during op, the
// connection is closed to interrupt it, unless op handles that itself
// (graceful).
func (b *Box) do(ctx context.Context, graceful bool, op func(ctx context.Context, cn *conn) error) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	select {
	case <-b.closing:
		return errClosed
	default:
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-b.closing:
			cancel()
		case <-ctx.Done():
		}
	}()

	var lastErr error
	pause := 100 * time.Millisecond
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			if b.opts.Reconnects < 0 || attempt > b.opts.Reconnects {
				return lastErr
			}
			t := time.NewTimer(pause)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return b.ctxErr(ctx)
			}
			pause = min(2*pause, 2*time.Second)
		}
		if b.conn != nil && !b.conn.alive() {
			b.conn.close()
			b.conn = nil
		}
		if b.conn == nil {
			cn, err := b.dial(ctx)
			if err != nil {
				if ctx.Err() != nil {
					return b.ctxErr(ctx)
				}
				if !errors.Is(err, connectors.ErrUnavailable) {
					return err // refused on its merits: another try cannot help
				}
				lastErr = err
				continue
			}
			b.conn = cn
		}
		cn := b.conn
		var stop func() bool
		if !graceful {
			stop = context.AfterFunc(ctx, func() { cn.raw.Close() })
		}
		err := op(ctx, cn)
		if stop != nil {
			stop()
		}
		if err == nil {
			// go-imap leaves the last command's deadline on the socket:
			// the connection would die of it while the caller is busy
			// between two operations.
			_ = cn.raw.SetDeadline(time.Time{})
			return nil
		}
		if ctx.Err() != nil {
			if !cn.alive() {
				cn.close()
				b.conn = nil
			}
			return b.ctxErr(ctx)
		}
		if cn.alive() {
			return err // the server answered NO or BAD: not a lost connection
		}
		cn.close()
		b.conn = nil
		if cn.raw.over.Load() {
			// Fetching again would load the same lie: the caller must
			// look at the mailbox (or raise MaxMessageSize).
			return fmt.Errorf("imapbox: %w: %w", connectors.ErrTooLarge, errOverBudget)
		}
		lastErr = fmt.Errorf("imapbox: connection lost: %w: %w", connectors.ErrUnavailable, err)
	}
}

func (b *Box) ctxErr(ctx context.Context) error {
	select {
	case <-b.closing:
		return errClosed
	default:
	}
	return context.Cause(ctx)
}

// Head returns the cursor at the end of the mailbox: a caller that starts
// with it skips the mail already there.
func (b *Box) Head(ctx context.Context) (Cursor, error) {
	var cur Cursor
	err := b.do(ctx, false, func(ctx context.Context, cn *conn) error {
		if err := b.refresh(cn); err != nil {
			return err
		}
		uids, err := cn.c.UidSearch(uidsFrom(1))
		if err != nil {
			return err
		}
		cur = Cursor{UIDValidity: cn.mailbox.UidValidity}
		for _, u := range uids {
			cur.LastUID = max(cur.LastUID, u)
		}
		return nil
	})
	return cur, err
}

// refresh brings the connection's view of the mailbox up to date by
// selecting it again. Cheaper commands do not do it: a search does not see
// mail the server has not announced yet (NOOP would fix that), and a
// session that has the mailbox selected is not told when it is replaced
// under it (a new UIDVALIDITY): Dovecot's STATUS then still answers from
// the old mailbox.
func (b *Box) refresh(cn *conn) error {
	mb, err := cn.c.Select(b.opts.Mailbox, true)
	if err != nil {
		if !cn.alive() {
			return err
		}
		return fmt.Errorf("imapbox: the mailbox is gone: %w: %v", connectors.ErrNotFound, err)
	}
	cn.mailbox = mb
	return nil
}

func uidsFrom(first uint32) *imap.SearchCriteria {
	s := new(imap.SeqSet)
	s.AddRange(first, 0) // first:*
	return &imap.SearchCriteria{Uid: s}
}

// newUIDs lists the UIDs after cur, in order. "n:*" always matches the
// highest UID, even below n (RFC 3501 §6.4.8): those are filtered out.
func newUIDs(cn *conn, cur Cursor) ([]uint32, error) {
	last := cur.LastUID
	if cur.UIDValidity != cn.mailbox.UidValidity {
		last = 0
	}
	uids, err := cn.c.UidSearch(uidsFrom(last + 1))
	if err != nil {
		return nil, err
	}
	out := uids[:0]
	for _, u := range uids {
		if u > last {
			out = append(out, u)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out, nil
}

// Fetch returns up to limit messages after cur, oldest UID first, and the
// cursor to store once the caller has handled them. With no new mail it
// returns no messages and next == cur (or the new UIDVALIDITY's start).
// A message expunged meanwhile is skipped.
func (b *Box) Fetch(ctx context.Context, cur Cursor, limit int) (msgs []RawMessage, next Cursor, err error) {
	if limit <= 0 {
		limit = 100
	}
	err = b.do(ctx, false, func(ctx context.Context, cn *conn) error {
		msgs, next = nil, cur
		if err := b.refresh(cn); err != nil {
			return err
		}
		replay := cur.UIDValidity != 0 && cur.UIDValidity != cn.mailbox.UidValidity
		if cur.UIDValidity != cn.mailbox.UidValidity {
			next = Cursor{UIDValidity: cn.mailbox.UidValidity}
		}
		uids, err := newUIDs(cn, cur)
		if err != nil {
			return err
		}
		if len(uids) > limit {
			uids = uids[:limit]
		}
		if len(uids) == 0 {
			return nil
		}
		meta, err := fetchMeta(cn, uids)
		if err != nil {
			return err
		}
		// Choose what to load: within MaxMessageSize, and within
		// MaxBatchBytes (the first message always).
		var load []uint32
		var total int64
		for i := range meta {
			m := &meta[i]
			m.UIDValidity = cn.mailbox.UidValidity
			m.Replayed = replay
			if m.Size > b.opts.MaxMessageSize {
				m.TooLarge = true
				continue
			}
			if len(load) > 0 && total+m.Size > b.opts.MaxBatchBytes {
				meta = meta[:i] // the rest waits for the next Fetch
				break
			}
			load = append(load, m.UID)
			total += m.Size
		}
		bodies, err := b.fetchBodies(cn, load, total)
		if err != nil {
			return err
		}
		for _, m := range meta {
			if !m.TooLarge {
				raw, ok := bodies[m.UID]
				if !ok {
					continue // expunged meanwhile
				}
				m.Raw = raw
			}
			msgs = append(msgs, m)
		}
		if len(meta) > 0 {
			next.LastUID = meta[len(meta)-1].UID
		}
		return nil
	})
	if err != nil {
		return nil, cur, err
	}
	return msgs, next, nil
}

// fetchMeta reads the UIDs' sizes and dates, in UID order.
func fetchMeta(cn *conn, uids []uint32) ([]RawMessage, error) {
	set := new(imap.SeqSet)
	set.AddNum(uids...)
	ch := make(chan *imap.Message, 16)
	var out []RawMessage
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m := range ch {
			out = append(out, RawMessage{UID: m.Uid, InternalDate: m.InternalDate, Size: int64(m.Size)})
		}
	}()
	err := cn.c.UidFetch(set, []imap.FetchItem{imap.FetchUid, imap.FetchRFC822Size, imap.FetchInternalDate}, ch)
	<-done
	if err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool { return out[i].UID < out[j].UID })
	return out, nil
}

// fetchBodies loads the messages whole. The connection may carry no more
// than their announced sizes plus room for the protocol around them.
func (b *Box) fetchBodies(cn *conn, uids []uint32, total int64) (map[uint32][]byte, error) {
	out := make(map[uint32][]byte, len(uids))
	if len(uids) == 0 {
		return out, nil
	}
	set := new(imap.SeqSet)
	set.AddNum(uids...)
	section := &imap.BodySectionName{Peek: true}
	ch := make(chan *imap.Message, 4)
	done := make(chan error, 1)
	go func() {
		var first error
		for m := range ch {
			lit := m.GetBody(section)
			if lit == nil || first != nil {
				continue
			}
			// The literal is already in memory; its length was bounded by
			// the connection's budget.
			raw, err := io.ReadAll(io.LimitReader(lit, b.opts.MaxMessageSize+1))
			if err != nil {
				first = err
				continue
			}
			out[m.Uid] = raw
		}
		done <- first
	}()
	// Room for the FETCH responses' syntax and, under TLS, the records'
	// overhead (the budget counts the bytes on the wire).
	cn.raw.setBudget(total + total/32 + 64<<10 + int64(len(uids))*1024)
	err := cn.c.UidFetch(set, []imap.FetchItem{imap.FetchUid, section.FetchItem()}, ch)
	cn.raw.unlimit()
	if rerr := <-done; err == nil {
		err = rerr
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Wait returns when there may be mail after cur: at once if there is
// already, when the server announces new mail (IDLE), when a poll finds
// some (servers without IDLE), or after MaxWait in any case. It returns
// nil in all those cases: the caller fetches next. It returns ctx's error
// when ctx ends, and ErrUnavailable when the server stays unreachable.
func (b *Box) Wait(ctx context.Context, cur Cursor) error {
	deadline := time.Now().Add(b.opts.MaxWait)
	return b.do(ctx, true, func(ctx context.Context, cn *conn) error {
		for {
			if err := b.refresh(cn); err != nil {
				return err
			}
			// Announcements made until now, the reselection's included,
			// are stale: only later ones may end the wait.
			if err := cn.settle(); err != nil {
				return err
			}
			if cur.UIDValidity != 0 && cur.UIDValidity != cn.mailbox.UidValidity {
				return nil // Fetch replays the mailbox
			}
			uids, err := newUIDs(cn, cur)
			if err != nil || len(uids) > 0 {
				return err
			}
			left := time.Until(deadline)
			if left <= 0 {
				return nil
			}
			if cn.idle {
				err = b.idle(ctx, cn, left)
			} else {
				err = b.sleep(ctx, cn, min(left, b.opts.PollInterval))
			}
			if err != nil {
				return err
			}
			// Look again: an announcement is not always new mail.
		}
	})
}

// settle waits until the update drainer has handled every update the
// client received so far, then forgets the announcements of new mail. A
// marker sent behind them tells when.
func (cn *conn) settle() error {
	select {
	case cn.updates <- cn.marker:
	case <-cn.lost:
		return errors.New("imapbox: disconnected")
	}
	select {
	case <-cn.markerSeen:
	case <-cn.lost:
		return errors.New("imapbox: disconnected")
	}
	select {
	case <-cn.newMail:
	default:
	}
	return nil
}

// idle runs IDLE until the server announces mail, wait passes or ctx
// ends, then ends IDLE cleanly (DONE), within CommandTimeout.
func (b *Box) idle(ctx context.Context, cn *conn, wait time.Duration) error {
	stop := make(chan struct{})
	done := make(chan error, 1)
	cn.c.Timeout = 0 // IDLE lasts; its end is bounded below
	go func() { done <- cn.c.Idle(stop, &client.IdleOptions{LogoutTimeout: -1}) }()
	timer := time.NewTimer(wait)
	defer timer.Stop()
	var err error
	ended := false
	select {
	case <-cn.newMail:
	case <-timer.C:
	case <-ctx.Done():
	case err = <-done:
		ended = true
	}
	close(stop) // also ends go-imap's goroutine that waits to send DONE
	if !ended {
		t := time.NewTimer(b.opts.CommandTimeout)
		select {
		case err = <-done:
		case <-t.C:
			cn.raw.Close() // the server does not answer DONE
			err = <-done
		}
		t.Stop()
	}
	cn.c.Timeout = b.opts.CommandTimeout
	if err == nil && !cn.alive() {
		err = errors.New("imapbox: disconnected while idling")
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// sleep waits for the next poll, for servers without IDLE.
func (b *Box) sleep(ctx context.Context, cn *conn, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-cn.lost:
		return errors.New("imapbox: disconnected while polling")
	}
}
