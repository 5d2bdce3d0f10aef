package config

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/go-playground/validator/v10"
	"github.com/redis/go-redis/v9"

	"github.com/helpdesk-bridge/bridge/invoices/settings"
)

// Problem is one thing wrong with the configuration.
type Problem struct {
	// Field is the YAML path, such as merchants[0].stores[1].id; empty for
	// a problem with the whole file.
	Field string
	// Line is the line in the file, 0 when unknown or not in the file.
	Line    int
	Message string
}

func (p Problem) String() string {
	s := p.Message
	if p.Field != "" {
		s = p.Field + ": " + s
	}
	if p.Line > 0 {
		s += fmt.Sprintf(" (line %d)", p.Line)
	}
	return s
}

// Problems is every problem found, so that one run shows them all.
type Problems []Problem

// Error lists the problems one per line.
func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Validate checks a configuration, with its defaults applied, and returns
// Problems, or nil. Load and Parse call it; it serves a Config built in
// code.
func (c *Config) Validate() error {
	if ps := c.problems(); len(ps) > 0 {
		return ps
	}
	return nil
}

func (c *Config) problems() Problems {
	var ps Problems
	if err := validatorInstance().Struct(c); err != nil {
		var fes validator.ValidationErrors
		if !errors.As(err, &fes) {
			return Problems{{Message: err.Error()}}
		}
		for _, fe := range fes {
			// The namespace starts with the Go type's name: "Config.".
			_, field, _ := strings.Cut(fe.Namespace(), ".")
			ps = append(ps, Problem{Field: field, Message: message(fe)})
		}
	}
	ps = append(ps, c.Server.problems()...)
	ps = append(ps, c.Redis.problems()...)
	ps = append(ps, c.InvoiceFiles.problems()...)
	ps = append(ps, c.merchantProblems()...)
	return ps
}

var validatorInstance = sync.OnceValue(func() *validator.Validate {
	v := validator.New(validator.WithRequiredStructEnabled())
	// Problems name fields as the file does.
	v.RegisterTagNameFunc(func(f reflect.StructField) string {
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			return ""
		}
		return name
	})
	// A Secret is validated as its value; messages never show values.
	v.RegisterCustomTypeFunc(func(f reflect.Value) any { return f.Interface().(Secret).value }, Secret{})
	if err := v.RegisterValidation("slug", func(fl validator.FieldLevel) bool {
		return slug.MatchString(fl.Field().String())
	}); err != nil {
		panic(err)
	}
	// strong=N: a secret the bridge checks what callers send against, at
	// least N characters long and not trivially repeated, so that it
	// cannot be guessed.
	if err := v.RegisterValidation("strong", func(fl validator.FieldLevel) bool {
		n, err := strconv.Atoi(fl.Param())
		s := fl.Field().String()
		return err == nil && utf8.RuneCountInString(s) >= n && !trivial(s)
	}); err != nil {
		panic(err)
	}
	// httpurl: an http(s) address the bridge calls or links to, as the
	// connectors accept it at start-up.
	if err := v.RegisterValidation("httpurl", func(fl validator.FieldLevel) bool {
		return httpURLProblem(fl.Field().String()) == ""
	}); err != nil {
		panic(err)
	}
	return v
})

