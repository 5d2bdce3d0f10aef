package push

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/helpdesk-bridge/bridge/connectors"
)

// MaxURLLen bounds a subscription's URL.
const MaxURLLen = 2048

// resolveBudget bounds the look-up of a URL's host when it is given.
const resolveBudget = 5 * time.Second

// ErrURLNotAllowed: the URL's host is, or resolves to, an address the
// bridge does not send to (loopback, private, link-local, cloud metadata,
// reserved). The API answers 422 url_not_allowed.
var ErrURLNotAllowed = errors.New("push: url not allowed")

// ErrInvalidURL: the URL is not one a subscription can have (not https,
// credentials in it, too long, its host not found). The API answers 422
// invalid_field.
var ErrInvalidURL = errors.New("push: invalid url")

// URLError says what is wrong with a subscription's URL, in words for its
// owner; it never repeats the URL's path or query.
type URLError struct {
	Reason string
	Kind   error // ErrInvalidURL or ErrURLNotAllowed
}

func (e *URLError) Error() string { return "url " + e.Reason }
func (e *URLError) Unwrap() error { return e.Kind }

// staticURLCheck checks what needs no look-up: an absolute https URL (or
// http when private addresses are allowed, for local fakes), with a host,
// without credentials or fragment, and a host that is no refused address
// literal. It runs at creation and before each POST, so that turning the
// private switch off stops plain-http subscriptions at once.
func (p *Publisher) staticURLCheck(raw string) error {
	allowPrivate := p.o.Config.Server.AllowPrivateFileHosts
	invalid := func(format string, args ...any) error {
		return &URLError{Reason: fmt.Sprintf(format, args...), Kind: ErrInvalidURL}
	}
	if len(raw) > MaxURLLen {
		return invalid("must have at most %d characters", MaxURLLen)
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "" {
		return invalid("must be an absolute https URL")
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && allowPrivate:
	case u.Scheme == "http":
		return invalid("must use https")
	default:
		return invalid("must be an absolute https URL")
	}
	if u.User != nil {
		return invalid("must not hold credentials: authenticate the bridge by its signature")
	}
	if u.Fragment != "" || strings.HasSuffix(raw, "#") {
		return invalid("must not have a fragment")
	}
	if a, err := netip.ParseAddr(strings.Trim(u.Hostname(), "[]")); err == nil {
		if why := connectors.AddressRefusal(a, allowPrivate); why != "" {
			return &URLError{Reason: "host " + a.String() + " " + why, Kind: ErrURLNotAllowed}
		}
	}
	return nil
}

// checkURL is staticURLCheck and, for a host name, a look-up: every
// address it resolves to must be one the bridge sends to. The dial-time
// check in the transport stays the one that counts (DNS answers change);
// this one tells the integrator at once.
func (p *Publisher) checkURL(ctx context.Context, raw string) error {
	if err := p.staticURLCheck(raw); err != nil {
		return err
	}
	u, _ := url.Parse(raw)
	host := u.Hostname()
	if _, err := netip.ParseAddr(host); err == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, resolveBudget)
	defer cancel()
	addrs, err := p.o.Resolver.LookupNetIP(ctx, "ip", host)
	if err != nil || len(addrs) == 0 {
		return &URLError{Reason: "host " + host + " does not resolve", Kind: ErrInvalidURL}
	}
	for _, a := range addrs {
		if why := connectors.AddressRefusal(a, p.o.Config.Server.AllowPrivateFileHosts); why != "" {
			return &URLError{Reason: fmt.Sprintf("host %s resolves to %s, which %s", host, a.Unmap(), why), Kind: ErrURLNotAllowed}
		}
	}
	return nil
}
