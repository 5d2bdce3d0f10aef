// Package smtpout sends agents' replies by SMTP submission, from the one
// sender address a marketplace registered (Amazon refuses mail from any
// other), as plain text threaded with In-Reply-To and References.
//
// Sending is in two steps so that the caller can record the Message-ID
// before the mail leaves: Compose builds the message and its Message-ID,
// SendRaw submits it. Send does both.
//
// Errors unwrap to the connectors vocabulary:
//   - a 4xx answer, or no connection, is ErrUnavailable: nothing was
//     accepted, sending again is safe;
//   - a 5xx answer is permanent (ErrUnauthorized, ErrTooLarge,
//     ErrForbidden or ErrInvalid): sending again cannot help;
//   - losing the connection once the end of the message may have reached
//     the server is ErrUncertain: the server may have accepted it. Sending
//     the same composed message again (same Message-ID) lets the receiver
//     and the mailbox reader recognise the duplicate.
package smtpout

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"strings"
	"time"

	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/helpdesk-bridge/bridge/connectors"
	"github.com/helpdesk-bridge/bridge/connectors/email/mailnet"
)

// Security is how the connection to the submission server is protected.
type Security int

const (
	// StartTLS connects in clear text and upgrades with STARTTLS before
	// anything else (port 587). A server without STARTTLS is refused.
	StartTLS Security = iota
	// ImplicitTLS speaks TLS from the first byte (port 465).
	ImplicitTLS
	// InsecureNoTLS sends everything, password included, in clear text.
	// Only for local tests.
	InsecureNoTLS
)

// Options configures a Sender. Addr and From are required.
type Options struct {
	Addr      string // host:port of the submission server
	Security  Security
	TLSConfig *tls.Config // nil: the system's roots, for Addr's host
	// Username and Password authenticate with AUTH PLAIN; an empty
	// Username sends without authenticating.
	Username, Password string
	// From is the registered sender address: every message goes out from
	// it, envelope and header alike.
	From mail.Address
	// HeloName is the name given in EHLO. "": From's domain.
	HeloName string
	// MaxMessageSize bounds a composed message, encoding included. Zero:
	// 20 MiB, room for Amazon's 10 MB of attachments once base64-encoded.
	MaxMessageSize int64
	// DialTimeout bounds connecting and TLS; CommandTimeout each command;
	// SubmissionTimeout the wait for the answer to the whole message.
	// Zero: 30 s, 1 min, 5 min.
	DialTimeout, CommandTimeout, SubmissionTimeout time.Duration
	// Now is the clock for the Date header. nil: time.Now.
	Now func() time.Time
}

// Reply is an agent's answer.
type Reply struct {
	To      []mail.Address // the marketplace's relay alias
	Subject string
	Text    string // plain text; the only body part
	// InReplyTo is the Message-ID of the message answered, with or without
	// angle brackets. References are the ones that message carried; the
	// answered Message-ID is added after them.
	InReplyTo   string
	References  []string
	Attachments []Attachment
}

// Attachment is a file sent along.
type Attachment struct {
	Filename    string
	ContentType string // "": application/octet-stream
	Data        []byte
}

// Message is a composed message, ready to send.
type Message struct {
	// MessageID is the message's Message-ID, without angle brackets.
	MessageID string
	From      string   // envelope sender
	To        []string // envelope recipients
	Raw       []byte
}

// Sender sends mail through one submission server.
type Sender struct {
	opts Options
	helo string
}

// New returns a Sender.
func New(opts Options) (*Sender, error) {
	if opts.Addr == "" || opts.From.Address == "" {
		return nil, fmt.Errorf("smtpout: Addr and From are required: %w", connectors.ErrInvalid)
	}
	if !validAddress(opts.From.Address) {
		return nil, fmt.Errorf("smtpout: From is not an address: %w", connectors.ErrInvalid)
	}
	if opts.MaxMessageSize <= 0 {
		opts.MaxMessageSize = 20 << 20
	}
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = 30 * time.Second
	}
	if opts.CommandTimeout <= 0 {
		opts.CommandTimeout = time.Minute
	}
	if opts.SubmissionTimeout <= 0 {
		opts.SubmissionTimeout = 5 * time.Minute
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	helo := opts.HeloName
	if helo == "" {
		helo = domainOf(opts.From.Address)
	}
	return &Sender{opts: opts, helo: helo}, nil
}

