// Package api holds the wire types of Rakuten France's sales_ws (ex
// PriceMinister) that the connector and its fake both use, and the one
// safe way to decode its answers.
//
// Element names follow the sample answers recorded by the shiba client
// and the official pages' tables. Namespaces vary between answers
// (pmcdn.priceminister.com, www.priceminister.com, fr.shopping.rakuten.com,
// none at all), so the types match local names only. Answers may be in
// ISO-8859-1, declared or only in the Content-Type.
package api

import (
	"encoding/xml"
	"strings"
)

// Path is the service's path below the host: GET /sales_ws?action=….
const Path = "/sales_ws"

// Actions, as the action query parameter.
const (
	ActionGetNewSales            = "getnewsales"
	ActionGetCurrentSales        = "getcurrentsales"
	ActionAcceptSale             = "acceptsale"
	ActionRefuseSale             = "refusesale"
	ActionGetItemTodoList        = "getitemtodolist"
	ActionGetItemInfos           = "getiteminfos"
	ActionContactUserAboutItem   = "contactuseraboutitem"
	ActionContactUsAboutItem     = "contactusaboutitem"
	ActionSetTrackingPackage     = "settrackingpackageinfos"
	ActionCancelItem             = "cancelitem"
	ActionGetBillingInformation  = "getbillinginformation"
	ActionContactPriceMinister   = "contactpriceministeraboutitem" // the 2011 name, in availableactions
	ActionGetShippingInformation = "getshippinginformation"
)

// Versions are the version parameter the connector sends per action
// (shiba's, 2022, where it and pmws differ: the sample answers have
// their shapes; pmws's newer versions are UNVERIFIED in shape).
var Versions = map[string]string{
	ActionGetNewSales:           "2017-08-07",
	ActionGetCurrentSales:       "2017-08-07",
	ActionAcceptSale:            "2010-09-20",
	ActionRefuseSale:            "2010-09-20",
	ActionGetItemTodoList:       "2011-09-01",
	ActionGetItemInfos:          "2017-08-07",
	ActionContactUserAboutItem:  "2011-02-02",
	ActionContactUsAboutItem:    "2011-09-01",
	ActionSetTrackingPackage:    "2016-03-16",
	ActionCancelItem:            "2011-02-02",
	ActionGetBillingInformation: "2016-03-16",
}

// Query parameters.
const (
	ParamAction         = "action"
	ParamLogin          = "login"
	ParamPwd            = "pwd"
	ParamVersion        = "version"
	ParamItemID         = "itemid"
	ParamPurchaseID     = "purchaseid"
	ParamContent        = "content"
	ParamMailParentID   = "mailparentid"
	ParamNextToken      = "nexttoken"
	ParamComment        = "comment"
	ParamTransporter    = "transporter_name"
	ParamTrackingNumber = "tracking_number"
	ParamTrackingURL    = "tracking_url"
)

// TransporterOther is the transporter_name of a carrier Rakuten does not
// list; tracking_url is then required.
const TransporterOther = "Autre"

// Item statuses (itemstatus). TO_CONFIRM and ACCEPTED are in the sample
// sales, ON_HOLD in the getiteminfos sample; the others are UNVERIFIED
// names (read from the item log codes ITEM_REQUESTED, ITEM_COMMITTED and
// common sense), mapped conservatively by the connector.
const (
	StatusToConfirm = "TO_CONFIRM"
	StatusRequested = "REQUESTED" // UNVERIFIED
	StatusReminded  = "REMINDED"  // UNVERIFIED
	StatusAccepted  = "ACCEPTED"
	StatusCommitted = "COMMITTED" // UNVERIFIED
	StatusOnHold    = "ON_HOLD"
	StatusShipped   = "SHIPPED"   // UNVERIFIED
	StatusCancelled = "CANCELLED" // UNVERIFIED; cancelitem answers status CANCELLED
	StatusRefused   = "REFUSED"   // UNVERIFIED
	StatusClosed    = "CLOSED"    // UNVERIFIED
)

