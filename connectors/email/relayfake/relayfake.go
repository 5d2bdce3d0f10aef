// Package relayfake is an SMTP server that plays Amazon's buyer-seller
// messaging relay for tests: the seller's replies go to it, it keeps those
// Amazon would deliver, and for those Amazon would refuse it puts a
// delivery-failure notice in the seller's mailbox, over IMAP.
//
// The rules come from the shared marketplace reference (Amazon §2 and
// "Amazon: buyer-seller messages by email"). Where the reference is silent
// the fake takes the strict side, and says so with UNVERIFIED:
//   - Only the registered sender and the approved ("Messaging
//     Permissions") addresses may write; other senders' mail is refused.
//     Verified (help 201054220). That the refusal comes back as a bounce
//     mail rather than an SMTP rejection: UNVERIFIED.
//   - Attachments up to 10 MB (help 200389080). Whether per attachment or
//     in all: UNVERIFIED; the fake counts all of a message's attachments,
//     decoded.
//   - Allowed attachment types: UNVERIFIED (the list did not render in the
//     retrieved copies). The fake takes a short list of common document and
//     image types (DefaultAllowedTypes).
//   - Plain text only, HTML blocked: secondary sources only, UNVERIFIED.
//     The fake refuses HTML parts.
//   - A buyer who opted out gets no unsolicited mail: a bounce comes back,
//     unless the subject has "[Important]" (any case) or the mail answers
//     the buyer's thread (G200383320). The fake takes In-Reply-To as
//     "answers the thread".
//   - The whole message's size limit: UNVERIFIED; the fake takes 10 MB of
//     attachments base64-encoded plus room for the text (MaxMessageBytes).
//   - The notice's exact text and headers: UNVERIFIED. Its first sentence,
//     "We were unable to deliver the message you sent", is a fingerprint a
//     public classifier uses (secondary). See bounce.go.
//
// Mail to an address that is not a relay alias is refused in the SMTP
// session (550 5.1.1), as would any mail server for an unknown mailbox.
package relayfake

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// MaxAttachmentBytes is Amazon's attachment limit (help 200389080).
const MaxAttachmentBytes = 10 << 20

// MaxMessageBytes is the fake's SIZE limit: the attachments base64-encoded
// (4/3) and 1 MiB for the text and headers. UNVERIFIED.
const MaxMessageBytes = MaxAttachmentBytes*4/3 + 1<<20

// DefaultAllowedTypes are the attachment types the fake lets through.
// UNVERIFIED: Amazon's list was not retrieved; these are the usual
// documents and images of a customer-service reply.
var DefaultAllowedTypes = []string{
	"application/pdf",
	"image/jpeg",
	"image/png",
	"image/gif",
	"text/plain",
}

// AliasRE is a buyer relay alias: the form one public tool checks, with
// the "+case-uuid" form of the 2026 samples allowed (secondary).
var AliasRE = regexp.MustCompile(`^[a-z0-9]{8,32}(\+[a-z0-9-]{1,64})?@marketplace\.amazon\.(com\.au|com\.be|com\.br|com\.mx|com\.tr|co\.jp|co\.uk|com|ae|ca|de|eg|es|fr|ie|in|it|nl|pl|sa|se|sg)$`)

// IMAPTarget is the mailbox the notices go to: the seller's.
type IMAPTarget struct {
	Addr               string // host:port, IMAPS (implicit TLS)
	Username, Password string
	Mailbox            string // "": INBOX
	TLSConfig          *tls.Config
}

// Config configures the fake. Everything may be left empty but
// RegisteredSenders.
type Config struct {
	Addr string // listen address; "": 127.0.0.1:0
	// Users are the AUTH PLAIN logins; empty: no authentication asked.
	Users map[string]string
	// RegisteredSenders are the registered and approved sender addresses.
	RegisteredSenders []string
	// Aliases are the buyers' aliases that exist; nil: any address of the
	// alias form.
	Aliases []string
	// AliasForm is the form of another relay's aliases, for a marketplace
	// that relays like Amazon; nil: Amazon's, AliasRE.
	AliasForm *regexp.Regexp
	// OptedOut are aliases of buyers who refuse unsolicited messages.
	OptedOut []string
	// AllowedTypes: nil means DefaultAllowedTypes.
	AllowedTypes []string
	// MaxAttachmentBytes and MaxMessageBytes: zero means the constants.
	MaxAttachmentBytes, MaxMessageBytes int64
	// Bounces is where delivery-failure notices go; nil: recorded only.
	Bounces *IMAPTarget
	// TLS is the certificate offered with STARTTLS; nil: a self-signed
	// one for 127.0.0.1 and localhost, trusted by CertPool.
	TLS *tls.Config
	// ImplicitTLS speaks TLS from the first byte (port 465 style) instead
	// of offering STARTTLS.
	ImplicitTLS bool
	// Now is the clock of the notices' dates. nil: time.Now.
	Now func() time.Time
}