func domainOf(addr string) string {
	return addr[strings.LastIndexByte(addr, '@')+1:]
}

var addrRE = regexp.MustCompile(`^[^\s@<>()\[\],;:"\\]+@[A-Za-z0-9.-]+$`)

func validAddress(a string) bool { return len(a) <= 254 && addrRE.MatchString(a) }

// msgIDRE is what we accept as a Message-ID, brackets stripped: no spaces,
// no brackets, one @.
var msgIDRE = regexp.MustCompile(`^[^\s<>@]+@[^\s<>@]+$`)

func cleanMsgID(id string) (string, bool) {
	id = strings.TrimSpace(id)
	id = strings.TrimPrefix(id, "<")
	id = strings.TrimSuffix(id, ">")
	return id, len(id) <= 250 && msgIDRE.MatchString(id)
}

// oneLine keeps header text on one line: a line break in a subject or a
// file name would start a header of the sender's choosing.
func oneLine(s string) string {
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r == '\r' || r == '\n' }), " ")
}

// maxReferences bounds the References header: the first (the thread's
// root) and the most recent, as RFC 5322 §3.6.4 allows trimming.
const maxReferences = 20

// Send composes r and submits it. It returns the message, whose MessageID
// the caller records, also when the error is ErrUncertain.
func (s *Sender) Send(ctx context.Context, r Reply) (Message, error) {
	m, err := s.Compose(r)
	if err != nil {
		return Message{}, err
	}
	return m, s.SendRaw(ctx, m)
}

// Compose builds r as a message from the registered sender, with a new
// Message-ID.
func (s *Sender) Compose(r Reply) (Message, error) {
	if len(r.To) == 0 {
		return Message{}, fmt.Errorf("smtpout: no recipient: %w", connectors.ErrInvalid)
	}
	var to []string
	var toHdr []*mail.Address
	for i := range r.To {
		if !validAddress(r.To[i].Address) {
			return Message{}, fmt.Errorf("smtpout: recipient %d is not an address: %w", i, connectors.ErrInvalid)
		}
		to = append(to, r.To[i].Address)
		toHdr = append(toHdr, &mail.Address{Name: oneLine(r.To[i].Name), Address: r.To[i].Address})
	}
	var refs []string
	for _, ref := range r.References {
		if id, ok := cleanMsgID(ref); ok {
			refs = append(refs, id)
		}
	}
	var h mail.Header
	if r.InReplyTo != "" {
		parent, ok := cleanMsgID(r.InReplyTo)
		if !ok {
			return Message{}, fmt.Errorf("smtpout: In-Reply-To is not a Message-ID: %w", connectors.ErrInvalid)
		}
		if len(refs) == 0 || refs[len(refs)-1] != parent {
			refs = append(refs, parent)
		}
		h.SetMsgIDList("In-Reply-To", []string{parent})
	}
	if len(refs) > maxReferences {
		refs = append(refs[:1], refs[len(refs)-maxReferences+1:]...)
	}
	h.SetMsgIDList("References", refs)

	id, err := newMessageID(domainOf(s.opts.From.Address))
	if err != nil {
		return Message{}, err
	}
	from := s.opts.From
	from.Name = oneLine(from.Name)
	h.SetDate(s.opts.Now())
	h.SetAddressList("From", []*mail.Address{&from})
	h.SetAddressList("To", toHdr)
	h.SetSubject(oneLine(r.Subject))
	h.SetMessageID(id)
	h.Set("MIME-Version", "1.0")

	var buf bytes.Buffer
	limited := &limitWriter{w: &buf, n: s.opts.MaxMessageSize}
	if err := s.writeBody(limited, h, r); err != nil {
		if errors.Is(err, errTooLarge) {
			return Message{}, fmt.Errorf("smtpout: the message exceeds %d bytes: %w", s.opts.MaxMessageSize, connectors.ErrTooLarge)
		}
		return Message{}, fmt.Errorf("smtpout: compose: %w", err)
	}
	return Message{MessageID: id, From: s.opts.From.Address, To: to, Raw: buf.Bytes()}, nil
}

