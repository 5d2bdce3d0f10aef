package api

import "encoding/xml"

// Order services.
const (
	ServiceOrdersQuery  = "orders_query"
	ServiceOrdersUpdate = "orders_update"
)

// Order states (order_state, state.xsd): "the order is in the earliest
// stage found in order lines".
const (
	OrderCreated     = "Created"     // waiting for the seller's approval
	OrderAccepted    = "Accepted"    // approved, even partially; waiting for billing and payment
	OrderRefused     = "Refused"     // refused as a whole by the seller (terminal)
	OrderToShip      = "ToShip"      // approved and billed: the seller ships
	OrderShipped     = "Shipped"     // shipped, waiting for the customer's acknowledgement
	OrderNotReceived = "NotReceived" // the customer claims it did not arrive; the call centre handles it
	OrderReceived    = "Received"    // received and acknowledged (terminal)
	OrderCancelled   = "Cancelled"   // cancelled by the customer or Fnac (terminal)
	OrderRefunded    = "Refunded"    // refunded (terminal)
	OrderError       = "Error"       // "a non authorized or illogic state"
)

// Order line states (order_detail_state): those of the order but Created
// and Error, and ToAccept.
const LineToAccept = "ToAccept"

// Order update actions (order_update_action), those used here.
const (
	ActionAcceptOrder   = "accept_order"
	ActionConfirmToSend = "confirm_to_send"
	ActionRefundOrder   = "refund_order"
	ActionUpdate        = "update"
)

// OrderUpdateActions are all of order_update_action.
var OrderUpdateActions = []string{
	ActionAcceptOrder, ActionConfirmToSend, ActionRefundOrder, ActionUpdate,
	"accept_all_orders", "confirm_all_to_send", "update_all", "receive_all_order",
}

// Line actions (order_detail_state_update).
const (
	LineAccepted = "Accepted"
	LineRefused  = "Refused"
	LineShipped  = "Shipped"
	LineRefunded = "Refunded"
	LineUpdated  = "Updated"
	LineReceived = "Received" // Fnac Shop only
)

// LineActions are all of order_detail_state_update.
var LineActions = []string{LineAccepted, LineRefused, LineShipped, LineRefunded, LineUpdated, LineReceived}

// RefundReasons are refund_reason's values, the reasons a line is
// refunded (cancelled) for.
var RefundReasons = []string{
	"other", "counterfeit", "retraction", "cancelled_client", "unmatch_article",
	"damaged_article", "unreceived_article", "returned_article", "no_stock", "shipping_impossible",
}

// Bounds of orders_update (common.xsd, NOTES.md).
const (
	OrderIDLen         = 13  // order_id_restriction: exactly 13 characters
	MaxTrackingNumber  = 32  // string32
	MaxTrackingCompany = 100 // string100
	MaxOrdersPerUpdate = 25  // fnapy NOTES.md
	MaxOrdersFnacIDs   = 50  // orders_fnac_id_type
)

// OrdersQuery is <orders_query>. Paging comes first, as the XSD's
// sequence wants; the filters after it may come in any order.
type OrdersQuery struct {
	XMLName xml.Name `xml:"http://www.fnac.com/schemas/mp-dialog.xsd orders_query"`
	Header
	ResultsCount int         `xml:"results_count,attr,omitempty"`
	Paging       int         `xml:"paging,omitempty"`
	Date         *DateFilter `xml:"date,omitempty"`
	State        string      `xml:"state,omitempty"`
	SortBy       string      `xml:"sort_by,omitempty"`
	OrderID      string      `xml:"order_fnac_id,omitempty"`
	OrderIDs     *OrderIDs   `xml:"orders_fnac_id,omitempty"`
}

// OrderIDs is <orders_fnac_id><order_fnac_id/>{0..50}</orders_fnac_id>.
type OrderIDs struct {
	IDs []string `xml:"order_fnac_id"`
}

// OrdersQueryResponse is <orders_query_response>.
type OrdersQueryResponse struct {
	XMLName        xml.Name `xml:"http://www.fnac.com/schemas/mp-dialog.xsd orders_query_response"`
	Status         string   `xml:"status,attr"`
	Errors         []Error  `xml:"error"`
	Page           int      `xml:"page,omitempty"`
	TotalPaging    int      `xml:"total_paging,omitempty"`
	NbTotalPerPage int      `xml:"nb_total_per_page,omitempty"`
	NbTotalResult  int      `xml:"nb_total_result"`
	Orders         []Order  `xml:"order"`
}

// Address is the address type of state.xsd, as the samples have it.
type Address struct {
	Firstname string `xml:"firstname"`
	Lastname  string `xml:"lastname"`
	Company   string `xml:"company"`
	Address1  string `xml:"address1"`
	Address2  string `xml:"address2"`
	Address3  string `xml:"address3"`
	Zipcode   string `xml:"zipcode"`
	City      string `xml:"city"`
	Country   string `xml:"country"`
}

