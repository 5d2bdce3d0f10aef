// Package mailnet holds what the mail clients (IMAP, SMTP) share about
// reaching a server: the TLS configuration they verify it with.
package mailnet

import (
	"crypto/tls"
	"net"
)

// TLSConfig is base (nil: the system's roots) for a server at addr
// (host:port): it verifies the host's name, with TLS 1.2 at least.
func TLSConfig(base *tls.Config, addr string) *tls.Config {
	conf := base.Clone()
	if conf == nil {
		conf = &tls.Config{}
	}
	if conf.ServerName == "" {
		conf.ServerName, _, _ = net.SplitHostPort(addr)
	}
	if conf.MinVersion == 0 {
		conf.MinVersion = tls.VersionTLS12
	}
	return conf
}