// Accepted is a message the relay would deliver to the buyer.
type Accepted struct {
	From        string // envelope
	To          []string
	Raw         []byte
	MessageID   string
	InReplyTo   string
	References  string
	Subject     string
	Text        string // the text/plain part, decoded
	Attachments []Attachment
}

// Attachment describes an attachment of an accepted message.
type Attachment struct {
	Filename, ContentType string
	Size                  int64 // decoded
}

// Refusal is a message the relay accepted in the SMTP session but would
// not deliver: a notice went back to the seller.
type Refusal struct {
	From   string
	To     []string
	Reason Reason
	Detail string
	// Notice is the delivery-failure mail; BounceErr says why it could
	// not be put in the seller's mailbox, if it could not.
	Notice    []byte
	BounceErr error
}

// Reason is why the relay refused a message.
type Reason string

const (
	ReasonSender         Reason = "sender-not-registered"
	ReasonAttachmentType Reason = "attachment-type"
	ReasonAttachmentSize Reason = "attachment-size"
	ReasonHTML           Reason = "html"
	ReasonOptedOut       Reason = "buyer-opted-out"
	ReasonMalformed      Reason = "malformed"
)

// Fault is a failure the fake plays on the next message, for tests of
// the sender's error handling.
type Fault int

const (
	NoFault Fault = iota
	// TempFail answers the end of DATA with 451: try again later.
	TempFail
	// DropAfterData reads the whole message, then closes the connection
	// without answering: the sender cannot know whether it was accepted.
	// The fake does not keep the message.
	DropAfterData
)

// Server is a running fake.
type Server struct {
	cfg  Config
	srv  *smtp.Server
	ln   net.Listener
	pool *x509.CertPool
	done chan struct{}

	mu       sync.Mutex
	accepted []Accepted
	refused  []Refusal
	fault    Fault
	changed  chan struct{} // closed and replaced on each new record
}

// Start listens and serves until Close.
func Start(cfg Config) (*Server, error) {
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	if cfg.AllowedTypes == nil {
		cfg.AllowedTypes = DefaultAllowedTypes
	}
	if cfg.MaxAttachmentBytes <= 0 {
		cfg.MaxAttachmentBytes = MaxAttachmentBytes
	}
	if cfg.MaxMessageBytes <= 0 {
		cfg.MaxMessageBytes = MaxMessageBytes
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Server{cfg: cfg, done: make(chan struct{}), changed: make(chan struct{})}
	tlsConf := cfg.TLS
	if tlsConf == nil {
		cert, pool, err := selfSigned()
		if err != nil {
			return nil, err
		}
		tlsConf = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		s.pool = pool
	}
	s.srv = smtp.NewServer(smtp.BackendFunc(s.newSession))
	s.srv.Domain = "relay.test"
	s.srv.TLSConfig = tlsConf
	s.srv.MaxMessageBytes = cfg.MaxMessageBytes
	s.srv.MaxRecipients = 10
	s.srv.ReadTimeout = time.Minute
	s.srv.WriteTimeout = time.Minute
	s.srv.ErrorLog = discardLog{}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, err
	}
	if cfg.ImplicitTLS {
		ln = tls.NewListener(ln, tlsConf)
	}
	s.ln = ln
	go func() {
		defer close(s.done)
		_ = s.srv.Serve(ln)
	}()
	return s, nil
}

type discardLog struct{}

func (discardLog) Printf(string, ...interface{}) {}
func (discardLog) Println(...interface{})        {}

// Addr is the address the fake listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// CertPool trusts the fake's own certificate (nil when Config.TLS was
// given).
func (s *Server) CertPool() *x509.CertPool { return s.pool }

// Close stops the server and its sessions.
func (s *Server) Close() error {
	err := s.srv.Close()
	// go-smtp learns of the listener only once Serve runs: a Close right
	// after Start would leave it open, and Serve waiting for ever.
	s.ln.Close()
	<-s.done
	return err
}

// SetFault plays f on the next message.
func (s *Server) SetFault(f Fault) {
	s.mu.Lock()
	s.fault = f
	s.mu.Unlock()
}

// Accepted returns the messages accepted so far.
func (s *Server) Accepted() []Accepted {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Accepted(nil), s.accepted...)
}

// Refused returns the messages refused so far.
func (s *Server) Refused() []Refusal {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Refusal(nil), s.refused...)
}