// slug ids go into Redis keys, tags and URLs as they are.
var slug = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$`)

// message says in words what a failed tag asks for. It never shows the
// value, which may be a secret.
func message(fe validator.FieldError) string {
	switch fe.Tag() {
	case "required":
		return "is required"
	case "required_if":
		kind, value, _ := strings.Cut(fe.Param(), " ")
		return fmt.Sprintf("is required when %s is %s", strings.ToLower(kind), value)
	case "min", "gte":
		if fe.Type() == durationType && (fe.Param() == "0" || fe.Param() == "0s") {
			return "must not be negative"
		}
		return bound(fe, "at least")
	case "max", "lte":
		return bound(fe, "at most")
	case "oneof":
		return "must be one of: " + strings.Join(strings.Fields(fe.Param()), ", ")
	case "url":
		return "must be an absolute URL such as https://example.com"
	case "email":
		return "must be an email address"
	case "numeric":
		return "must be a decimal number such as 1000.00"
	case "slug":
		return "must be lowercase letters, digits and dashes, not starting or ending with a dash"
	case "hostname_port":
		return "must be host:port"
	case "strong":
		// The value is looked at, never shown. Too short, the length is
		// what to fix first.
		n, _ := strconv.Atoi(fe.Param())
		if v, _ := fe.Value().(string); utf8.RuneCountInString(v) >= n && trivial(v) {
			return "must not be all spaces or one character repeated, or it can be guessed; set it to a random value such as " + SuggestSecret()
		}
		return fmt.Sprintf("must be at least %s characters long, or it can be guessed; set it to a random value such as %s", fe.Param(), SuggestSecret())
	case "httpurl":
		v, _ := fe.Value().(string)
		return httpURLProblem(v)
	case "hostname_rfc1123":
		return "must be a host name such as mx.example.com"
	case "hostname_port|hostname":
		return "must be a host name, or host:port, such as files.example.com"
	default:
		return fmt.Sprintf("fails the %q check", fe.Tag())
	}
}

// trivial tells whether a secret is all whitespace or one character
// repeated: long enough, yet guessed at once. A cheap sanity check, not an
// estimate of entropy.
func trivial(s string) bool {
	if strings.TrimSpace(s) == "" {
		return true
	}
	first, _ := utf8.DecodeRuneInString(s)
	return strings.Trim(s, string(first)) == ""
}

// httpURLProblem says what keeps u from being an absolute http(s) URL with
// a host and nothing the connectors refuse, or "". It never quotes u: a
// URL may hold credentials.
func httpURLProblem(u string) string {
	p, err := url.Parse(u)
	switch {
	case err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "":
		return "must be an absolute http(s) URL such as https://example.com"
	case p.User != nil:
		return "must not hold credentials (user:password@): give them in their own settings, as ${ENV_VAR} references"
	case p.RawQuery != "" || p.ForceQuery || p.Fragment != "":
		return "must not have a query or a fragment"
	}
	return ""
}

// SuggestSecret returns a fresh random value fit for any secret the
// bridge checks: 40 hex digits (160 bits), within every length bound,
// the Help Scout secret's 40 included.
func SuggestSecret() string {
	var b [20]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}

func bound(fe validator.FieldError, which string) string {
	switch fe.Kind() {
	case reflect.Slice, reflect.Map, reflect.Array:
		unit := "items"
		if fe.Param() == "1" {
			unit = "item"
		}
		return fmt.Sprintf("must have %s %s %s", which, fe.Param(), unit)
	case reflect.String:
		unit := "characters"
		if fe.Param() == "1" {
			unit = "character"
		}
		return fmt.Sprintf("must be %s %s %s long", which, fe.Param(), unit)
	default:
		return fmt.Sprintf("must be %s %s", which, fe.Param())
	}
}

func (s Server) problems() Problems {
	var ps Problems
	if msg := listenProblem(s.Listen); msg != "" {
		ps = append(ps, Problem{Field: "server.listen", Message: msg})
	}
	if strings.Contains(s.Admin.Username, ":") {
		// Basic auth's user-pass is split at the first colon.
		ps = append(ps, Problem{Field: "server.admin.username", Message: "must not contain a colon: HTTP basic auth ends the username at the first colon, so it could never match"})
	}
	return ps
}

// listenProblem checks host:port as the service will listen on it: the
// host may be left out, the port is a number (0 picks a free one).
func listenProblem(l string) string {
	host, port, err := net.SplitHostPort(l)
	if err != nil {
		return "must be host:port or :port, such as :8080 or 127.0.0.1:8080"
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return "must have a port from 0 to 65535, such as :8080"
	}
	if _, err := netip.ParseAddr(host); host != "" && err != nil && !hostname.MatchString(host) {
		return "must have a host name or IP address before the port, or none, such as :8080 or 127.0.0.1:8080"
	}
	return ""
}

func (r Redis) problems() Problems {
	var ps Problems
	if r.URL != "" && len(r.Addrs) > 0 {
		ps = append(ps, Problem{Field: "redis.url", Message: "give either url, for one node, or addrs, for Cluster or Sentinel, not both"})
	}
	if r.MasterName != "" && len(r.Addrs) == 0 {
		ps = append(ps, Problem{Field: "redis.master_name", Message: "needs redis.addrs, the Sentinel nodes"})
	}
	if strings.ContainsAny(r.KeyPrefix, "{}") {
		// A brace would change the part of each key that Redis Cluster
		// hashes, and with it the hash tags that keep related keys in one
		// slot (see bridge/rdb).
		ps = append(ps, Problem{Field: "redis.key_prefix", Message: "must not contain { or }: the keys' own hash tags decide their Cluster slots"})
	}
	if r.URL != "" {
		// The URL is not quoted: it may be a platform's, with credentials.
		u, err := url.Parse(r.URL)
		switch {
		case err != nil || (u.Scheme != "redis" && u.Scheme != "rediss" && u.Scheme != "unix"):
			ps = append(ps, Problem{Field: "redis.url", Message: "must be a redis://, rediss:// or unix:// URL"})
		case u.Scheme == "unix" && u.Path == "":
			ps = append(ps, Problem{Field: "redis.url", Message: "must name the socket, as in unix:///run/redis.sock"})
		case u.Query().Has("password"):
			ps = append(ps, Problem{Field: "redis.url", Message: "must not hold a password in its query: give it in redis.password as a ${ENV_VAR} reference"})
		default:
			// As the service will read it: the database number, the
			// options of the query.
			if _, err := redis.ParseURL(r.URL); err != nil {
				ps = append(ps, Problem{Field: "redis.url", Message: "is not a URL the Redis client takes: " + strings.TrimPrefix(err.Error(), "redis: ")})
			}
		}
		if r.TLS && u != nil && u.Scheme != "rediss" {
			// tls serves addrs; the client takes a url's TLS from its scheme.
			ps = append(ps, Problem{Field: "redis.tls", Message: "has no effect with redis.url: write the url as rediss://host:port/db for TLS"})
		}
	}
	return ps
}

func (f InvoiceFiles) problems() Problems {
	const path = "invoice_files.s3"
	switch {
	case f.Kind == InvoiceFilesS3 && f.S3 == nil:
		return Problems{{Field: path, Message: "is required when kind is s3"}}
	case f.Kind == InvoiceFilesRedis && f.S3 != nil:
		// Kept by mistake, it would look like the PDFs go to the bucket.
		return Problems{{Field: path, Message: "is set but invoice_files.kind is redis: set kind: s3 to keep PDFs in the bucket, or remove the block"}}
	case f.S3 == nil:
		return nil
	}
	var ps Problems
	if f.S3.Endpoint != "" {
		if msg := endpointProblem(f.S3.Endpoint); msg != "" {
			ps = append(ps, Problem{Field: path + ".endpoint", Message: msg})
		}
	}
	if f.S3.Bucket != "" {
		if msg := bucketProblem(f.S3.Bucket); msg != "" {
			ps = append(ps, Problem{Field: path + ".bucket", Message: msg})
		}
	}
	if !s3Region.MatchString(f.S3.Region) {
		ps = append(ps, Problem{Field: path + ".region", Message: "must be a region name such as eu-west-3: lowercase letters, digits and dashes"})
	}
	if msg := keyPrefixProblem(f.S3.Prefix); msg != "" {
		ps = append(ps, Problem{Field: path + ".prefix", Message: msg})
	}
	return ps
}

var s3Region = regexp.MustCompile(`^(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)?$`)

// endpointProblem checks host or host:port. A scheme is refused rather
// than stripped: tls says whether the bucket is reached over TLS, and one
// written here could contradict it.
func endpointProblem(e string) string {
	if strings.Contains(e, "://") {
		return "must be host or host:port without a scheme, such as s3.eu-west-3.amazonaws.com; tls says whether to use TLS"
	}
	if strings.ContainsAny(e, "/?#@ ") {
		return "must be host or host:port, without a path, query or credentials"
	}
	host := e
	if h, port, err := net.SplitHostPort(e); err == nil {
		n, perr := strconv.Atoi(port)
		if perr != nil || n < 1 || n > 65535 {
			return "must be host or host:port, with a port from 1 to 65535"
		}
		host = h
	}
	if net.ParseIP(host) == nil && !hostname.MatchString(host) {
		return "must be host or host:port, such as s3.eu-west-3.amazonaws.com or minio.internal:9000"
	}
	return ""
}

var hostname = regexp.MustCompile(`^(?i:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(?:\.(?i:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?))*$`)

// bucketProblem applies S3's bucket naming rules, which every compatible
// service follows: the name goes into host names.
func bucketProblem(b string) string {
	switch {
	case len(b) < 3 || len(b) > 63:
		return "must be 3 to 63 characters long"
	case !s3Bucket.MatchString(b):
		return "must be lowercase letters, digits, dots and dashes, starting and ending with a letter or digit"
	case strings.Contains(b, ".."):
		return "must not have two dots in a row"
	case net.ParseIP(b) != nil:
		return "must not be an IP address"
	case strings.HasPrefix(b, "xn--") || strings.HasPrefix(b, "sthree-") ||
		strings.HasSuffix(b, "-s3alias") || strings.HasSuffix(b, "--ol-s3"):
		return "must not start with xn-- or sthree-, nor end with -s3alias or --ol-s3: S3 reserves them"
	}
	return ""
}

var s3Bucket = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]*[a-z0-9]$`)

