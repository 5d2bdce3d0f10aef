// Package dovecottest hands tests the throwaway Dovecot that
// .ci/with-dovecot starts (make test runs under it): its addresses, a
// login, the certificate it presents, and folders of each test's own.
package dovecottest

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-imap/client"
)

// Server is the test Dovecot.
type Server struct {
	Addr    string // IMAP with STARTTLS
	TLSAddr string // IMAPS
	User    string
	// Password is the test mailbox's: not a secret worth keeping.
	Password string
	// Roots verify the certificate the server presents.
	Roots *x509.CertPool
	// Restart is a command that stops and starts the server, mail kept;
	// set only for the Restartable server.
	Restart string
}

// Get returns the test Dovecot that every test shares, or skips the test
// when there is none. It is never restarted: see Restartable.
func Get(t testing.TB) Server {
	t.Helper()
	addr := os.Getenv("BRIDGE_TEST_IMAP_ADDR")
	if addr == "" {
		t.Skip("BRIDGE_TEST_IMAP_ADDR is unset: run under .ci/with-dovecot (make test does) for a real IMAP server")
	}
	return Server{
		Addr: addr, TLSAddr: os.Getenv("BRIDGE_TEST_IMAPS_ADDR"),
		User: os.Getenv("BRIDGE_TEST_IMAP_USER"), Password: os.Getenv("BRIDGE_TEST_IMAP_PASSWORD"),
		Roots: roots(t, os.Getenv("BRIDGE_TEST_IMAP_CA")),
	}
}

// Restartable returns the second test Dovecot, which only tests of a
// restart use, so that restarting it cuts no other test's session; the
// test has it to itself until it ends (tests of several packages run at
// once). It skips the test when there is none.
func Restartable(t testing.TB) Server {
	t.Helper()
	addr, restart := os.Getenv("BRIDGE_TEST_IMAP_RESTARTABLE_ADDR"), os.Getenv("BRIDGE_TEST_IMAP_RESTART")
	if addr == "" || restart == "" {
		t.Skip("BRIDGE_TEST_IMAP_RESTARTABLE_ADDR is unset: run under .ci/with-dovecot (make test does) for a Dovecot that may be restarted")
	}
	if lock := os.Getenv("BRIDGE_TEST_IMAP_RESTARTABLE_LOCK"); lock != "" {
		f, err := os.OpenFile(lock, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = f.Close() }) // closing unlocks
	}
	return Server{
		Addr: addr, TLSAddr: os.Getenv("BRIDGE_TEST_IMAP_RESTARTABLE_TLS_ADDR"),
		User: os.Getenv("BRIDGE_TEST_IMAP_RESTARTABLE_USER"), Password: os.Getenv("BRIDGE_TEST_IMAP_RESTARTABLE_PASSWORD"),
		Roots: roots(t, os.Getenv("BRIDGE_TEST_IMAP_RESTARTABLE_CA")), Restart: restart,
	}
}

func roots(t testing.TB, ca string) *x509.CertPool {
	t.Helper()
	pool := x509.NewCertPool()
	if ca != "" {
		pem, err := os.ReadFile(ca)
		if err != nil {
			t.Fatal(err)
		}
		pool.AppendCertsFromPEM(pem)
	}
	return pool
}

// TLS is the client configuration that trusts the server.
func (s Server) TLS() *tls.Config { return &tls.Config{RootCAs: s.Roots} }

// Admin is a plain IMAP session of the test's, which plays the mail's
// sender and the mailbox's owner; closed when the test ends.
func (s Server) Admin(t testing.TB) *client.Client {
	t.Helper()
	c, err := client.DialTLS(s.TLSAddr, s.TLS())
	if err != nil {
		t.Fatal(err)
	}
	c.Timeout = 30 * time.Second
	if err := c.Login(s.User, s.Password); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Logout() })
	return c
}

// Mailbox creates a folder of the test's own and returns its name.
func (s Server) Mailbox(t testing.TB, c *client.Client) string {
	t.Helper()
	name := fmt.Sprintf("T-%s-%d", strings.NewReplacer("/", "-", " ", "-").Replace(t.Name()), time.Now().UnixNano())
	if err := c.Create(name); err != nil {
		t.Fatal(err)
	}
	return name
}

// Deliver puts mail in a folder, as the marketplace's relay would.
func Deliver(t testing.TB, c *client.Client, mailbox string, raws ...[]byte) {
	t.Helper()
	for _, raw := range raws {
		if err := c.Append(mailbox, nil, time.Now(), bytes.NewReader(raw)); err != nil {
			t.Fatal(err)
		}
	}
}

// RestartServer stops and starts the server, keeping the mail; sessions
// open before it are cut.
func (s Server) RestartServer(t testing.TB) {
	t.Helper()
	if s.Restart == "" {
		t.Fatal("RestartServer: only the Restartable test Dovecot may be restarted")
	}
	if out, err := exec.Command(s.Restart).CombinedOutput(); err != nil {
		t.Fatalf("restart Dovecot: %v: %s", err, out)
	}
}
