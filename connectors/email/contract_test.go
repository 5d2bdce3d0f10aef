package email

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"net/mail"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-imap/client"
	gomail "github.com/emersion/go-message/mail"
	"github.com/redis/go-redis/v9"

	"github.com/helpdesk-bridge/bridge/bridge/rdb/rdbtest"
	"github.com/helpdesk-bridge/bridge/connectors"
	"github.com/helpdesk-bridge/bridge/connectors/email/dovecottest"
	"github.com/helpdesk-bridge/bridge/connectors/email/imapbox"
	"github.com/helpdesk-bridge/bridge/connectors/email/mailparse"
	"github.com/helpdesk-bridge/bridge/connectors/email/relayfake"
	"github.com/helpdesk-bridge/bridge/connectors/email/smtpout"
	"github.com/helpdesk-bridge/bridge/connectors/fault"
	"github.com/helpdesk-bridge/bridge/connectors/marketplacetest"
)

// The marketplace contract suite against the e-mail connector, on a real
// Dovecot folder of each test's own and the relay fake. The suite's
// order ids (ORDER-42, PAGE-001) are not Amazon's 3-7-7 form, so the
// account is a merchant-configured relay (the generic profile) whose
// subjects carry "(Order: <id>)"; Amazon's and CDON's rules have their
// own tests. The fault tests skip: they inject HTTP answers, and the
// relay's SMTP faults are tested in smtpout and TestReplies.
func TestContract(t *testing.T) {
	dc := dovecottest.Get(t)
	srv := rdbtest.Start(t)
	relay, err := relayfake.Start(relayfake.Config{
		RegisteredSenders: []string{seller},
		AliasForm:         contractAlias,
		// The suite's files are of any type: this relay refuses none.
		AllowedTypes: []string{"application/pdf", "application/octet-stream", "text/plain", "image/png", "image/jpeg"},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = relay.Close() })
	profile, err := mailparse.Generic(mailparse.GenericConfig{
		Name: "market", Marketplace: "market", RelayDomains: []string{contractDomain},
		OrderSubject: `\(Order: (?P<order>[A-Z0-9-]+)\)`,
	})
	if err != nil {
		t.Fatal(err)
	}
	var accounts atomic.Int64
	marketplacetest.RunConformanceTests(t, func(t *testing.T) marketplacetest.Harness {
		rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
		t.Cleanup(func() { _ = rdb.Close() })
		admin := dc.Admin(t)
		h := &contractHarness{
			admin: admin, mailbox: dc.Mailbox(t, admin), relay: relay,
			threads: map[string]seededThread{}, account: fmt.Sprintf("market-%d", accounts.Add(1)),
		}
		h.clock.Store(time.Now())
		now := func() time.Time { return h.clock.Load().(time.Time) }
		h.store = NewStore(rdb, "contract:", h.account, now)
		smtp, err := smtpout.New(smtpout.Options{Addr: relay.Addr(), Security: smtpout.StartTLS, TLSConfig: &tls.Config{RootCAs: relay.CertPool()}, From: mail.Address{Address: seller}})
		if err != nil {
			t.Fatal(err)
		}
		connector := func(password string) *Connector {
			box, err := imapbox.New(imapbox.Options{Addr: dc.Addr, Username: dc.User, Password: password, Mailbox: h.mailbox, Security: imapbox.StartTLS, TLSConfig: dc.TLS()})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = box.Close() })
			in := NewIngester(h.store, box, profile, mailparse.Options{})
			return New(Options{Store: h.store, Sender: SMTP{S: smtp}, From: seller, Ingest: in, Now: now})
		}
		h.conn, h.wrong = connector(dc.Password), connector(dc.Password+"-wrong")
		return h
	})
}

const contractDomain = "relay.example-market.com"

var contractBuyers atomic.Int64

var contractAlias = regexp.MustCompile(`^c[0-9]{8}x@relay\.example-market\.com$`)

type seededThread struct {
	alias, orderID, topic, name string
}

// contractHarness seeds threads as the relay would deliver them: each
// mail is put in the folder by IMAP APPEND and read in at once with the
// clock at the mail's time, as if the bridge read it the moment it
// arrived (it does, with IDLE).
type contractHarness struct {
	admin   *client.Client
	mailbox string
	relay   *relayfake.Server
	store   *Store
	account string
	conn    *Connector
	wrong   *Connector
	clock   atomic.Value // time.Time

	mu      sync.Mutex
	threads map[string]seededThread
	mails   int
}

func (h *contractHarness) Marketplace() connectors.Marketplace      { return h.conn }
func (h *contractHarness) WrongCredentials() connectors.Marketplace { return h.wrong }
func (h *contractHarness) Faults() *fault.Injector                  { return nil }
func (h *contractHarness) Seeder() marketplacetest.Seeder           { return h }
func (h *contractHarness) ReadsThreadsLocally() bool                { return true }