// keyPrefixProblem refuses prefixes that tools and servers rewrite: a
// leading slash, empty, "." or ".." segments, control characters.
func keyPrefixProblem(p string) string {
	if p == "" {
		return ""
	}
	if !utf8.ValidString(p) || strings.IndexFunc(p, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '\\' }) >= 0 {
		return "must be printable text without backslashes"
	}
	if strings.HasPrefix(p, "/") {
		return "must not start with /"
	}
	for seg := range strings.SplitSeq(strings.TrimSuffix(p, "/"), "/") {
		if seg == "" || seg == "." || seg == ".." {
			return "must not have empty, . or .. segments between slashes"
		}
	}
	return ""
}

func (c *Config) merchantProblems() Problems {
	var ps Problems
	// Each maps an id to the path of its first use.
	merchants := map[string]string{}
	stores := map[string]string{}
	helpdesks := map[string]string{}
	sidebars := map[string]string{}
	tokens := map[string]string{}
	unique := func(seen map[string]string, id, path, what, why string) {
		if id == "" {
			return // "is required" says it
		}
		if first, dup := seen[id]; dup {
			ps = append(ps, Problem{Field: path, Message: fmt.Sprintf("duplicate %s id %q, first used at %s%s", what, id, first, why)})
			return
		}
		seen[id] = path
	}
	// A token identifies its sidebar or merchant, so it is used once, among
	// API and sidebar tokens alike. Compared by value, never printed.
	tokenOnce := func(tok Secret, path, advice string) {
		v := tok.Reveal()
		if v == "" {
			return
		}
		if first, dup := tokens[v]; dup {
			ps = append(ps, Problem{Field: path, Message: "is the same token as " + first + "; " + advice})
			return
		}
		tokens[v] = path
	}

	for i, m := range c.Merchants {
		mp := fmt.Sprintf("merchants[%d]", i)
		unique(merchants, m.ID, mp+".id", "merchant", "")
		own := map[string]bool{}
		// A store without an id is reported already; which one a
		// reference names cannot be told.
		ownStores := func(path string, ids []string) {
			for k, s := range ids {
				if !own[s] && !own[""] {
					ps = append(ps, Problem{Field: fmt.Sprintf("%s.stores[%d]", path, k), Message: fmt.Sprintf("%q is not a store of merchant %q", s, m.ID)})
				}
			}
		}
		for j, s := range m.Stores {
			sp := fmt.Sprintf("%s.stores[%d]", mp, j)
			unique(stores, s.ID, sp+".id", "store", ": events name a store, so store ids are unique across merchants")
			own[s.ID] = true
			if s.OrderURL != "" && !strings.Contains(s.OrderURL, "{order_id}") {
				ps = append(ps, Problem{Field: sp + ".order_url", Message: "must contain {order_id}, replaced by the order's id"})
			}
			if s.SupportURL != "" && !strings.Contains(s.SupportURL, "{order_id}") {
				ps = append(ps, Problem{Field: sp + ".support_url", Message: "must contain {order_id}, replaced by the order's id"})
			}
			if s.Invoices != nil {
				// Checked as the bridge uses them, with their defaults.
				var fes settings.FieldErrors
				if errors.As(s.Invoices.Normalize().Validate(sp+".invoices"), &fes) {
					for _, fe := range fes {
						ps = append(ps, Problem{Field: fe.Field, Message: fe.Msg})
					}
				}
			}
		}
		for j, h := range m.Helpdesks {
			hp := fmt.Sprintf("%s.helpdesks[%d]", mp, j)
			unique(helpdesks, h.ID, hp+".id", "helpdesk", ": the shared rate limiter is keyed by helpdesk id, so helpdesk ids are unique across merchants")
			ownStores(hp, h.Stores)
			// Negative values are reported by their tags.
			if rl := h.RateLimit; rl.Requests > 0 && rl.Per == 0 {
				ps = append(ps, Problem{Field: hp + ".rate_limit.per", Message: "must be more than 0 when requests is set"})
			} else if rl.Requests == 0 && rl.Per > 0 {
				ps = append(ps, Problem{Field: hp + ".rate_limit.requests", Message: "must be more than 0 when per is set"})
			}
			if rl := h.UpdateRateLimit; rl != (RateLimit{}) && h.Kind != KindZendesk {
				ps = append(ps, Problem{Field: hp + ".update_rate_limit", Message: "only a zendesk account has one: Zendesk limits Update Ticket on its own"})
			} else if (rl.Requests > 0) != (rl.Per > 0) {
				ps = append(ps, Problem{Field: hp + ".update_rate_limit", Message: "needs both requests and per"})
			}
		}
		for j, sb := range m.Sidebars {
			sp := fmt.Sprintf("%s.sidebars[%d]", mp, j)
			unique(sidebars, sb.ID, sp+".id", "sidebar", ": Help Scout's URL names the sidebar, so sidebar ids are unique across merchants")
			ownStores(sp, sb.Stores)
			switch {
			case sb.Kind == SidebarHelpScout && sb.Secret.Reveal() == "":
				ps = append(ps, Problem{Field: sp + ".secret", Message: "is required for a helpscout sidebar: it verifies X-HelpScout-Signature"})
			case (sb.Kind == SidebarGorgias || sb.Kind == SidebarZendesk || sb.Kind == SidebarHTML) && sb.Token.Reveal() == "":
				ps = append(ps, Problem{Field: sp + ".token", Message: "is required: the helpdesk sends it as a bearer token"})
			}
			tokenOnce(sb.Token, sp+".token", "each sidebar needs its own")
			ps = append(ps, sb.Layout.problems(sp+".layout")...)
		}
		for j, tok := range m.APITokens {
			tokenOnce(tok, fmt.Sprintf("%s.api_tokens[%d]", mp, j), "each token is used once")
		}
		ownHelpdesks := map[string]bool{}
		for _, h := range m.Helpdesks {
			ownHelpdesks[h.ID] = true
		}
		for j, mk := range m.Marketplaces {
			kp := fmt.Sprintf("%s.marketplaces[%d]", mp, j)
			unique(helpdesks, mk.ID, kp+".id", "account", ": the shared rate limiter is keyed by account id, so marketplace and helpdesk ids are unique across merchants")
			if mk.Store != "" && !own[mk.Store] {
				ps = append(ps, Problem{Field: kp + ".store", Message: fmt.Sprintf("%q is not a store of merchant %q", mk.Store, m.ID)})
			}
			if mk.Helpdesk != "" && !ownHelpdesks[mk.Helpdesk] {
				ps = append(ps, Problem{Field: kp + ".helpdesk", Message: fmt.Sprintf("%q is not a helpdesk of merchant %q", mk.Helpdesk, m.ID)})
			}
			if rl := mk.RateLimit; (rl.Requests > 0) != (rl.Per > 0) {
				ps = append(ps, Problem{Field: kp + ".rate_limit", Message: "needs both requests and per"})
			}
			if mk.Kind != KindRakuten && mk.SyncEvery > 0 && mk.SyncEvery < 10*time.Second {
				why := "Mirakl advises against polling faster"
				if mk.Kind != KindMirakl {
					why = "faster polling would spend the account's rate budget on empty listings"
				}
				ps = append(ps, Problem{Field: kp + ".sync_every", Message: "must be at least 10s: " + why})
			}
			if mk.AutoAccept.Enabled && !slices.Contains(OrderActionKinds, mk.Kind) {
				ps = append(ps, Problem{Field: kp + ".auto_accept.enabled", Message: fmt.Sprintf("a %s account cannot act on orders; only %s can", mk.Kind, strings.Join(OrderActionKinds, ", "))})
			}
			if mk.SyncOrders && !mk.ListsOrders() {
				ps = append(ps, Problem{Field: kp + ".sync_orders", Message: fmt.Sprintf("%s %s account cannot list orders; only %s can, and an email account with amazon_orders", article(mk.Kind), mk.Kind, strings.Join(OrderListKinds, ", "))})
			}
			if e := mk.Email; e != nil {
				ps = append(ps, e.relayProblems(kp+".email")...)
				for _, srv := range []struct {
					name string
					MailServer
				}{{"imap", e.IMAP}, {"smtp", e.SMTP}} {
					if srv.TLS == "none" && !loopbackAddr(srv.Addr) {
						ps = append(ps, Problem{Field: kp + ".email." + srv.name + ".tls", Message: "none sends the password in clear text: only for a server on this machine (a loopback address); use starttls or implicit"})
					}
				}
			}
			if e := mk.Email; e != nil && e.AmazonOrders != nil && e.Profile != "amazon" {
				ps = append(ps, Problem{Field: kp + ".email.amazon_orders", Message: "only an account of profile amazon reads Amazon's orders"})
			}
			if mk.Kind != KindEmail && mk.Email != nil {
				ps = append(ps, Problem{Field: kp + ".email", Message: "only an account of kind email has a mailbox"})
			}
			if mk.Kind != KindFnac && mk.Fnac != nil {
				ps = append(ps, Problem{Field: kp + ".fnac", Message: "only an account of kind fnac has a fnac section"})
			}
			if mk.Kind != KindRakuten && mk.Rakuten != nil {
				ps = append(ps, Problem{Field: kp + ".rakuten", Message: "only an account of kind rakuten has a rakuten section"})
			}
			if mk.Kind == KindRakuten && mk.SyncEvery > 0 && mk.SyncEvery < time.Minute {
				ps = append(ps, Problem{Field: kp + ".sync_every", Message: "must be at least 1m for rakuten: each sync reads the todo list, and Rakuten's hourly quota refuses every call for the rest of the hour once spent"})
			}
			if mk.AutoAccept.Enabled && !mk.SyncOrders {
				ps = append(ps, Problem{Field: kp + ".auto_accept.enabled", Message: "auto_accept needs sync_orders: true, whose sync finds the new orders"})
			}
			if mk.InvoiceDocumentType != "" && mk.Kind != KindMirakl {
				ps = append(ps, Problem{Field: kp + ".invoice_document_type", Message: fmt.Sprintf("a %s account keeps no order documents; only mirakl takes invoice_document_type", mk.Kind)})
			} else if mk.InvoiceDocumentType != "" && !documentTypeCode.MatchString(mk.InvoiceDocumentType) {
				ps = append(ps, Problem{Field: kp + ".invoice_document_type", Message: "must be a Mirakl document type code: letters, digits and underscores, such as CUSTOMER_INVOICE"})
			}
			if mk.RatingAlerts && !slices.Contains(EvaluationKinds, mk.Kind) {
				ps = append(ps, Problem{Field: kp + ".rating_alerts", Message: fmt.Sprintf("a %s account cannot list order evaluations; only %s can", mk.Kind, strings.Join(EvaluationKinds, ", "))})
			}
			if mk.RatingSyncEvery > 0 && mk.RatingSyncEvery < 5*time.Minute {
				ps = append(ps, Problem{Field: kp + ".rating_sync_every", Message: "must be at least 5m: each sync asks every order of rating_window for its evaluation"})
			}
		}
	}
	return ps
}