func (s *Sender) writeBody(w io.Writer, h mail.Header, r Reply) error {
	text := strings.ReplaceAll(r.Text, "\r\n", "\n")
	text = strings.ReplaceAll(text, "\n", "\r\n")
	var th mail.InlineHeader
	th.SetContentType("text/plain", map[string]string{"charset": "utf-8"})
	th.Set("Content-Transfer-Encoding", "quoted-printable")
	if len(r.Attachments) == 0 {
		h.SetContentType("text/plain", map[string]string{"charset": "utf-8"})
		h.Set("Content-Transfer-Encoding", "quoted-printable")
		tw, err := mail.CreateSingleInlineWriter(w, h)
		if err != nil {
			return err
		}
		if _, err := io.WriteString(tw, text); err != nil {
			return err
		}
		return tw.Close()
	}
	mw, err := mail.CreateWriter(w, h)
	if err != nil {
		return err
	}
	tw, err := mw.CreateSingleInline(th)
	if err != nil {
		return err
	}
	if _, err := io.WriteString(tw, text); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	for _, a := range r.Attachments {
		var ah mail.AttachmentHeader
		ct := a.ContentType
		if ct == "" {
			ct = "application/octet-stream"
		}
		ah.SetContentType(oneLine(ct), nil)
		ah.SetFilename(oneLine(a.Filename))
		aw, err := mw.CreateAttachment(ah)
		if err != nil {
			return err
		}
		if _, err := aw.Write(a.Data); err != nil {
			return err
		}
		if err := aw.Close(); err != nil {
			return err
		}
	}
	return mw.Close()
}

var errTooLarge = errors.New("too large")

type limitWriter struct {
	w io.Writer
	n int64
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if int64(len(p)) > l.n {
		return 0, errTooLarge
	}
	l.n -= int64(len(p))
	return l.w.Write(p)
}

func newMessageID(domain string) (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(b[:]) + "@" + domain, nil
}

