package amazonfake_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/helpdesk-bridge/bridge/connectors/amazon/amazonfake"
)

const market = "A1PA6795UKMFR9"

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }

type env struct {
	t     *testing.T
	fake  *amazonfake.Server
	url   string
	clock *clock
	token string
}

func newEnv(t *testing.T, opts amazonfake.Options) *env {
	clk := &clock{t: time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)}
	opts.ClientID, opts.ClientSecret, opts.RefreshTokens = "cid", "csecret", []string{"Atzr|r"}
	opts.MarketplaceIDs = []string{market}
	opts.Now = clk.Now
	f := amazonfake.New(opts)
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	e := &env{t: t, fake: f, url: srv.URL, clock: clk}
	status, body, _ := e.lwa("application/x-www-form-urlencoded", "grant_type=refresh_token&refresh_token=Atzr%7Cr&client_id=cid&client_secret=csecret")
	var tok struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
		TokenType   string `json:"token_type"`
	}
	if status != 200 || json.Unmarshal(body, &tok) != nil || !strings.HasPrefix(tok.AccessToken, "Atza|") || tok.ExpiresIn != 3600 || tok.TokenType != "bearer" {
		t.Fatalf("LWA: %d %s", status, body)
	}
	e.token = tok.AccessToken
	return e
}

