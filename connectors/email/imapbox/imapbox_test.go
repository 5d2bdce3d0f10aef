package imapbox_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-imap"
	"github.com/emersion/go-imap/client"

	"github.com/helpdesk-bridge/bridge/connectors"
	"github.com/helpdesk-bridge/bridge/connectors/email/dovecottest"
	"github.com/helpdesk-bridge/bridge/connectors/email/imapbox"
)

// server describes the Dovecot that .ci/with-dovecot started.
type server struct {
	addr, tlsAddr  string
	user, password string
	tls            *tls.Config
	restart        string
}

func dovecot(t *testing.T) server {
	t.Helper()
	addr := os.Getenv("BRIDGE_TEST_IMAP_ADDR")
	if addr == "" {
		t.Skip("BRIDGE_TEST_IMAP_ADDR is unset: run under .ci/with-dovecot (make test does) for a real IMAP server")
	}
	s := server{
		addr:     addr,
		tlsAddr:  os.Getenv("BRIDGE_TEST_IMAPS_ADDR"),
		user:     os.Getenv("BRIDGE_TEST_IMAP_USER"),
		password: os.Getenv("BRIDGE_TEST_IMAP_PASSWORD"),
		tls:      &tls.Config{},
	}
	if ca := os.Getenv("BRIDGE_TEST_IMAP_CA"); ca != "" {
		pem, err := os.ReadFile(ca)
		if err != nil {
			t.Fatal(err)
		}
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(pem)
		s.tls.RootCAs = pool
	}
	return s
}

// admin is a second, plain go-imap session that plays the mail's sender
// and the mailbox's owner.
func (s server) admin(t *testing.T) *client.Client {
	t.Helper()
	c, err := client.DialTLS(s.tlsAddr, s.tls)
	if err != nil {
		t.Fatal(err)
	}
	c.Timeout = 30 * time.Second
	if err := c.Login(s.user, s.password); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Logout() })
	return c
}

// mailbox creates a folder of the test's own.
func (s server) mailbox(t *testing.T) string {
	t.Helper()
	name := fmt.Sprintf("T-%s-%d", strings.ReplaceAll(t.Name(), "/", "-"), time.Now().UnixNano())
	if err := s.admin(t).Create(name); err != nil {
		t.Fatal(err)
	}
	return name
}

func (s server) opts(mailbox string) imapbox.Options {
	return imapbox.Options{
		Addr: s.addr, Username: s.user, Password: s.password, Mailbox: mailbox,
		Security: imapbox.StartTLS, TLSConfig: s.tls,
	}
}

func message(i int, body string) []byte {
	return []byte(fmt.Sprintf("From: Buyer <abc%d@marketplace.amazon.fr>\r\n"+
		"To: seller@example.com\r\nSubject: Inquiry (Order: 171-0000000-%07d)\r\n"+
		"Message-ID: <m%d-%d@example.test>\r\nDate: Sat, 05 Dec 2026 10:00:00 +0000\r\n\r\n%s\r\n",
		i, i, i, time.Now().UnixNano(), body))
}

func appendMail(t *testing.T, c *client.Client, mailbox string, raw []byte) {
	t.Helper()
	if err := c.Append(mailbox, nil, time.Now(), bytes.NewReader(raw)); err != nil {
		t.Fatal(err)
	}
}

