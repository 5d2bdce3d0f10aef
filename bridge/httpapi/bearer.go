package httpapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/rs/zerolog"

	"github.com/helpdesk-bridge/bridge/config"
)

// Stable error codes of the routes a merchant's API token opens.
const (
	CodeMissingToken = "missing_token"
	CodeInvalidToken = "invalid_token"
)

// MerchantTokens are the merchants' API tokens (merchants[].api_tokens):
// a bearer token decides the merchant, and only that merchant's data is
// ever reached. The discussion and order APIs share them.
type MerchantTokens struct {
	// byDigest maps the SHA-256 of each token to its merchant.
	byDigest map[[sha256.Size]byte]merchantToken
}

type merchantToken struct {
	token    string
	merchant string // "" for a token two merchants list: it opens neither
}

// NewMerchantTokens indexes each merchant's tokens; empty ones are skipped.
func NewMerchantTokens(byMerchant map[string][]string) *MerchantTokens {
	out := map[[sha256.Size]byte]merchantToken{}
	for merchant, tokens := range byMerchant {
		for _, tok := range tokens {
			if tok == "" {
				continue
			}
			sum := sha256.Sum256([]byte(tok))
			if prev, dup := out[sum]; dup && prev.merchant != merchant {
				out[sum] = merchantToken{token: tok}
				continue
			}
			out[sum] = merchantToken{token: tok, merchant: merchant}
		}
	}
	return &MerchantTokens{byDigest: out}
}

// MerchantAPITokens are the API tokens of cfg's merchants.
func MerchantAPITokens(cfg *config.Config) *MerchantTokens {
	byMerchant := map[string][]string{}
	for _, m := range cfg.Merchants {
		for _, sec := range m.APITokens {
			byMerchant[m.ID] = append(byMerchant[m.ID], sec.Reveal())
		}
	}
	return NewMerchantTokens(byMerchant)
}

// merchantKey holds the authenticated merchant in the gin context.
const merchantKey = "httpapi.merchant"

// Authenticate finds the merchant of the bearer token, challenging in
// realm otherwise. The map is keyed by the token's digest and the token
// compared again in constant time, so that no timing tells how much of a
// guess was right.
func (t *MerchantTokens) Authenticate(realm string) gin.HandlerFunc {
	return func(c *gin.Context) {
		token := BearerToken(c.GetHeader("Authorization"))
		if token == "" {
			c.Header("WWW-Authenticate", `Bearer realm="`+realm+`"`)
			Fail(c, Errorf(http.StatusUnauthorized, CodeMissingToken, "Authorization", "Authorization: a Bearer token is required"))
			return
		}
		mt, ok := t.byDigest[sha256.Sum256([]byte(token))]
		if !ok || mt.merchant == "" || subtle.ConstantTimeCompare([]byte(mt.token), []byte(token)) != 1 {
			c.Header("WWW-Authenticate", `Bearer realm="`+realm+`", error="invalid_token"`)
			Fail(c, Errorf(http.StatusUnauthorized, CodeInvalidToken, "Authorization", "Authorization: the token is not a merchant's API token"))
			return
		}
		c.Set(merchantKey, mt.merchant)
		ctx := c.Request.Context()
		l := zerolog.Ctx(ctx).With().Str("merchant", mt.merchant).Logger()
		c.Request = c.Request.WithContext(l.WithContext(ctx))
		c.Next()
	}
}

// Merchant is the merchant Authenticate found for the request.
func Merchant(c *gin.Context) string { return c.GetString(merchantKey) }

// BearerToken takes the token out of an Authorization header; "" when it
// holds none.
func BearerToken(header string) string {
	scheme, token, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(token)
}