// Todo list causes (getitemtodolist).
const (
	CauseClaim                  = "CLAIM"
	CauseUnreadFromBuyer        = "UNREAD_MESSAGE_FROM_BUYER"
	CauseUnreadFromCustomerServ = "UNREAD_MESSAGE_FROM_CUSTOMER_SERVICE"
)

// Item log codes. ITEM_RECEIVED, the buyer declaring the item received,
// is UNVERIFIED: no source shows the code.
const (
	LogItemRequested  = "ITEM_REQUESTED"
	LogItemCommitted  = "ITEM_COMMITTED"
	LogAmicableClaim  = "AMICABLE_CLAIM_CREATION"
	LogItemReceived   = "ITEM_RECEIVED"
	MessageStatusRead = "READ" // UNVERIFIED; the sample shows SENT and UNREAD
	MessageUnread     = "UNREAD"
	MessageSent       = "SENT"
)

// MaxContentChars bounds a message's content. Rakuten states no bound:
// UNVERIFIED, conservative (the content travels in a GET's query).
const MaxContentChars = 2000

// Answer statuses.
const (
	StatusSent         = "SENT"
	StatusOK           = "OK"
	StatusAcceptedSale = "Accepted"
)

// Error codes (errorresponse/error/code).
const (
	CodeParameterError        = "ParameterError"
	CodeInvalidUserConnection = "InvalidUserConnection"
	CodeInvalidUserRights     = "InvalidUserRights"
	CodeServerError           = "ServerError"
	CodeUnknownError          = "Unknown error" // shiba: "maybe the sale isn't confirmed yet?"
)

// ErrorResponse is the body of every refusal.
type ErrorResponse struct {
	XMLName xml.Name `xml:"errorresponse"`
	Errors  []Error  `xml:"error"`
}

// Error is one refusal.
type Error struct {
	Type    string   `xml:"type"`
	Code    string   `xml:"code"`
	Message string   `xml:"message"`
	Details []string `xml:"details>detail"`
}

// Text is the error's message and details on one line.
func (e Error) Text() string {
	parts := []string{strings.TrimSpace(e.Code), strings.TrimSpace(e.Message)}
	for _, d := range e.Details {
		if d = strings.TrimSpace(d); d != "" {
			parts = append(parts, d)
		}
	}
	return strings.Join(strings.Fields(strings.Join(parts, " ")), " ")
}

// Request is the request every answer echoes. Fields are in the order
// the samples have them; the fake fills those of its action.
type Request struct {
	Version           string  `xml:"version,omitempty"`
	User              string  `xml:"user"`
	ItemID            string  `xml:"itemid,omitempty"`
	PurchaseID        string  `xml:"purchaseid,omitempty"`
	MailParentID      string  `xml:"mailparentid,omitempty"`
	Content           string  `xml:"content,omitempty"`
	Comment           string  `xml:"comment,omitempty"`
	NextToken         *string `xml:"nexttoken"`
	IsPendingPreorder string  `xml:"ispendingpreorder,omitempty"`
	// settrackingpackageinfos echoes its parameters in camel case.
	TrackingNumber  string `xml:"trackingNumber,omitempty"`
	TrackingURL     string `xml:"trackingUrl,omitempty"`
	TransporterName string `xml:"transporterName,omitempty"`
}

// Amount is a price.
type Amount struct {
	Amount   string `xml:"amount"`
	Currency string `xml:"currency"`
}

// Address is a billing or collection point address.
type Address struct {
	Civility      string `xml:"civility"`
	LastName      string `xml:"lastname"`
	FirstName     string `xml:"firstname"`
	ID            string `xml:"id,omitempty"`
	Name          string `xml:"name,omitempty"`
	Address       string `xml:"address,omitempty"`
	Address1      string `xml:"address1,omitempty"`
	Address2      string `xml:"address2,omitempty"`
	ZipCode       string `xml:"zipcode"`
	City          string `xml:"city"`
	Country       string `xml:"country"`
	CountryAlpha2 string `xml:"countryalpha2,omitempty"`
	Phone1        string `xml:"phonenumber1,omitempty"`
	Phone2        string `xml:"phonenumber2,omitempty"`
}

