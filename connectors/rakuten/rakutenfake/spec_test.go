package rakutenfake_test

import (
	"bytes"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/helpdesk-bridge/bridge/connectors/rakuten/api"
	"github.com/helpdesk-bridge/bridge/connectors/rakuten/rakutenfake"
	"golang.org/x/text/encoding/charmap"
)

// The samples in testdata are the answers recorded by the shiba client.
// The fake must answer with the same element structure, in the same
// namespace: every element the sample has, and nothing more but what a
// sample of another version lacks (extras).

const (
	login = "vendeur"
	token = "the-token"
)

// extras are paths one side has and the other may lack, with why.
var extras = []string{
	// The samples are of older or newer versions than the fake's.
	"saleacceptanceresult/request/shippingfromcountry", "saleacceptanceresult/request/importcountry",
	"saleacceptanceresult/response/shippingfromcountry", "saleacceptanceresult/response/importcountry",
	"saleacceptanceresult/response/onestopshop", "saleacceptanceresult/response/onestopshop/type", "saleacceptanceresult/response/onestopshop/value",
	// Optional parts: a collection point, a claim, a contract level.
	"getcurrentsalesresult/response/sales/sale/deliveryinformation/collectionpointaddress/contractlevel",
	// Commissions the fake does not compute.
	"getbillinginformationresult/response/billinginformation/items/item/itemcommissionvatrate",
	"getbillinginformationresult/response/billinginformation/items/item/itemcommissionexcltax",
	"getbillinginformationresult/response/billinginformation/items/item/itemcommissionexcltax/amount",
	"getbillinginformationresult/response/billinginformation/items/item/itemcommissionexcltax/currency",
	"getbillinginformationresult/response/billinginformation/items/item/itemcommissionvat",
	"getbillinginformationresult/response/billinginformation/items/item/itemcommissionvat/amount",
	"getbillinginformationresult/response/billinginformation/items/item/itemcommissionvat/currency",
	"getbillinginformationresult/response/billinginformation/items/item/shippingcommissionvatrate",
	"getbillinginformationresult/response/billinginformation/items/item/shippingcommissionexcltax",
	"getbillinginformationresult/response/billinginformation/items/item/shippingcommissionexcltax/amount",
	"getbillinginformationresult/response/billinginformation/items/item/shippingcommissionexcltax/currency",
	"getbillinginformationresult/response/billinginformation/items/item/shippingcommissionvat",
	"getbillinginformationresult/response/billinginformation/items/item/shippingcommissionvat/amount",
	"getbillinginformationresult/response/billinginformation/items/item/shippingcommissionvat/currency",
	"getbillinginformationresult/response/billinginformation/items/item/paymentamount",
	"getbillinginformationresult/response/billinginformation/items/item/paymentamount/amount",
	"getbillinginformationresult/response/billinginformation/items/item/paymentamount/currency",
}

// shape lists a document's element paths, each once, and its root's
// namespace.
func shape(t *testing.T, data []byte) ([]string, string) {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(data))
	d.CharsetReader = func(_ string, in io.Reader) (io.Reader, error) { return charmap.ISO8859_1.NewDecoder().Reader(in), nil }
	var path, out []string
	ns := ""
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return out, ns
		}
		if err != nil {
			t.Fatalf("reading XML: %v", err)
		}
		switch e := tok.(type) {
		case xml.StartElement:
			if len(path) == 0 {
				ns = strings.TrimSpace(e.Name.Space)
			}
			path = append(path, e.Name.Local)
			if p := strings.Join(path, "/"); !slices.Contains(out, p) {
				out = append(out, p)
			}
		case xml.EndElement:
			path = path[:len(path)-1]
		}
	}
}

