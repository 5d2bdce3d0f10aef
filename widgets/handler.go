package widgets

import (
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/helpdesk-bridge/bridge/bridge/httpapi"
)

// MaxHelpScoutBody bounds Help Scout's request: a conversation summary.
const MaxHelpScoutBody = 64 << 10

// Register mounts the sidebar routes.
func (s *Service) Register(r gin.IRouter) {
	r.GET("/v1/widgets/gorgias", s.read(FormatJSON))
	r.GET("/v1/widgets/zendesk", s.read(FormatZendesk))
	r.GET("/v1/widgets/html", s.read(FormatHTML))
	r.GET("/v1/widgets/gorgias/template", s.template)
	r.POST("/v1/widgets/helpscout/:sidebar", httpapi.LimitBody(MaxHelpScoutBody), s.helpScout)
	r.GET(ConfirmPath, s.confirm)
	r.POST(ActionsPath, httpapi.LimitBody(MaxActionBody), s.act)
	r.POST(CommandsPath, httpapi.LimitBody(MaxCommandBody), s.command)
	r.GET(InvoicePath, s.invoice)
}

func (s *Service) read(format string) gin.HandlerFunc {
	return func(c *gin.Context) {
		email, stores := readQuery(c.Request.URL.RawQuery)
		res, err := s.Serve(c.Request.Context(), Request{
			Token: bearer(c.GetHeader("Authorization")), Email: email, Stores: stores,
			IfNoneMatch: c.GetHeader("If-None-Match"), Format: format,
			AcceptsGzip: AcceptsGzip(c.GetHeader("Accept-Encoding")),
		})
		if err != nil {
			httpapi.Fail(c, err)
			return
		}
		write(c, res)
	}
}

// readQuery takes a read's parameters out of its query as url.ParseQuery
// would (the first email; every store, comma-separated or repeated; a
// pair that does not unescape, or with a ';', left out) without building
// a map of every parameter for two of them.
func readQuery(raw string) (email string, stores []string) {
	seenEmail := false
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		if pair == "" || strings.Contains(pair, ";") {
			continue
		}
		key, value, _ := strings.Cut(pair, "=")
		key, err := url.QueryUnescape(key)
		if err != nil || (key != "email" && key != "store") || (key == "email" && seenEmail) {
			continue
		}
		if value, err = url.QueryUnescape(value); err != nil {
			continue
		}
		if key == "email" {
			email, seenEmail = value, true
			continue
		}
		for st := range strings.SplitSeq(value, ",") {
			if st = strings.TrimSpace(st); st != "" {
				stores = append(stores, st)
			}
		}
	}
	return email, stores
}

func (s *Service) helpScout(c *gin.Context) {
	body, err := io.ReadAll(c.Request.Body)
	if err != nil {
		httpapi.Fail(c, err)
		return
	}
	res, err := s.ServeHelpScout(c.Request.Context(), c.Param("sidebar"), c.GetHeader("X-HelpScout-Signature"), body, AcceptsGzip(c.GetHeader("Accept-Encoding")))
	if err != nil {
		httpapi.Fail(c, err)
		return
	}
	write(c, res)
}

func (s *Service) template(c *gin.Context) {
	v, err := s.Authenticate(bearer(c.GetHeader("Authorization")))
	if err != nil {
		httpapi.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, GorgiasTemplate(v))
}

// Header values every widget answer shares, set as they are rather than
// built for each answer (a read is a few microseconds of work in all).
// Their slices are never written to: net/http only reads them.
var (
	varyEncoding = []string{"Accept-Encoding"}
	mayKeep      = []string{"private, no-cache"}
	noStore      = []string{"no-store"}
	gzipEncoding = []string{"gzip"}
	states       = map[string][]string{StateOK: {StateOK}, StateStale: {StateStale}, StateUnavailable: {StateUnavailable}}
	contentTypes = map[string][]string{}
	htmlPolicy   = []string{"default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"}
	noSniff      = []string{"nosniff"}
	noReferrer   = []string{"no-referrer"}
)

func init() {
	for _, f := range []string{FormatJSON, FormatZendesk, FormatHelpScout, FormatHTML} {
		contentTypes[contentType(f)] = []string{contentType(f)}
	}
}

// shared is the value of states or contentTypes for v, or a new one.
func shared(values map[string][]string, v string) []string {
	if s, ok := values[v]; ok {
		return s
	}
	return []string{v}
}

func write(c *gin.Context, res Response) {
	// Keys as http.CanonicalHeaderKey has them.
	h := c.Writer.Header()
	// Whether the answer is gzipped depends on Accept-Encoding.
	h["Vary"] = varyEncoding
	if res.ETag != "" {
		if res.Encoding != "" {
			// Another representation's bytes: a weak validator, which
			// If-None-Match still matches.
			h["Etag"] = []string{"W/" + res.ETag}
		} else {
			h["Etag"] = []string{res.ETag}
		}
		// Agents' browsers may keep it, but must ask again each time.
		h["Cache-Control"] = mayKeep
	} else {
		h["Cache-Control"] = noStore
	}
	h["X-Widget-Status"] = shared(states, res.Freshness.State)
	if strings.HasPrefix(res.ContentType, "text/html") {
		// The page needs nothing but its own inline styles; links open
		// elsewhere without telling where they came from.
		h["Content-Security-Policy"] = htmlPolicy
		h["X-Content-Type-Options"] = noSniff
		h["Referrer-Policy"] = noReferrer
	}
	if res.Status == http.StatusNotModified {
		c.Status(http.StatusNotModified)
		return
	}
	if res.Encoding == "gzip" {
		h["Content-Encoding"] = gzipEncoding
	} else if res.Encoding != "" {
		h["Content-Encoding"] = []string{res.Encoding}
	}
	h["Content-Type"] = shared(contentTypes, res.ContentType)
	// With its length known, net/http sends the body in one write instead
	// of chunks: a widget is larger than its write buffer. A write error
	// is a client gone: there is no one left to tell.
	if res.Kept != "" {
		h["Content-Length"] = []string{strconv.Itoa(len(res.Kept))}
		c.Status(res.Status)
		_, _ = c.Writer.WriteString(res.Kept)
		return
	}
	h["Content-Length"] = []string{strconv.Itoa(len(res.Body))}
	c.Status(res.Status)
	_, _ = c.Writer.Write(res.Body)
}

// bearer takes the token out of an Authorization header.
func bearer(header string) string {
	scheme, token, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(token)
}