// DeliveryInformation is a sale's buyer and where it goes. Customer data.
type DeliveryInformation struct {
	ShippingType    string   `xml:"shippingtype"`
	IsFullRSL       string   `xml:"isfullrsl"`
	BuyerLogin      string   `xml:"purchasebuyerlogin"`
	BuyerEmail      string   `xml:"purchasebuyeremail"`
	CollectionPoint *Address `xml:"collectionpointaddress"`
	BillingAddress  *Address `xml:"billingaddress"`
}

// Sale is one purchase: the items a buyer bought from the shop at once.
type Sale struct {
	PurchaseID   string              `xml:"purchaseid"`
	PurchaseDate string              `xml:"purchasedate"`
	Delivery     DeliveryInformation `xml:"deliveryinformation"`
	Items        []SaleItem          `xml:"items>item"`
}

// SaleItem is one item of a sale: Rakuten sells per item, one unit each.
type SaleItem struct {
	SKU                string `xml:"sku"`
	AdvertID           string `xml:"advertid"`
	AdvertPriceListed  Amount `xml:"advertpricelisted"`
	ItemID             string `xml:"itemid"`
	Headline           string `xml:"headline"`
	ItemStatus         string `xml:"itemstatus"`
	IsPreorder         string `xml:"ispreorder"`
	IsNego             string `xml:"isnego"`
	NegotiationComment string `xml:"negotiationcomment"`
	Price              Amount `xml:"price"`
	IsRSL              string `xml:"isrsl"`
	ISBN               string `xml:"isbn"`
	EAN                string `xml:"ean"`
	PaymentStatus      string `xml:"paymentstatus"`
	SellerScore        string `xml:"sellerscore"`
}

// SalesResponse is the response of getnewsales and getcurrentsales.
type SalesResponse struct {
	LastVersion string  `xml:"lastversion"`
	NextToken   *string `xml:"nexttoken"` // getcurrentsales only
	SellerID    string  `xml:"sellerid"`
	Sales       []Sale  `xml:"sales>sale"`
}

// GetNewSalesResult is getnewsales's answer.
type GetNewSalesResult struct {
	XMLName  xml.Name      `xml:"getnewsalesresult"`
	Request  Request       `xml:"request"`
	Response SalesResponse `xml:"response"`
}

// GetCurrentSalesResult is getcurrentsales's answer.
type GetCurrentSalesResult struct {
	XMLName  xml.Name      `xml:"getcurrentsalesresult"`
	Request  Request       `xml:"request"`
	Response SalesResponse `xml:"response"`
}

// TodoItem is an item needing the seller's attention, and why.
type TodoItem struct {
	ItemID string   `xml:"itemid"`
	Causes []string `xml:"causes>cause"`
}

// GetItemTodoListResult is getitemtodolist's answer.
type GetItemTodoListResult struct {
	XMLName  xml.Name `xml:"getitemtodolistresult"`
	Request  Request  `xml:"request"`
	Response struct {
		LastVersion string     `xml:"lastversion"`
		SellerID    string     `xml:"sellerid"`
		Items       []TodoItem `xml:"items>item"`
	} `xml:"response"`
}

// Claim is a buyer's claim on an item.
type Claim struct {
	CreationDate string `xml:"creationdate"`
	Type         string `xml:"type"`
	State        string `xml:"state"`
	Amicable     string `xml:"amicable"` // Y or N
	Comment      string `xml:"claimcomment"`
}

// Action is an action Rakuten allows on the item now.
type Action struct {
	Title       string `xml:"title"`
	Description string `xml:"description"`
	Code        string `xml:"actioncode"`
}