func sample(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func sameShape(t *testing.T, name string, fake []byte) {
	t.Helper()
	want, wantNS := shape(t, sample(t, name))
	got, gotNS := shape(t, fake)
	if wantNS != gotNS {
		t.Errorf("%s: namespace %q, the sample's is %q", name, gotNS, wantNS)
	}
	for _, p := range want {
		if !slices.Contains(got, p) && !slices.Contains(extras, p) {
			t.Errorf("%s: the fake's answer lacks %s", name, p)
		}
	}
	for _, p := range got {
		if !slices.Contains(want, p) && !slices.Contains(extras, p) {
			t.Errorf("%s: the fake's answer has %s, which the sample does not", name, p)
		}
	}
}

func get(t *testing.T, base, action string, params url.Values) []byte {
	t.Helper()
	q := url.Values{api.ParamAction: {action}, api.ParamLogin: {login}, api.ParamPwd: {token}, api.ParamVersion: {api.Versions[action]}}
	for k, v := range params {
		q[k] = v
	}
	resp, err := http.Get(base + api.Path + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("Content-Type"), "ISO-8859-1") {
		t.Fatalf("%s: HTTP %d, %s: %s", action, resp.StatusCode, resp.Header.Get("Content-Type"), data)
	}
	return data
}

func TestAnswersMatchTheSamples(t *testing.T) {
	now := time.Now()
	fake := rakutenfake.New(rakutenfake.Options{Accounts: []rakutenfake.Account{{Login: login, Token: token, SellerID: "18352654"}}, PageSize: 1})
	srv := httptest.NewServer(fake)
	defer srv.Close()
	sale := func(id string, status string) rakutenfake.SaleSeed {
		return rakutenfake.SaleSeed{PurchaseID: id, Date: now.Add(-time.Hour), BuyerLogin: "acheteur1", BuyerEmail: "xxx.xxx@priceminister.com", FirstName: "Jeanne", LastName: "Dupont",
			Items: []rakutenfake.ItemSeed{{ItemID: id + "1", SKU: "sku1234", Headline: "Câble USB", Price: "23.9", Status: status}}}
	}
	for _, s := range []rakutenfake.SaleSeed{sale("100", api.StatusToConfirm), sale("200", api.StatusAccepted), sale("300", api.StatusAccepted), sale("400", api.StatusToConfirm)} {
		if err := fake.PutSale(login, s); err != nil {
			t.Fatal(err)
		}
	}
	if err := fake.AddBuyerMessage(login, "2001", "Merci d'avance pour votre aide ! 😀", now); err != nil {
		t.Fatal(err)
	}
	mailID, err := fake.AddMail(login, "2001", "Réclamation sur votre vente", "Bonjour vendeur,", now)
	if err != nil {
		t.Fatal(err)
	}
	if err := fake.OpenClaim(login, "2001", true, "article abimé"); err != nil {
		t.Fatal(err)
	}
	item := url.Values{api.ParamItemID: {"2001"}}

	sameShape(t, "sample_getnewsales.xml", get(t, srv.URL, api.ActionGetNewSales, nil))
	first := get(t, srv.URL, api.ActionGetCurrentSales, nil)
	sameShape(t, "sample_getcurrentsales.xml", first)
	var cur api.GetCurrentSalesResult
	if err := api.Decode(first, "", &cur); err != nil || cur.Response.NextToken == nil || *cur.Response.NextToken == "" || len(cur.Response.Sales) != 1 {
		t.Fatalf("getcurrentsales's first page of one: %v, %+v", err, cur.Response)
	}
	var second api.GetCurrentSalesResult
	if err := api.Decode(get(t, srv.URL, api.ActionGetCurrentSales, url.Values{api.ParamNextToken: {*cur.Response.NextToken}}), "", &second); err != nil ||
		len(second.Response.Sales) != 1 || *second.Response.NextToken != "" || second.Response.Sales[0].PurchaseID != "300" {
		t.Errorf("getcurrentsales's second page: %v, %+v", err, second.Response)
	}
	sameShape(t, "sample_getitemtodolist.xml", get(t, srv.URL, api.ActionGetItemTodoList, nil))
	infos := get(t, srv.URL, api.ActionGetItemInfos, item)
	sameShape(t, "sample_getiteminfos.xml", infos)
	var info api.GetItemInfosResult
	if err := api.Decode(infos, "", &info); err != nil || len(info.Response.Item.Messages) != 1 || !strings.Contains(info.Response.Item.Messages[0].Content, "😀") {
		t.Errorf("getiteminfos: %v, %+v", err, info.Response.Item.Messages)
	}
	sameShape(t, "sample_contactuser.xml", get(t, srv.URL, api.ActionContactUserAboutItem, url.Values{api.ParamItemID: {"2001"}, api.ParamContent: {"voici le numéro de colis"}}))
	sameShape(t, "sample_contactus.xml", get(t, srv.URL, api.ActionContactUsAboutItem, url.Values{api.ParamItemID: {"2001"}, api.ParamContent: {"bonjour"}, api.ParamMailParentID: {mailID}}))
	sameShape(t, "sample_accept_sale.xml", get(t, srv.URL, api.ActionAcceptSale, url.Values{api.ParamItemID: {"1001"}}))
	sameShape(t, "sample_settrackingpackageinfos.xml", get(t, srv.URL, api.ActionSetTrackingPackage, url.Values{api.ParamItemID: {"3001"},
		api.ParamTransporter: {"TNT"}, api.ParamTrackingNumber: {"11111111"}, api.ParamTrackingURL: {"http://www.priceminister.com"}}))
	sameShape(t, "sample_cancelitem.xml", get(t, srv.URL, api.ActionCancelItem, url.Values{api.ParamItemID: {"2001"}, api.ParamComment: {"je souhaite annuler la vente"}}))
	sameShape(t, "sample_getbillinginformation.xml", get(t, srv.URL, api.ActionGetBillingInformation, url.Values{api.ParamPurchaseID: {"200"}}))

	// Refusals.
	fake2 := rakutenfake.New(rakutenfake.Options{Accounts: []rakutenfake.Account{{Login: login, Token: token}}, QuotaPerHour: 1})
	srv2 := httptest.NewServer(fake2)
	defer srv2.Close()
	get(t, srv2.URL, api.ActionGetNewSales, nil)
	sameShape(t, "quota_exceeded_message.xml", get(t, srv2.URL, api.ActionGetNewSales, nil))
}

// TestSamplesDecode reads every sample with the connector's decoder, as
// real answers must be.
func TestSamplesDecode(t *testing.T) {
	decode := func(name string, v any) {
		t.Helper()
		if err := api.Decode(sample(t, name), "ISO-8859-1", v); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	var news api.GetNewSalesResult
	decode("sample_getnewsales.xml", &news)
	if len(news.Response.Sales) != 1 || news.Response.Sales[0].Items[0].ItemStatus != api.StatusToConfirm {
		t.Errorf("getnewsales: %+v", news.Response)
	}
	var cur api.GetCurrentSalesResult
	decode("sample_getcurrentsales.xml", &cur)
	if len(cur.Response.Sales) != 1 || cur.Response.NextToken == nil || *cur.Response.NextToken != "" {
		t.Errorf("getcurrentsales: %+v", cur.Response)
	}
	var todo api.GetItemTodoListResult
	decode("sample_getitemtodolist.xml", &todo)
	if len(todo.Response.Items) != 1 || len(todo.Response.Items[0].Causes) != 3 {
		t.Errorf("getitemtodolist: %+v", todo.Response)
	}
	var info api.GetItemInfosResult
	decode("sample_getiteminfos.xml", &info)
	it := info.Response.Item
	if len(it.Mails) != 2 || len(it.Messages) != 2 || it.Claim == nil || it.Claim.Amicable != "Y" || len(it.Logs) != 4 {
		t.Errorf("getiteminfos: %d mails, %d messages, claim %+v, %d logs", len(it.Mails), len(it.Messages), it.Claim, len(it.Logs))
	}
	if has, listed := it.HasAction(api.ActionContactUserAboutItem); !has || !listed {
		t.Errorf("getiteminfos: actions %+v", it.Actions)
	}
	if _, err := api.ParseTime(it.Mails[0].SendDate); err != nil {
		t.Errorf("a padded date: %v", err)
	}
	for _, name := range []string{"sample_contactuser.xml", "sample_contactus.xml", "sample_accept_sale.xml", "sample_cancelitem.xml", "sample_settrackingpackageinfos.xml"} {
		var st api.StatusResult
		decode(name, &st)
		if st.Response.Status == "" {
			t.Errorf("%s: no status", name)
		}
	}
	var bill api.GetBillingInformationResult
	decode("sample_getbillinginformation.xml", &bill)
	if len(bill.Response.Items) != 1 {
		t.Errorf("getbillinginformation: %+v", bill.Response)
	}
	var er api.ErrorResponse
	data := sample(t, "quota_exceeded_message.xml")
	decode("quota_exceeded_message.xml", &er)
	if !api.IsError(data) || len(er.Errors) != 1 || er.Errors[0].Code != api.CodeInvalidUserRights || !strings.Contains(er.Errors[0].Text(), "per hour") {
		t.Errorf("errorresponse: %+v", er)
	}
}