// Order is one <order> of orders_query_response. It carries no update
// date and no total: the connector derives them.
type Order struct {
	ShopID          string        `xml:"shop_id"`
	ClientID        string        `xml:"client_id"`
	ClientFirstname string        `xml:"client_firstname"`
	ClientLastname  string        `xml:"client_lastname"`
	ClientEmail     string        `xml:"client_email,omitempty"`
	OrderID         string        `xml:"order_id"`
	State           string        `xml:"state"`
	CreatedAt       string        `xml:"created_at"`
	Fees            string        `xml:"fees,omitempty"`
	VatRate         string        `xml:"vat_rate,omitempty"`
	NbMessages      int           `xml:"nb_messages"`
	ShippingAddress *Address      `xml:"shipping_address,omitempty"`
	BillingAddress  *Address      `xml:"billing_address,omitempty"`
	Details         []OrderDetail `xml:"order_detail"`
}

// OrderDetail is one <order_detail> (an order line) of an order. Price is
// the unit price: the samples' fees are 12% of price × quantity plus
// shipping_price.
type OrderDetail struct {
	ProductName     string `xml:"product_name"`
	ID              string `xml:"order_detail_id"`
	State           string `xml:"state"`
	Quantity        int    `xml:"quantity"`
	Price           string `xml:"price"`
	Fees            string `xml:"fees"`
	ProductFnacID   string `xml:"product_fnac_id"`
	OfferFnacID     string `xml:"offer_fnac_id"`
	OfferSellerID   string `xml:"offer_seller_id"`
	ProductState    string `xml:"product_state"`
	Description     string `xml:"description"`
	InternalComment string `xml:"internal_comment"`
	ShippingPrice   string `xml:"shipping_price,omitempty"`
	ShippingMethod  string `xml:"shipping_method,omitempty"`
	CreatedAt       string `xml:"created_at,omitempty"`
	DebitedAt       string `xml:"debited_at,omitempty"`
	ReceivedAt      string `xml:"received_at"`
	RefusedAt       string `xml:"refused_at,omitempty"`
	ProductURL      string `xml:"product_url,omitempty"`
	Image           string `xml:"image,omitempty"`
	TrackingNumber  string `xml:"tracking_number"`
}

// OrdersUpdate is <orders_update>.
type OrdersUpdate struct {
	XMLName xml.Name `xml:"http://www.fnac.com/schemas/mp-dialog.xsd orders_update"`
	Header
	Orders []OrderUpdate `xml:"order"`
}

// OrderUpdate is one <order order_id action> of orders_update.
type OrderUpdate struct {
	OrderID string              `xml:"order_id,attr"`
	Action  string              `xml:"action,attr"`
	Details []OrderDetailUpdate `xml:"order_detail"`
}

// OrderDetailUpdate is one <order_detail> of an order update.
type OrderDetailUpdate struct {
	ID              string `xml:"order_detail_id,omitempty"`
	Action          string `xml:"action"`
	TrackingNumber  string `xml:"tracking_number,omitempty"`
	TrackingCompany string `xml:"tracking_company,omitempty"`
	RefundReason    string `xml:"refund_reason,omitempty"`
}

// OrdersUpdateResponse is <orders_update_response>.
type OrdersUpdateResponse struct {
	XMLName xml.Name      `xml:"http://www.fnac.com/schemas/mp-dialog.xsd orders_update_response"`
	Status  string        `xml:"status,attr"`
	Errors  []Error       `xml:"error"`
	Orders  []OrderStatus `xml:"order"`
}

// OrderStatus is one <order> of orders_update_response: the order's
// status, its state after the update, its errors and its lines'.
type OrderStatus struct {
	Status  string              `xml:"status"`
	OrderID string              `xml:"order_id"`
	State   string              `xml:"state,omitempty"`
	Errors  []Error             `xml:"error"`
	Details []OrderDetailStatus `xml:"order_detail"`
}

// OrderDetailStatus is one <order_detail> of an order's update status.
type OrderDetailStatus struct {
	ID     string  `xml:"order_detail_id"`
	Status string  `xml:"status"`
	State  string  `xml:"state,omitempty"`
	Errors []Error `xml:"error"`
}

func (r *OrdersQueryResponse) Items() int          { return len(r.Orders) }
func (r *OrdersQueryResponse) RootStatus() string  { return r.Status }
func (r *OrdersQueryResponse) RootErrors() []Error { return r.Errors }

func (r *OrdersUpdateResponse) Items() int          { return len(r.Orders) }
func (r *OrdersUpdateResponse) RootStatus() string  { return r.Status }
func (r *OrdersUpdateResponse) RootErrors() []Error { return r.Errors }