func newBox(t *testing.T, o imapbox.Options) *imapbox.Box {
	t.Helper()
	b, err := imapbox.New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func TestFetchByCursor(t *testing.T) {
	s := dovecot(t)
	mb := s.mailbox(t)
	adm := s.admin(t)
	var sent [][]byte
	for i := range 5 {
		raw := message(i, "hello "+strings.Repeat("x", i))
		sent = append(sent, raw)
		appendMail(t, adm, mb, raw)
	}
	b := newBox(t, s.opts(mb))
	ctx := context.Background()

	var cur imapbox.Cursor
	var got []imapbox.RawMessage
	for range 4 {
		msgs, next, err := b.Fetch(ctx, cur, 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) == 0 {
			if next != cur {
				t.Fatalf("an empty fetch moved the cursor from %+v to %+v", cur, next)
			}
			break
		}
		if next.LastUID != msgs[len(msgs)-1].UID || next.UIDValidity == 0 {
			t.Fatalf("next = %+v after UIDs up to %d", next, msgs[len(msgs)-1].UID)
		}
		got = append(got, msgs...)
		cur = next
	}
	if len(got) != len(sent) {
		t.Fatalf("fetched %d messages, want %d", len(got), len(sent))
	}
	for i, m := range got {
		if !bytes.Equal(m.Raw, sent[i]) {
			t.Errorf("message %d: got %q, want %q", i, m.Raw, sent[i])
		}
		if i > 0 && m.UID <= got[i-1].UID {
			t.Errorf("UIDs out of order: %d after %d", m.UID, got[i-1].UID)
		}
		if m.Size != int64(len(sent[i])) || m.InternalDate.IsZero() || m.TooLarge || m.Replayed {
			t.Errorf("message %d: %+v", i, m)
		}
	}

	// A new Box (a restart, another replica) resumes from the cursor.
	appendMail(t, adm, mb, message(9, "later"))
	b2 := newBox(t, s.opts(mb))
	msgs, _, err := b2.Fetch(ctx, cur, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 1 || !bytes.Contains(msgs[0].Raw, []byte("later")) {
		t.Fatalf("resumed fetch: %d messages", len(msgs))
	}

	// Reading never marks the mail as read.
	if _, err := adm.Select(mb, true); err != nil {
		t.Fatal(err)
	}
	unseen, err := adm.UidSearch(&imap.SearchCriteria{WithoutFlags: []string{imap.SeenFlag}})
	if err != nil {
		t.Fatal(err)
	}
	if len(unseen) != 6 {
		t.Errorf("%d unseen messages after fetching, want all 6", len(unseen))
	}
}

func TestHeadSkipsExistingMail(t *testing.T) {
	s := dovecot(t)
	mb := s.mailbox(t)
	adm := s.admin(t)
	appendMail(t, adm, mb, message(1, "old"))
	o := s.opts(mb)
	o.Addr, o.Security = s.tlsAddr, imapbox.ImplicitTLS
	b := newBox(t, o)
	head, err := b.Head(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	appendMail(t, adm, mb, message(2, "new"))
	msgs, _, err := b.Fetch(context.Background(), head, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 1 || !bytes.Contains(msgs[0].Raw, []byte("new")) {
		t.Fatalf("after Head: %d messages", len(msgs))
	}
}

func TestSecurityAndLogin(t *testing.T) {
	s := dovecot(t)
	mb := s.mailbox(t)
	ctx := context.Background()

	o := s.opts(mb)
	o.Security = imapbox.InsecureNoTLS
	if _, err := newBox(t, o).Head(ctx); err != nil {
		t.Errorf("without TLS, explicitly: %v", err)
	}

	o = s.opts(mb)
	o.TLSConfig = &tls.Config{RootCAs: x509.NewCertPool()} // trusts nothing
	_, err := newBox(t, o).Head(ctx)
	if !errors.Is(err, connectors.ErrForbidden) || connectors.IsRetryable(err) {
		t.Errorf("untrusted certificate: err = %v, want a permanent ErrForbidden", err)
	}

	o = s.opts(mb)
	o.Password = "wrong"
	_, err = newBox(t, o).Head(ctx)
	if !errors.Is(err, connectors.ErrUnauthorized) {
		t.Errorf("wrong password: err = %v, want ErrUnauthorized", err)
	}
	if err != nil && strings.Contains(err.Error(), s.user) {
		t.Errorf("the error names the user: %v", err)
	}

	o = s.opts("No-Such-Folder")
	_, err = newBox(t, o).Head(ctx)
	if !errors.Is(err, connectors.ErrNotFound) {
		t.Errorf("missing mailbox: err = %v, want ErrNotFound", err)
	}
}

func TestTooLargeIsReportedNotLoaded(t *testing.T) {
	s := dovecot(t)
	mb := s.mailbox(t)
	adm := s.admin(t)
	big := message(1, strings.Repeat("y", 5000))
	appendMail(t, adm, mb, big)
	appendMail(t, adm, mb, message(2, "small"))
	o := s.opts(mb)
	o.MaxMessageSize = 1000
	msgs, next, err := newBox(t, o).Fetch(context.Background(), imapbox.Cursor{}, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 2 {
		t.Fatalf("%d messages, want 2", len(msgs))
	}
	if !msgs[0].TooLarge || msgs[0].Raw != nil || msgs[0].Size != int64(len(big)) {
		t.Errorf("the large message: TooLarge=%v, %d bytes loaded, Size=%d", msgs[0].TooLarge, len(msgs[0].Raw), msgs[0].Size)
	}
	if msgs[1].TooLarge || !bytes.Contains(msgs[1].Raw, []byte("small")) {
		t.Errorf("the small message was not loaded")
	}
	if next.LastUID != msgs[1].UID {
		t.Errorf("the cursor does not move past both: %+v", next)
	}
}

func TestBatchBytesBound(t *testing.T) {
	s := dovecot(t)
	mb := s.mailbox(t)
	adm := s.admin(t)
	size := 0
	for i := range 3 {
		raw := message(i, strings.Repeat("z", 600))
		size = max(size, len(raw))
		appendMail(t, adm, mb, raw)
	}
	o := s.opts(mb)
	o.MaxBatchBytes = int64(2*size + 10) // two of them
	msgs, next, err := newBox(t, o).Fetch(context.Background(), imapbox.Cursor{}, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 2 || next.LastUID != msgs[1].UID {
		t.Fatalf("%d messages up to %+v, want the first 2", len(msgs), next)
	}
}

// waitFor runs Wait in a goroutine and returns its result channel.
func waitFor(ctx context.Context, b *imapbox.Box, cur imapbox.Cursor) <-chan error {
	ch := make(chan error, 1)
	go func() { ch <- b.Wait(ctx, cur) }()
	return ch
}

func TestWaitWakesOnNewMail(t *testing.T) {
	for _, poll := range []bool{false, true} {
		t.Run(map[bool]string{false: "idle", true: "poll"}[poll], func(t *testing.T) {
			s := dovecot(t)
			mb := s.mailbox(t)
			adm := s.admin(t)
			o := s.opts(mb)
			o.MaxWait = time.Minute
			o.NoIdle = poll
			o.PollInterval = 200 * time.Millisecond
			b := newBox(t, o)
			ctx := context.Background()
			head, err := b.Head(ctx)
			if err != nil {
				t.Fatal(err)
			}
			done := waitFor(ctx, b, head)
			select {
			case err := <-done:
				t.Fatalf("Wait returned with no new mail: %v", err)
			case <-time.After(300 * time.Millisecond):
			}
			sent := time.Now()
			appendMail(t, adm, mb, message(1, "wake up"))
			select {
			case err := <-done:
				if err != nil {
					t.Fatal(err)
				}
				// Printed, not asserted: timing depends on the machine.
				t.Logf("woken %v after the APPEND", time.Since(sent).Round(time.Millisecond))
			case <-time.After(30 * time.Second):
				t.Fatal("Wait did not return after new mail")
			}
			// With mail already there, Wait returns at once.
			if err := b.Wait(ctx, head); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestWaitEndsWithContextAndClose(t *testing.T) {
	s := dovecot(t)
	mb := s.mailbox(t)
	b := newBox(t, s.opts(mb))
	head, err := b.Head(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := waitFor(ctx, b, head)
	time.Sleep(200 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Wait after cancel: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Wait ignored its context")
	}
	// The Box is still usable: IDLE was ended cleanly.
	if _, _, err := b.Fetch(context.Background(), head, 1); err != nil {
		t.Fatal(err)
	}

	// A deadline that passes while waiting.
	dctx, dcancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer dcancel()
	if err := b.Wait(dctx, head); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait past its deadline: %v", err)
	}

	done = waitFor(context.Background(), b, head)
	time.Sleep(200 * time.Millisecond)
	b.Close()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("Wait returned nil after Close")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Close did not end Wait")
	}
}

func TestUIDValidityChangeReplays(t *testing.T) {
	s := dovecot(t)
	mb := s.mailbox(t)
	adm := s.admin(t)
	first := message(1, "first")
	appendMail(t, adm, mb, first)
	appendMail(t, adm, mb, message(2, "second"))
	b := newBox(t, s.opts(mb))
	ctx := context.Background()
	msgs, cur, err := b.Fetch(ctx, imapbox.Cursor{}, 10)
	if err != nil || len(msgs) != 2 {
		t.Fatalf("fetch: %d messages, %v", len(msgs), err)
	}

	// The mailbox is deleted and recreated (a restore from backup does
	// the same): the same mail comes back under new UIDs.
	if err := adm.Delete(mb); err != nil {
		t.Fatal(err)
	}
	if err := adm.Create(mb); err != nil {
		t.Fatal(err)
	}
	appendMail(t, adm, mb, first)
	appendMail(t, adm, mb, message(3, "third"))

	// Wait sees the change at once.
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := b.Wait(wctx, cur); err != nil {
		t.Fatal(err)
	}
	msgs, next, err := b.Fetch(ctx, cur, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 2 {
		t.Fatalf("after the UIDVALIDITY change: %d messages, want the whole new mailbox (2)", len(msgs))
	}
	if next.UIDValidity == cur.UIDValidity || next.LastUID != msgs[1].UID {
		t.Errorf("next = %+v, old cursor %+v", next, cur)
	}
	for _, m := range msgs {
		if !m.Replayed || m.UIDValidity != next.UIDValidity {
			t.Errorf("UID %d: Replayed=%v UIDValidity=%d", m.UID, m.Replayed, m.UIDValidity)
		}
	}
	if !bytes.Equal(msgs[0].Raw, first) {
		t.Errorf("the replayed first message differs")
	}
	// From the new cursor on, nothing is replayed.
	appendMail(t, adm, mb, message(4, "fourth"))
	msgs, _, err = b.Fetch(ctx, next, 10)
	if err != nil || len(msgs) != 1 || msgs[0].Replayed {
		t.Fatalf("after the new cursor: %d messages (%v)", len(msgs), err)
	}
}

func TestSurvivesServerRestart(t *testing.T) {
	r := dovecottest.Restartable(t)
	s := server{addr: r.Addr, tlsAddr: r.TLSAddr, user: r.User, password: r.Password, tls: r.TLS(), restart: r.Restart}
	mb := s.mailbox(t)
	adm := s.admin(t)
	appendMail(t, adm, mb, message(1, "before"))
	o := s.opts(mb)
	o.MaxWait = time.Minute
	b := newBox(t, o)
	ctx := context.Background()
	msgs, cur, err := b.Fetch(ctx, imapbox.Cursor{}, 10)
	if err != nil || len(msgs) != 1 {
		t.Fatalf("fetch: %d messages, %v", len(msgs), err)
	}

	// Restart while the Box idles; mail arrives once the server is back.
	done := waitFor(ctx, b, cur)
	time.Sleep(300 * time.Millisecond)
	restart(t, s)
	var delivered atomic.Bool
	go func() {
		// A fresh session: the admin's was dropped too.
		c, err := client.DialTLS(s.tlsAddr, s.tls)
		if err == nil && c.Login(s.user, s.password) == nil {
			delivered.Store(c.Append(mb, nil, time.Now(), bytes.NewReader(message(2, "after"))) == nil)
			_ = c.Logout()
		}
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Wait across the restart: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Wait did not come back after the restart")
	}
	deadline := time.Now().Add(10 * time.Second)
	var got []imapbox.RawMessage
	for len(got) == 0 && time.Now().Before(deadline) {
		msgs, next, err := b.Fetch(ctx, cur, 10)
		if err != nil {
			t.Fatal(err)
		}
		got, cur = msgs, next
		if len(got) == 0 {
			time.Sleep(50 * time.Millisecond)
		}
	}
	if !delivered.Load() || len(got) != 1 || !bytes.Contains(got[0].Raw, []byte("after")) {
		t.Fatalf("after the restart: delivered=%v, %d messages", delivered.Load(), len(got))
	}

	// And a restart between two fetches: the next Fetch reconnects.
	restart(t, s)
	if _, _, err := b.Fetch(ctx, cur, 10); err != nil {
		t.Fatalf("fetch after a restart: %v", err)
	}
}

func restart(t *testing.T, s server) {
	t.Helper()
	out, err := exec.Command(s.restart).CombinedOutput()
	if err != nil {
		t.Fatalf("restarting the server: %v: %s", err, out)
	}
}

func TestNoGoroutineLeak(t *testing.T) {
	s := dovecot(t)
	mb := s.mailbox(t)
	before := runtime.NumGoroutine()
	b, err := imapbox.New(s.opts(mb))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	head, err := b.Head(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	_ = b.Wait(ctx, head)
	if _, _, err := b.Fetch(context.Background(), head, 1); err != nil {
		t.Fatal(err)
	}
	b.Close()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<16)
		t.Fatalf("%d goroutines after Close, %d before:\n%s", n, before, buf[:runtime.Stack(buf, true)])
	}
}

func TestContextsAndUnreachableServer(t *testing.T) {
	s := dovecot(t)
	mb := s.mailbox(t)
	b := newBox(t, s.opts(mb))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := b.Fetch(ctx, imapbox.Cursor{}, 10); !errors.Is(err, context.Canceled) {
		t.Errorf("Fetch with a canceled context: %v", err)
	}
	if _, _, err := b.Fetch(context.Background(), imapbox.Cursor{}, 10); err != nil {
		t.Errorf("Fetch after a canceled one: %v", err)
	}

	// Nothing listens there: the Box tries Reconnects times, then gives
	// up with a retryable error.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	o := s.opts(mb)
	o.Addr, o.Reconnects = dead, 2
	_, err = newBox(t, o).Head(context.Background())
	if !errors.Is(err, connectors.ErrUnavailable) || !connectors.IsRetryable(err) {
		t.Errorf("unreachable server: %v", err)
	}
}