// SendRaw submits a composed message on a connection of its own.
func (s *Sender) SendRaw(ctx context.Context, m Message) (err error) {
	if int64(len(m.Raw)) > s.opts.MaxMessageSize {
		return fmt.Errorf("smtpout: the message exceeds %d bytes: %w", s.opts.MaxMessageSize, connectors.ErrTooLarge)
	}
	c, err := s.connect(ctx)
	if err != nil {
		return err
	}
	// Whatever happens, the connection is closed; ctx ending closes it at
	// once, which interrupts any command.
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer func() {
		stop()
		c.Close()
	}()
	fail := func(stage string, err error) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return classify(stage, err)
	}

	if max, ok := c.MaxMessageSize(); ok && max > 0 && len(m.Raw) > max {
		_ = c.Quit()
		return fmt.Errorf("smtpout: the server takes at most %d bytes: %w", max, connectors.ErrTooLarge)
	}
	opts := &smtp.MailOptions{Size: int64(len(m.Raw))}
	if err := c.Mail(m.From, opts); err != nil {
		return fail("MAIL FROM", err)
	}
	for _, to := range m.To {
		if err := c.Rcpt(to, nil); err != nil {
			return fail("RCPT TO", err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return fail("DATA", err)
	}
	if _, err := w.Write(m.Raw); err != nil {
		// The message is incomplete: the server cannot have taken it.
		return fail("DATA", err)
	}
	// From here on, the final dot may reach the server: an answer that
	// does not come back leaves the outcome unknown.
	if _, err := w.CloseWithResponse(); err != nil {
		var se *smtp.SMTPError
		if errors.As(err, &se) {
			return classify("end of DATA", err)
		}
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return fmt.Errorf("smtpout: end of DATA: %w", connectors.Uncertain(fmt.Errorf("%w: %w", connectors.ErrUnavailable, err)))
	}
	_ = c.Quit() // the message is accepted; a failed goodbye changes nothing
	return nil
}

// connect dials, secures, greets and authenticates.
func (s *Sender) connect(ctx context.Context) (*smtp.Client, error) {
	o := &s.opts
	dctx, cancel := context.WithTimeout(ctx, o.DialTimeout)
	defer cancel()
	var d net.Dialer
	nc, err := d.DialContext(dctx, "tcp", o.Addr)
	if err != nil {
		return nil, fmt.Errorf("smtpout: connect: %w", connectors.TransportError(ctx, err))
	}
	deadline, _ := dctx.Deadline()
	_ = nc.SetDeadline(deadline)
	stop := context.AfterFunc(dctx, func() { nc.Close() })
	defer stop()

	tlsConf := mailnet.TLSConfig(o.TLSConfig, o.Addr)
	fail := func(stage string, err error) (*smtp.Client, error) {
		nc.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, classify(stage, err)
	}

	var c *smtp.Client
	switch o.Security {
	case ImplicitTLS:
		tc := tls.Client(nc, tlsConf)
		if err := tc.HandshakeContext(dctx); err != nil {
			return fail("TLS handshake", err)
		}
		c = smtp.NewClient(tc)
		if err := c.Hello(s.helo); err != nil {
			return fail("EHLO", err)
		}
	case StartTLS:
		// go-smtp upgrades within its first EHLO, named "localhost"; the
		// EHLO after TLS gives our name.
		c, err = smtp.NewClientStartTLS(nc, tlsConf)
		if err != nil {
			var se *smtp.SMTPError
			var ne net.Error
			if !errors.As(err, &se) && !errors.As(err, &ne) && !errors.Is(err, io.EOF) {
				nc.Close()
				return nil, fmt.Errorf("smtpout: STARTTLS: %w: %v", connectors.ErrForbidden, err)
			}
			return fail("STARTTLS", err)
		}
		if err := c.Hello(s.helo); err != nil {
			return fail("EHLO", err)
		}
	case InsecureNoTLS:
		c = smtp.NewClient(nc)
		if err := c.Hello(s.helo); err != nil {
			return fail("EHLO", err)
		}
	default:
		nc.Close()
		return nil, fmt.Errorf("smtpout: unknown Security %d: %w", o.Security, connectors.ErrInvalid)
	}
	c.CommandTimeout = o.CommandTimeout
	c.SubmissionTimeout = o.SubmissionTimeout
	if o.Username != "" {
		if ok := c.SupportsAuth("PLAIN"); !ok {
			nc.Close()
			return nil, fmt.Errorf("smtpout: the server offers no AUTH PLAIN: %w", connectors.ErrForbidden)
		}
		if err := c.Auth(sasl.NewPlainClient("", o.Username, o.Password)); err != nil {
			return fail("AUTH", err)
		}
	}
	_ = nc.SetDeadline(time.Time{})
	return c, nil
}

// Error is the server refusing a command.
type Error struct {
	Stage    string // "MAIL FROM", "RCPT TO", "end of DATA", ...
	Code     int
	Enhanced [3]int
	// Message is the server's text with addresses taken out: refusals
	// often quote the recipient, and errors get logged.
	Message string
	Kind    error
}

func (e *Error) Error() string {
	return fmt.Sprintf("smtpout: %s: %d %d.%d.%d %s: %v", e.Stage, e.Code, e.Enhanced[0], e.Enhanced[1], e.Enhanced[2], e.Message, e.Kind)
}

func (e *Error) Unwrap() error { return e.Kind }

// Temporary tells whether the server said to try again later (4xx).
func (e *Error) Temporary() bool { return e.Code/100 == 4 }

var addrInText = regexp.MustCompile(`<?[^\s<>@]+@[^\s<>]+>?`)

// classify maps a failure before the message could have been accepted.
func classify(stage string, err error) error {
	var se *smtp.SMTPError
	if !errors.As(err, &se) {
		var cve *tls.CertificateVerificationError
		if errors.As(err, &cve) {
			return fmt.Errorf("smtpout: %s: the server's certificate is not trusted: %w: %w", stage, connectors.ErrForbidden, err)
		}
		return fmt.Errorf("smtpout: %s: %w: %w", stage, connectors.ErrUnavailable, err)
	}
	e := &Error{Stage: stage, Code: se.Code, Enhanced: se.EnhancedCode, Message: addrInText.ReplaceAllString(se.Message, "<address>")}
	switch {
	case se.Code/100 == 4:
		e.Kind = connectors.ErrUnavailable
	case se.Code == 530 || se.Code == 534 || se.Code == 535 || se.Code == 538:
		e.Kind = connectors.ErrUnauthorized
	case se.Code == 552 || se.EnhancedCode == smtp.EnhancedCode{5, 3, 4}:
		e.Kind = connectors.ErrTooLarge
	case se.EnhancedCode[0] == 5 && se.EnhancedCode[1] == 7:
		e.Kind = connectors.ErrForbidden // policy: sender or recipient not allowed
	default:
		e.Kind = connectors.ErrInvalid
	}
	return e
}