// WaitFor waits until at least accepted and refused messages are
// recorded, or ctx ends.
func (s *Server) WaitFor(ctx context.Context, accepted, refused int) error {
	for {
		s.mu.Lock()
		ok := len(s.accepted) >= accepted && len(s.refused) >= refused
		ch := s.changed
		s.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (s *Server) record(f func()) {
	s.mu.Lock()
	f()
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
}

func (s *Server) takeFault() Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.fault
	s.fault = NoFault
	return f
}

func (s *Server) newSession(c *smtp.Conn) (smtp.Session, error) {
	return &session{s: s, conn: c, authed: len(s.cfg.Users) == 0}, nil
}

type session struct {
	s      *Server
	conn   *smtp.Conn
	authed bool
	from   string
	to     []string
}

var _ smtp.AuthSession = (*session)(nil)

func (se *session) AuthMechanisms() []string { return []string{sasl.Plain} }

func (se *session) Auth(mech string) (sasl.Server, error) {
	if mech != sasl.Plain {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return sasl.NewPlainServer(func(identity, username, password string) error {
		want, ok := se.s.cfg.Users[username]
		if !ok || want != password || (identity != "" && identity != username) {
			return smtp.ErrAuthFailed
		}
		se.authed = true
		return nil
	}), nil
}

func (se *session) Mail(from string, _ *smtp.MailOptions) error {
	if !se.authed {
		return smtp.ErrAuthRequired
	}
	se.from = from
	return nil
}

func (se *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if !se.authed {
		return smtp.ErrAuthRequired
	}
	if !se.s.knownAlias(to) {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such relay address"}
	}
	se.to = append(se.to, to)
	return nil
}

func (s *Server) knownAlias(to string) bool {
	to = strings.ToLower(to)
	if s.cfg.Aliases == nil {
		if s.cfg.AliasForm != nil {
			return s.cfg.AliasForm.MatchString(to)
		}
		return AliasRE.MatchString(to)
	}
	for _, a := range s.cfg.Aliases {
		if strings.EqualFold(a, to) {
			return true
		}
	}
	return false
}

func (se *session) Data(r io.Reader) error {
	if !se.authed {
		return smtp.ErrAuthRequired
	}
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	switch se.s.takeFault() {
	case TempFail:
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Try again later"}
	case DropAfterData:
		se.conn.Conn().Close()
		return errors.New("dropped")
	}
	se.s.judge(se.from, append([]string(nil), se.to...), raw)
	return nil
}

func (se *session) Reset() { se.from, se.to = "", nil }

func (se *session) Logout() error { return nil }

// judge accepts or refuses a message the session took.
func (s *Server) judge(from string, to []string, raw []byte) {
	p, err := parse(raw)
	reason, detail := Reason(""), ""
	switch {
	case err != nil:
		reason, detail = ReasonMalformed, err.Error()
	case !s.registered(from):
		reason, detail = ReasonSender, "the sender is not the registered or an approved address"
	case p.html:
		reason, detail = ReasonHTML, "HTML content is not allowed"
	default:
		var total int64
		for _, a := range p.attachments {
			total += a.Size
			if !s.allowedType(a.ContentType) {
				reason, detail = ReasonAttachmentType, fmt.Sprintf("attachment type %s is not allowed", a.ContentType)
				break
			}
		}
		if reason == "" && total > s.cfg.MaxAttachmentBytes {
			reason, detail = ReasonAttachmentSize, fmt.Sprintf("attachments of %d bytes exceed %d", total, s.cfg.MaxAttachmentBytes)
		}
		if reason == "" && p.inReplyTo == "" && !strings.Contains(strings.ToLower(p.subject), "[important]") {
			for _, t := range to {
				if s.optedOut(t) {
					reason, detail = ReasonOptedOut, "the buyer has opted out of unsolicited messages"
				}
			}
		}
	}
	if reason == "" {
		s.record(func() {
			s.accepted = append(s.accepted, Accepted{
				From: from, To: to, Raw: raw, MessageID: p.messageID, InReplyTo: p.inReplyTo,
				References: p.references, Subject: p.subject, Text: p.text, Attachments: p.attachments,
			})
		})
		return
	}
	notice := s.notice(from, to, p, reason, detail)
	var berr error
	if s.cfg.Bounces != nil {
		berr = s.deliverNotice(notice)
	}
	s.record(func() {
		s.refused = append(s.refused, Refusal{From: from, To: to, Reason: reason, Detail: detail, Notice: notice, BounceErr: berr})
	})
}

func (s *Server) registered(from string) bool {
	for _, r := range s.cfg.RegisteredSenders {
		if strings.EqualFold(r, from) {
			return true
		}
	}
	return false
}

func (s *Server) optedOut(to string) bool {
	for _, o := range s.cfg.OptedOut {
		if strings.EqualFold(o, to) {
			return true
		}
	}
	return false
}

func (s *Server) allowedType(ct string) bool {
	for _, t := range s.cfg.AllowedTypes {
		if strings.EqualFold(t, ct) {
			return true
		}
	}
	return false
}

// selfSigned makes a certificate for 127.0.0.1 and localhost.
func selfSigned() (tls.Certificate, *x509.CertPool, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "relayfake"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool, nil
}
