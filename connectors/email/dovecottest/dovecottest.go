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
	// Restart is a command that stops and starts the server, mail kept.
	Restart string
}

// Get returns the test Dovecot, or skips the test when there is none.
func Get(t testing.TB) Server {
	t.Helper()
	addr := os.Getenv("BRIDGE_TEST_IMAP_ADDR")
	if addr == "" {
		t.Skip("BRIDGE_TEST_IMAP_ADDR is unset: run under .ci/with-dovecot (make test does) for a real IMAP server")
	}
	s := Server{
		Addr: addr, TLSAddr: os.Getenv("BRIDGE_TEST_IMAPS_ADDR"),
		User: os.Getenv("BRIDGE_TEST_IMAP_USER"), Password: os.Getenv("BRIDGE_TEST_IMAP_PASSWORD"),
		Restart: os.Getenv("BRIDGE_TEST_IMAP_RESTART"),
		Roots:   x509.NewCertPool(),
	}
	if ca := os.Getenv("BRIDGE_TEST_IMAP_CA"); ca != "" {
		pem, err := os.ReadFile(ca)
		if err != nil {
			t.Fatal(err)
		}
		s.Roots.AppendCertsFromPEM(pem)
	}
	return s
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
		t.Skip("BRIDGE_TEST_IMAP_RESTART is unset: the test Dovecot cannot be restarted")
	}
	if out, err := exec.Command(s.Restart).CombinedOutput(); err != nil {
		t.Fatalf("restart Dovecot: %v: %s", err, out)
	}
}