func (h *contractHarness) AddThread(t *testing.T, th marketplacetest.SeedThread) string {
	t.Helper()
	if th.OrderID == "" {
		t.Fatal("a relay by e-mail has no thread without an order")
	}
	// Buyers are unique across the tests, which share the relay.
	alias := fmt.Sprintf("c%08dx@%s", contractBuyers.Add(1), contractDomain)
	st := seededThread{alias: alias, orderID: th.OrderID, topic: th.Topic, name: th.CustomerName}
	mid := h.deliver(t, st, th.Message, "")
	tid, err := h.store.threadOf(t.Context(), mid, "")
	if err != nil || tid == "" {
		t.Fatalf("the seeded mail %s is in no thread: %v", mid, err)
	}
	h.mu.Lock()
	h.threads[tid] = st
	h.mu.Unlock()
	return tid
}

func (h *contractHarness) AddMessage(t *testing.T, threadID string, m marketplacetest.SeedMessage) {
	t.Helper()
	if m.From == connectors.PartyOperator {
		t.Fatal("a relay by e-mail has no operator")
	}
	h.mu.Lock()
	st, ok := h.threads[threadID]
	h.mu.Unlock()
	if !ok {
		t.Fatalf("no seeded thread %s", threadID)
	}
	h.deliver(t, st, m, "Re: ")
}

// deliver appends the buyer's mail and reads it in; it returns its
// Message-ID.
func (h *contractHarness) deliver(t *testing.T, st seededThread, m marketplacetest.SeedMessage, prefix string) string {
	t.Helper()
	at := m.At
	if at.IsZero() {
		at = time.Now()
	}
	h.mu.Lock()
	h.mails++
	mid := fmt.Sprintf("seed-%d-%s@%s", h.mails, h.account, contractDomain)
	h.mu.Unlock()

	var hdr gomail.Header
	hdr.SetAddressList("From", []*gomail.Address{{Name: st.name, Address: st.alias}})
	hdr.SetAddressList("To", []*gomail.Address{{Address: seller}})
	hdr.SetSubject(strings.TrimSpace(fmt.Sprintf("%s%s (Order: %s)", prefix, st.topic, st.orderID)))
	hdr.SetMessageID(mid)
	hdr.SetDate(at)
	var buf bytes.Buffer
	mw, err := gomail.CreateWriter(&buf, hdr)
	if err != nil {
		t.Fatal(err)
	}
	var th gomail.InlineHeader
	th.Set("Content-Type", "text/plain; charset=utf-8")
	tw, err := mw.CreateSingleInline(th)
	must(t, err)
	_, err = io.WriteString(tw, m.Body)
	must(t, err)
	must(t, tw.Close())
	for _, f := range m.Files {
		var ah gomail.AttachmentHeader
		ah.Set("Content-Type", "application/octet-stream")
		ah.SetFilename(f.Name)
		aw, err := mw.CreateAttachment(ah)
		must(t, err)
		_, err = aw.Write(f.Content)
		must(t, err)
		must(t, aw.Close())
	}
	must(t, mw.Close())
	must(t, h.admin.Append(h.mailbox, nil, at, &buf))

	// Read in under a lock: the clock is the mail's arrival.
	h.mu.Lock()
	defer h.mu.Unlock()
	h.clock.Store(at)
	for {
		res, err := h.conn.o.Ingest.Run(t.Context(), 100)
		if err != nil {
			t.Fatal(err)
		}
		if !res.More {
			break
		}
	}
	return mid
}

func (h *contractHarness) PutOrder(t *testing.T, _ connectors.Order) {
	t.Fatal("a relay by e-mail has no orders")
}

// Sent reads what the relay accepted for the thread's buyer.
func (h *contractHarness) Sent(t *testing.T, threadID string) []marketplacetest.SentMessage {
	t.Helper()
	h.mu.Lock()
	st := h.threads[threadID]
	h.mu.Unlock()
	var out []marketplacetest.SentMessage
	for _, a := range h.relay.Accepted() {
		if len(a.To) != 1 || !strings.EqualFold(a.To[0], st.alias) {
			continue
		}
		msg, err := mailparse.ParseBytes(a.Raw, mailparse.Options{})
		if err != nil {
			t.Fatalf("the relay accepted an unreadable mail: %v", err)
		}
		sm := marketplacetest.SentMessage{
			MessageID: "r" + digest(msg.MessageID)[:24], Body: strings.TrimRight(msg.Text, "\r\n"),
			To: []connectors.PartyType{connectors.PartyCustomer},
		}
		for _, f := range msg.Attachments {
			sm.Files = append(sm.Files, marketplacetest.File{Name: f.Filename, Content: f.Data})
		}
		out = append(out, sm)
	}
	return out
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