// problems checks that a layout names only known fields, each once.
func (l Layout) problems(path string) Problems {
	var ps Problems
	lists := l.Lists()
	for _, section := range WidgetSections {
		known := WidgetFields[section]
		seen := map[string]bool{}
		for i, f := range lists[section] {
			fp := fmt.Sprintf("%s.%s[%d]", path, section, i)
			switch {
			case !slices.Contains(known, f):
				ps = append(ps, Problem{Field: fp, Message: fmt.Sprintf("unknown field %q; %s has: %s", f, section, strings.Join(known, ", "))})
			case seen[f]:
				ps = append(ps, Problem{Field: fp, Message: fmt.Sprintf("%q is listed twice", f)})
			}
			seen[f] = true
		}
	}
	return ps
}

// article is "a" or "an" before word.
func article(word string) string {
	if word != "" && strings.ContainsRune("aeiou", rune(word[0])) {
		return "an"
	}
	return "a"
}

// relayProblems checks that the generic profile has its relay and only
// it has one, with patterns that compile.
func (e *EmailAccount) relayProblems(path string) Problems {
	var ps Problems
	switch {
	case e.Profile == "generic" && e.Relay == nil:
		return Problems{{Field: path + ".relay", Message: "is required when profile is generic"}}
	case e.Profile != "generic" && e.Relay != nil:
		return Problems{{Field: path + ".relay", Message: "only the generic profile takes a relay; amazon and cdon have their own rules"}}
	case e.Relay == nil:
		return nil
	}
	r := e.Relay
	if r.OrderSubject == "" && r.CaseSubject == "" && r.OrderBody == "" && r.CaseBody == "" {
		ps = append(ps, Problem{Field: path + ".relay", Message: "needs a pattern for the order or the case (order_subject, case_subject, order_body or case_body)"})
	}
	for name, re := range map[string]string{"order_subject": r.OrderSubject, "case_subject": r.CaseSubject, "order_body": r.OrderBody, "case_body": r.CaseBody} {
		if re == "" {
			continue
		}
		if c, err := regexp.Compile(re); err != nil {
			ps = append(ps, Problem{Field: path + ".relay." + name, Message: "is not a regular expression: " + err.Error()})
		} else if c.NumSubexp() == 0 {
			ps = append(ps, Problem{Field: path + ".relay." + name, Message: "needs a group, (…), around the id"})
		}
	}
	slices.SortFunc(ps, func(a, b Problem) int { return strings.Compare(a.Field, b.Field) })
	return ps
}

// documentTypeCode is the shape of Mirakl's document type codes (DO01).
var documentTypeCode = regexp.MustCompile(`^[A-Za-z0-9_]{1,64}$`)

// loopbackAddr tells whether host:port names this machine: localhost or a
// loopback address.
func loopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