func (e *env) lwa(contentType, body string) (int, []byte, http.Header) {
	resp, err := http.Post(e.url+"/auth/o2/token", contentType, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, data, resp.Header
}

func (e *env) get(path string, q url.Values, tok string) (int, []byte, http.Header) {
	req, _ := http.NewRequest(http.MethodGet, e.url+path+"?"+q.Encode(), nil)
	if tok != "" {
		req.Header.Set("x-amz-access-token", tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, data, resp.Header
}

func (e *env) post(path, body, tok string) (int, []byte) {
	req, _ := http.NewRequest(http.MethodPost, e.url+path, strings.NewReader(body))
	req.Header.Set("x-amz-access-token", tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, data
}

// amazonError is the first of {"errors":[{code, message, details}]}.
func amazonError(t *testing.T, body []byte) (code, details string) {
	t.Helper()
	var b struct {
		Errors []struct {
			Code    string  `json:"code"`
			Message string  `json:"message"`
			Details *string `json:"details"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(body, &b); err != nil || len(b.Errors) != 1 || b.Errors[0].Code == "" || b.Errors[0].Message == "" || b.Errors[0].Details == nil {
		t.Fatalf("not Amazon's error shape: %s", body)
	}
	return b.Errors[0].Code, *b.Errors[0].Details
}

func TestLWAErrors(t *testing.T) {
	e := newEnv(t, amazonfake.Options{})
	for _, tc := range []struct {
		ct, body string
		status   int
		code     string
	}{
		{"application/x-www-form-urlencoded", "grant_type=refresh_token&client_id=cid&client_secret=csecret", 400, "invalid_request"},
		{"application/x-www-form-urlencoded", "grant_type=refresh_token&refresh_token=x&client_id=cid&client_secret=bad", 401, "invalid_client"},
		{"application/x-www-form-urlencoded", "grant_type=refresh_token&refresh_token=x&client_id=cid&client_secret=csecret", 400, "invalid_grant"},
		{"application/x-www-form-urlencoded", "grant_type=authorization_code&refresh_token=x&client_id=cid&client_secret=csecret", 400, "unsupported_grant_type"},
		{"application/json", `{"grant_type":"refresh_token","refresh_token":"Atzr|r","client_id":"cid","client_secret":"csecret"}`, 200, ""},
	} {
		status, body, _ := e.lwa(tc.ct, tc.body)
		var b struct {
			Error string `json:"error"`
			Desc  string `json:"error_description"`
		}
		_ = json.Unmarshal(body, &b)
		if status != tc.status || b.Error != tc.code || (tc.code != "" && b.Desc == "") {
			t.Errorf("%s: %d %s, want %d %s", tc.body, status, body, tc.status, tc.code)
		}
	}
}

func TestAuthentication(t *testing.T) {
	e := newEnv(t, amazonfake.Options{})
	q := url.Values{"MarketplaceIds": {market}, "CreatedAfter": {"2026-01-01T00:00:00Z"}}
	for name, tok := range map[string]string{"missing": "", "unknown": "Atza|nope"} {
		status, body, h := e.get("/orders/v0/orders", q, tok)
		if code, _ := amazonError(t, body); status != 403 || code != "Unauthorized" || h.Get("x-amzn-RateLimit-Limit") != "" || h.Get("x-amzn-RequestId") == "" {
			t.Errorf("%s token: %d %s", name, status, body)
		}
	}
	e.clock.Add(time.Hour)
	status, body, _ := e.get("/orders/v0/orders", q, e.token)
	if _, details := amazonError(t, body); status != 403 || !strings.Contains(details, "expired") {
		t.Errorf("expired token: %d %s", status, body)
	}
	if n := e.fake.Requests(amazonfake.OpGetOrders); n != 0 {
		t.Errorf("refused calls counted: %d", n)
	}
}

func TestGetOrdersValidation(t *testing.T) {
	e := newEnv(t, amazonfake.Options{NoThrottle: true})
	ok := "2026-01-01T00:00:00Z"
	for name, q := range map[string]url.Values{
		"no marketplace":      {"CreatedAfter": {ok}},
		"other marketplace":   {"MarketplaceIds": {"ATVPDKIKX0DER"}, "CreatedAfter": {ok}},
		"no date":             {"MarketplaceIds": {market}},
		"both dates":          {"MarketplaceIds": {market}, "CreatedAfter": {ok}, "LastUpdatedAfter": {ok}},
		"mixed before":        {"MarketplaceIds": {market}, "LastUpdatedAfter": {ok}, "CreatedBefore": {ok}},
		"bad date":            {"MarketplaceIds": {market}, "LastUpdatedAfter": {"01/02/2026"}},
		"before within 2 min": {"MarketplaceIds": {market}, "LastUpdatedAfter": {ok}, "LastUpdatedBefore": {"2026-03-02T11:59:00Z"}},
		"before the after":    {"MarketplaceIds": {market}, "LastUpdatedAfter": {ok}, "LastUpdatedBefore": {"2025-01-01T00:00:00Z"}},
		"page size 0":         {"MarketplaceIds": {market}, "CreatedAfter": {ok}, "MaxResultsPerPage": {"0"}},
		"page size 101":       {"MarketplaceIds": {market}, "CreatedAfter": {ok}, "MaxResultsPerPage": {"101"}},
		"unknown next token":  {"MarketplaceIds": {market}, "NextToken": {"abc"}},
	} {
		status, body, h := e.get("/orders/v0/orders", q, e.token)
		if code, _ := amazonError(t, body); status != 400 || code != "InvalidInput" || h.Get("x-amzn-RateLimit-Limit") != "0.0167" {
			t.Errorf("%s: %d %s, limit %q", name, status, body, h.Get("x-amzn-RateLimit-Limit"))
		}
	}
	status, body, _ := e.get("/orders/v0/orders/171-0000000-0000000", nil, e.token)
	if code, _ := amazonError(t, body); status != 404 || code != "NotFound" {
		t.Errorf("unknown order: %d %s", status, body)
	}
}

func TestPagingAndBound(t *testing.T) {
	e := newEnv(t, amazonfake.Options{NoThrottle: true})
	now := e.clock.Now()
	for i := range 5 {
		e.fake.PutOrder(amazonfake.Order{AmazonOrderID: "171-000000" + string(rune('0'+i)) + "-0000000", LastUpdateDate: now.Add(-time.Hour + time.Duration(i)*time.Minute)})
	}
	// Updated a minute ago: after the listing's bound.
	e.fake.PutOrder(amazonfake.Order{AmazonOrderID: "171-0000009-0000000", LastUpdateDate: now.Add(-time.Minute)})
	q := url.Values{"MarketplaceIds": {market}, "LastUpdatedAfter": {"2026-03-02T10:30:00Z"}, "MaxResultsPerPage": {"2"}}
	var ids []string
	for pages := 0; ; pages++ {
		status, body, _ := e.get("/orders/v0/orders", q, e.token)
		var b struct {
			Payload struct {
				Orders []struct {
					AmazonOrderId string
				}
				NextToken         string
				LastUpdatedBefore string
			} `json:"payload"`
		}
		if status != 200 || json.Unmarshal(body, &b) != nil {
			t.Fatalf("page %d: %d %s", pages, status, body)
		}
		if pages == 0 && b.Payload.LastUpdatedBefore != "2026-03-02T11:58:00Z" {
			t.Errorf("LastUpdatedBefore = %q", b.Payload.LastUpdatedBefore)
		}
		for _, o := range b.Payload.Orders {
			ids = append(ids, o.AmazonOrderId)
		}
		if b.Payload.NextToken == "" {
			break
		}
		if pages > 5 {
			t.Fatal("no end")
		}
		// The filters go with the token; a different date is refused.
		bad := url.Values{"MarketplaceIds": {market}, "LastUpdatedAfter": {"2026-03-02T10:31:00Z"}, "NextToken": {b.Payload.NextToken}}
		if status, _, _ := e.get("/orders/v0/orders", bad, e.token); status != 400 {
			t.Errorf("NextToken with other filters: %d", status)
		}
		q.Set("NextToken", b.Payload.NextToken)
	}
	if len(ids) != 5 || ids[0] != "171-0000000-0000000" || ids[4] != "171-0000004-0000000" {
		t.Errorf("listed %v", ids)
	}
}

func TestRateLimit(t *testing.T) {
	e := newEnv(t, amazonfake.Options{})
	e.fake.PutOrder(amazonfake.Order{AmazonOrderID: "171-0000001-0000001"})
	for i := range 30 {
		if status, _, h := e.get("/orders/v0/orders/171-0000001-0000001", nil, e.token); status != 200 || h.Get("x-amzn-RateLimit-Limit") != "0.5" {
			t.Fatalf("call %d: %d, limit %q", i, status, h.Get("x-amzn-RateLimit-Limit"))
		}
	}
	status, body, h := e.get("/orders/v0/orders/171-0000001-0000001", nil, e.token)
	code, _ := amazonError(t, body)
	if status != 429 || code != "QuotaExceeded" || h.Get("x-amzn-RateLimit-Limit") != "" || h.Get("Retry-After") != "" || h.Get("x-amzn-RequestId") == "" {
		t.Errorf("31st call: %d %s %v", status, body, h)
	}
	e.clock.Add(2 * time.Second) // one token at 0.5/s
	if status, _, _ := e.get("/orders/v0/orders/171-0000001-0000001", nil, e.token); status != 200 {
		t.Errorf("after 2 s: %d", status)
	}
	if status, _, _ := e.get("/orders/v0/orders/171-0000001-0000001", nil, e.token); status != 429 {
		t.Errorf("right after: %d", status)
	}
	// getOrderItems has its own bucket.
	if status, _, _ := e.get("/orders/v0/orders/171-0000001-0000001/orderItems", nil, e.token); status != 200 {
		t.Errorf("getOrderItems: %d", status)
	}
}

func TestRestrictedData(t *testing.T) {
	e := newEnv(t, amazonfake.Options{RestrictedRole: true, NoThrottle: true})
	e.fake.PutOrder(amazonfake.Order{AmazonOrderID: "171-0000001-0000001", OrderStatus: amazonfake.StatusShipped, BuyerEmail: "x@marketplace.amazon.de", BuyerName: "B"})
	path := "/orders/v0/orders/171-0000001-0000001"
	buyer := func(tok string) string {
		status, body, _ := e.get(path, nil, tok)
		var b struct {
			Payload struct {
				BuyerInfo *struct{ BuyerEmail string }
			} `json:"payload"`
		}
		if status != 200 || json.Unmarshal(body, &b) != nil {
			t.Fatalf("getOrder: %d %s", status, body)
		}
		if b.Payload.BuyerInfo == nil {
			return ""
		}
		return b.Payload.BuyerInfo.BuyerEmail
	}
	if got := buyer(e.token); got != "" {
		t.Errorf("buyer email %q without an RDT", got)
	}
	status, body := e.post("/tokens/2021-03-01/restrictedDataToken", `{"restrictedResources":[{"method":"GET","path":"`+path+`","dataElements":["buyerInfo"]}]}`, e.token)
	var r struct {
		Token     string `json:"restrictedDataToken"`
		ExpiresIn int    `json:"expiresIn"`
	}
	if status != 200 || json.Unmarshal(body, &r) != nil || !strings.HasPrefix(r.Token, "Atz.sprdt|") || r.ExpiresIn != 3600 {
		t.Fatalf("RDT: %d %s", status, body)
	}
	if got := buyer(r.Token); got != "x@marketplace.amazon.de" {
		t.Errorf("buyer email %q with an RDT", got)
	}
	// An RDT covers its path only.
	if status, _, _ := e.get("/orders/v0/orders/171-0000001-0000001/orderItems", nil, r.Token); status != 403 {
		t.Errorf("RDT on another path: %d", status)
	}
	if status, body := e.post("/tokens/2021-03-01/restrictedDataToken", `{"restrictedResources":[]}`, e.token); status != 400 {
		t.Errorf("no resources: %d %s", status, body)
	}

	noRole := newEnv(t, amazonfake.Options{})
	status, body = noRole.post("/tokens/2021-03-01/restrictedDataToken", `{"restrictedResources":[{"method":"GET","path":"/orders/v0/orders","dataElements":["buyerInfo"]}]}`, noRole.token)
	if status != 403 || !strings.Contains(string(body), "does not have access") {
		t.Errorf("RDT without the role: %d %s", status, body)
	}
}