// Mail is a mail between the seller and Rakuten's customer service.
type Mail struct {
	MailID    string `xml:"mailid"`
	SendDate  string `xml:"senddate"`
	Sender    string `xml:"sender"`
	Recipient string `xml:"recipient"`
	Object    string `xml:"object"`
	Content   string `xml:"content"`
	Status    string `xml:"status"`
}

// Message is a message between the seller and the buyer. It has no id.
type Message struct {
	Sender    string `xml:"sender"`
	Recipient string `xml:"recipient"`
	SendDate  string `xml:"senddate"`
	Content   string `xml:"content"`
	Status    string `xml:"status"`
}

// ItemLog is an event in the item's life.
type ItemLog struct {
	CreationDate string `xml:"creationdate"`
	Code         string `xml:"itemlogcode"`
	Description  string `xml:"description"`
	Complement   string `xml:"complement"`
}

// ItemInfo is getiteminfos's item. Messages and mails are in the
// answer's order (the sample's is newest first).
type ItemInfo struct {
	ItemID         string      `xml:"itemid"`
	Date           string      `xml:"date"`
	ItemStatus     string      `xml:"itemstatus"`
	ItemState      string      `xml:"itemstate"`
	ItemStateLabel string      `xml:"itemstatelabel"`
	PaymentStatus  string      `xml:"paymentstatus"`
	SellerScore    string      `xml:"sellerscore"`
	Claim          *Claim      `xml:"claim"`
	Actions        *ActionList `xml:"availableactions"`
	Mails          []Mail      `xml:"mail"`
	Messages       []Message   `xml:"message"`
	Logs           []ItemLog   `xml:"itemlog"`
}

// ActionList is the item's availableactions.
type ActionList struct {
	Actions []Action `xml:"action"`
}

// HasAction tells whether Rakuten lists one of codes among the item's
// available actions; ok is false when the answer has no such list.
func (it ItemInfo) HasAction(codes ...string) (has, ok bool) {
	if it.Actions == nil {
		return false, false
	}
	for _, a := range it.Actions.Actions {
		for _, c := range codes {
			if strings.EqualFold(strings.TrimSpace(a.Code), c) {
				return true, true
			}
		}
	}
	return false, true
}

// GetItemInfosResult is getiteminfos's answer.
type GetItemInfosResult struct {
	XMLName  xml.Name `xml:"getiteminfosresult"`
	Request  Request  `xml:"request"`
	Response struct {
		LastVersion string   `xml:"lastversion"`
		SellerID    string   `xml:"sellerid"`
		Item        ItemInfo `xml:"item"`
	} `xml:"response"`
}

// StatusResponse is the response of the actions that answer a status.
type StatusResponse struct {
	LastVersion string `xml:"lastversion"`
	Status      string `xml:"status"`
}

// StatusResult is the answer of contactuseraboutitem
// (contactuseraboutitemresult), contactusaboutitem
// (contactusaboutitemresult), settrackingpackageinfos
// (setshippingpackageinfosresult), cancelitem (cancelitemresult),
// acceptsale (saleacceptanceresult) and refusesale (root UNVERIFIED).
type StatusResult struct {
	XMLName  xml.Name
	Request  Request        `xml:"request"`
	Response StatusResponse `xml:"response"`
}

// BillingItem is one item of getbillinginformation.
type BillingItem struct {
	ItemID        string `xml:"itemid"`
	SKU           string `xml:"sku"`
	Headline      string `xml:"headline"`
	Category      string `xml:"category"`
	ItemStatus    string `xml:"itemstatus"`
	ItemSalePrice Amount `xml:"itemsaleprice"`
	ShippingPrice Amount `xml:"shippingsaleprice"`
}

// GetBillingInformationResult is getbillinginformation's answer: one
// purchase's items.
type GetBillingInformationResult struct {
	XMLName  xml.Name `xml:"getbillinginformationresult"`
	Request  Request  `xml:"request"`
	Response struct {
		SellerID    string        `xml:"sellerid"`
		LastVersion string        `xml:"lastversion"`
		Items       []BillingItem `xml:"billinginformation>items>item"`
	} `xml:"response"`
}
