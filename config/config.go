// Package config holds the bridge's typed configuration: one YAML file,
// with ${ENV_VAR} references for secrets and environment overrides, checked
// at start-up with errors that name the field. It has no behaviour beyond
// loading and validating.
package config

import (
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/helpdesk-bridge/bridge/invoices/settings"
)

// Config is the whole configuration.
type Config struct {
	Server  Server  `yaml:"server"`
	Redis   Redis   `yaml:"redis"`
	Worker  Worker  `yaml:"worker"`
	Events  Events  `yaml:"events"`
	Widgets Widgets `yaml:"widgets"`
	// InvoiceFiles says where invoices' PDFs are kept.
	InvoiceFiles InvoiceFiles `yaml:"invoice_files"`
	Merchants    []Merchant   `yaml:"merchants" validate:"required,min=1,dive"`
}

// Server is the HTTP side.
type Server struct {
	// Listen is the HTTP address, ":8080" by default.
	Listen string `yaml:"listen"`
	// Admin protects /monitoring and the dead-letter API with basic auth.
	// Without a password those routes are not served.
	Admin Admin `yaml:"admin"`
	// ShutdownTimeout bounds the graceful shutdown of HTTP and workers.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout" validate:"gte=0"`
	// PublicURL is where customers' browsers reach the bridge, for the
	// signed download links of attachments a marketplace cannot take as
	// files. Without it such attachments are refused with a note. The
	// sidebars' order action buttons link to it too; without it their
	// links are relative.
	PublicURL string `yaml:"public_url" validate:"omitempty,httpurl"`
	// AllowPrivateFileHosts lets agents' attachments be downloaded from
	// loopback and private addresses, as well as public ones: only for
	// local development, the demo and tests against fakes on the same
	// machine. Off, the default, such downloads are refused as the
	// connection is made. Link-local and cloud metadata addresses are
	// refused either way.
	AllowPrivateFileHosts bool `yaml:"allow_private_file_hosts"`
}

// Admin holds the operator's credentials.
type Admin struct {
	Username string `yaml:"username"`
	Password Secret `yaml:"password" validate:"omitempty,strong=16"`
}

// Redis selects the system of record. With no URL and no Addrs, the bridge
// runs on an embedded, non-durable in-process Redis.
type Redis struct {
	// URL is redis://, rediss:// or unix:// for a single node. Load moves a
	// password found in it to Password, so that the URL is safe to print.
	URL string `yaml:"url"`
	// Addrs lists Redis Cluster nodes, or Sentinel nodes with MasterName.
	Addrs      []string `yaml:"addrs" validate:"dive,hostname_port"`
	MasterName string   `yaml:"master_name"`
	Username   string   `yaml:"username"`
	Password   Secret   `yaml:"password"`
	TLS        bool     `yaml:"tls"`
	// KeyPrefix namespaces every key the bridge writes (asynq's excepted).
	KeyPrefix string `yaml:"key_prefix"`
	// MinReplicaAcks is how many replicas must hold an accepted event, or
	// the record of a mirrored message, before the bridge counts it as
	// stored (Redis WAIT). 0, the default, means 1 while the master has
	// replicas and none while it has none; -1 never waits.
	MinReplicaAcks int `yaml:"min_replica_acks" validate:"gte=-1,lte=16"`
	// ReplicaAckTimeout bounds that wait; past it, the event is refused
	// with 503 and the sender retries.
	ReplicaAckTimeout time.Duration `yaml:"replica_ack_timeout" validate:"gte=0,lte=2s"`
}

// Embedded reports whether no Redis server is configured.
func (r Redis) Embedded() bool { return r.URL == "" && len(r.Addrs) == 0 }

// Worker tunes the Asynq workers.
type Worker struct {
	Concurrency int `yaml:"concurrency" validate:"gte=0,lte=1000"`
	// MaxRetry is how often a failed task is retried before it is archived
	// as a dead letter.
	MaxRetry int `yaml:"max_retry" validate:"gte=0,lte=100"`
	// TaskRetention keeps completed tasks this long so that a redelivered
	// event cannot enqueue them again.
	TaskRetention time.Duration `yaml:"task_retention" validate:"gte=0"`
	// QueueShards splits each kind of work over this many asynq queues
	// (default 1), so that on a Redis Cluster the queues spread over the
	// masters; an account's tasks always share one queue.
	QueueShards int `yaml:"queue_shards" validate:"gte=0,lte=64"`
}

// Events tunes the intake of signed events.
type Events struct {
	// ReplayWindow is how far a signed timestamp may be from now.
	ReplayWindow time.Duration `yaml:"replay_window" validate:"gte=0"`
	// DedupeTTL is how long an event id is remembered.
	DedupeTTL time.Duration `yaml:"dedupe_ttl" validate:"gte=0"`
}

// Widgets tunes the order read model behind the sidebar widgets.
type Widgets struct {
	// Retention: an order, its shipments, returns and support requests are
	// forgotten this long after their last update.
	Retention time.Duration `yaml:"retention" validate:"gte=0"`
	// Budget is how long a sidebar read waits for Redis before it answers
	// with the last known data, or with a "temporarily unavailable" payload.
	Budget time.Duration `yaml:"budget" validate:"gte=0"`
	// MaxOrders bounds the orders kept in one customer's widget, most
	// recent first.
	MaxOrders int `yaml:"max_orders" validate:"gte=0,lte=500"`
	// LastKnown is how many rendered widgets each replica keeps in memory
	// to answer with while Redis is unreachable.
	LastKnown int `yaml:"last_known" validate:"gte=0"`
	// MaxFutureSkew is how far ahead of the bridge's clock an updated_at
	// may be. The later updated_at wins, so one dated in the future would
	// freeze its entity: such an event is refused, and a marketplace
	// order's date is taken as now.
	MaxFutureSkew time.Duration `yaml:"max_future_skew" validate:"gte=0"`
}

// Where invoices' PDFs are kept. Their records stay in Redis either way.
const (
	InvoiceFilesRedis = "redis"
	InvoiceFilesS3    = "s3"
)

// InvoiceFiles selects the store of invoices' PDFs: Redis (the default),
// beside the records, or an S3-compatible bucket for large volumes.
type InvoiceFiles struct {
	Kind string    `yaml:"kind" validate:"oneof=redis s3"`
	S3   *S3Bucket `yaml:"s3"`
}

// S3Bucket is a bucket of an S3-compatible service.
type S3Bucket struct {
	// Endpoint is host or host:port, without a scheme: TLS says which.
	Endpoint string `yaml:"endpoint" validate:"required"`
	Bucket   string `yaml:"bucket" validate:"required"`
	// Region may be left out: the bucket's region is then asked once.
	Region string `yaml:"region"`
	// Prefix goes before every object key, such as "invoices/".
	Prefix    string `yaml:"prefix" validate:"max=200"`
	AccessKey Secret `yaml:"access_key" validate:"required"`
	SecretKey Secret `yaml:"secret_key" validate:"required"`
	// TLS is true by default; false only for a service on a private network.
	TLS *bool `yaml:"tls"`
	// Timeout bounds each read and write of a PDF.
	Timeout time.Duration `yaml:"timeout" validate:"gte=0,lte=10m"`
}

// Merchant is one customer of the bridge: its stores, its helpdesk
// accounts and the secrets its order platform signs events with.
type Merchant struct {
	ID   string `yaml:"id" validate:"required,slug"`
	Name string `yaml:"name"`
	// EventSecrets verify POST /v1/events; several allow rotation.
	EventSecrets []Secret `yaml:"event_secrets" validate:"required,min=1,dive,required,strong=24"`
	// BadRatingThreshold: a survey score at or below it is bad (default 2;
	// 0 makes none bad). A pointer, so that a written 0 is not the default.
	BadRatingThreshold *int       `yaml:"bad_rating_threshold" validate:"omitempty,gte=0,lte=5"`
	Stores             []Store    `yaml:"stores" validate:"required,min=1,dive"`
	Helpdesks          []Helpdesk `yaml:"helpdesks" validate:"dive"`
	// Sidebars are the helpdesk sidebar integrations that show this
	// merchant's orders.
	Sidebars []Sidebar `yaml:"sidebars" validate:"dive"`
	// Marketplaces are the merchant's marketplace shop accounts whose
	// discussions are mirrored into a helpdesk.
	Marketplaces []Marketplace `yaml:"marketplaces" validate:"dive"`
	// APITokens let the merchant's integrators use the discussion API.
	APITokens []Secret `yaml:"api_tokens" validate:"dive,strong=24"`
	// OrderPush are order event subscriptions kept in the configuration;
	// integrators may also make their own through the API (10 in all).
	OrderPush []OrderPush `yaml:"order_push" validate:"max=10,dive"`
}

// OrderPush is a URL that every change of the merchant's orders is POSTed
// to, signed with Secret as the intake's events are.
type OrderPush struct {
	ID     string `yaml:"id" validate:"required,slug,max=64"`
	URL    string `yaml:"url" validate:"required,url,max=2048"`
	Secret Secret `yaml:"secret" validate:"required,strong=24"`
}

// Marketplace kinds.
const (
	KindMirakl = "mirakl"
	// KindEmail is a marketplace that relays its customers' messages by
	// e-mail (Amazon, CDON): one mailbox, read over IMAP and answered
	// over SMTP.
	KindEmail = "email"
	// KindFnac is a shop on Fnac Darty's seller API (Fnac, or Darty since
	// its back office moved there): XML over POST.
	KindFnac = "fnac"
	// KindRakuten is a seller account on Rakuten France (ex PriceMinister)
	// through its sales_ws web service: XML over GET.
	KindRakuten = "rakuten"
)

// FnacBaseURL is Fnac Darty's seller API, for Fnac and Darty shops alike.
const FnacBaseURL = "https://vendeur.fnac.com/api.php"

// RakutenBaseURL is Rakuten France's web services; sales_ws is below it.
const RakutenBaseURL = "https://ws.fr.shopping.rakuten.com"

// OrderListKinds are the marketplace kinds whose connector lists orders,
// which sync_orders needs.
var OrderListKinds = []string{KindMirakl, KindFnac, KindRakuten}

// EvaluationKinds are the marketplace kinds whose connector lists the
// customers' evaluations of orders (connectors.EvaluationLister), which
// rating_alerts needs.
var EvaluationKinds = []string{KindMirakl}

// Marketplace is one shop on one marketplace instance, e.g. the merchant's
// shop on Carrefour's Mirakl.
type Marketplace struct {
	ID   string `yaml:"id" validate:"required,slug"`
	Kind string `yaml:"kind" validate:"required,oneof=mirakl email fnac rakuten"`
	// Name is the marketplace's name, shown to agents and used in tags,
	// e.g. "carrefour" (default for fnac: its platform; for rakuten:
	// rakuten).
	Name string `yaml:"name" validate:"required,slug"`
	// BaseURL and APIKey are the marketplace's API (mirakl; fnac, whose
	// base_url has a default and whose api_key is the shop's key;
	// rakuten, whose base_url has a default and whose api_key is the
	// seller's web service token).
	BaseURL string `yaml:"base_url" validate:"required_if=Kind mirakl,omitempty,httpurl"`
	APIKey  Secret `yaml:"api_key" validate:"required_if=Kind mirakl,required_if=Kind fnac,required_if=Kind rakuten"`
	// Email is the mailbox of a marketplace that relays by e-mail (email).
	Email *EmailAccount `yaml:"email" validate:"required_if=Kind email"`
	// Fnac is the rest of a Fnac or Darty shop's account (fnac).
	Fnac *FnacAccount `yaml:"fnac" validate:"required_if=Kind fnac"`
	// Rakuten is the rest of a Rakuten France seller account (rakuten).
	Rakuten *RakutenAccount `yaml:"rakuten" validate:"required_if=Kind rakuten"`
	// ShopID is sent with every call when the key serves several shops
	// (mirakl); the shop's id (fnac, where it is required).
	ShopID string `yaml:"shop_id" validate:"required_if=Kind fnac,max=64"`
	// Store is the merchant's store this shop's orders belong to.
	Store string `yaml:"store" validate:"required"`
	// Helpdesk is the account discussions become tickets in.
	Helpdesk string `yaml:"helpdesk" validate:"required"`
	// SyncEvery is how often discussions are fetched (default 60s).
	SyncEvery time.Duration `yaml:"sync_every" validate:"gte=0"`
	// Overlap re-reads this much before the cursor at each sync, so that a
	// message written while the last sync ran is not missed.
	Overlap time.Duration `yaml:"overlap" validate:"gte=0"`
	// Backfill is how far back the first sync reads (default 30 days).
	Backfill time.Duration `yaml:"backfill" validate:"gte=0"`
	// SyncOrders also copies the shop's orders into the sidebar widgets.
	SyncOrders bool `yaml:"sync_orders"`
	// AutoAccept accepts the shop's new orders as soon as the order sync
	// sees them waiting for acceptance; off by default.
	AutoAccept AutoAccept    `yaml:"auto_accept"`
	RateLimit  RateLimit     `yaml:"rate_limit"`
	Timeout    time.Duration `yaml:"timeout" validate:"gte=0"`
	// SettleDelay is how long a reply that got no answer is given to land
	// before the thread is read again to find it (default 2 minutes).
	SettleDelay time.Duration `yaml:"settle_delay" validate:"gte=0"`
	// RatingAlerts raises the merchant's bad-rating alerts from the
	// customers' evaluations of the shop's orders, as delivery_survey.rated
	// events do; only kinds that can list evaluations take it.
	RatingAlerts bool `yaml:"rating_alerts"`
	// RatingSyncEvery is how often evaluations are read (default 1h).
	RatingSyncEvery time.Duration `yaml:"rating_sync_every" validate:"gte=0"`
	// RatingWindow is how long after its last update an order's
	// evaluation is still looked for (default 30 days).
	RatingWindow time.Duration `yaml:"rating_window" validate:"gte=0"`
	// InvoiceDocumentType is the order document type code invoices are
	// uploaded with (mirakl: CUSTOMER_INVOICE unless the operator's DO01
	// lists another).
	InvoiceDocumentType string `yaml:"invoice_document_type" validate:"omitempty,max=64"`
}

// EmailAccount is the mailbox the marketplace relays customers' mail to,
// and how to answer through it.
type EmailAccount struct {
	// Profile is the marketplace's relay rules: amazon, cdon, or generic
	// with the rules of relay.
	Profile string `yaml:"profile" validate:"required,oneof=amazon cdon generic"`
	// Relay describes a marketplace that relays by e-mail, for the generic
	// profile.
	Relay *MailRelay `yaml:"relay"`
	// IMAP is where the relayed mail is read.
	IMAP MailServer `yaml:"imap" validate:"required"`
	// SMTP is the submission server replies are sent through.
	SMTP MailServer `yaml:"smtp" validate:"required"`
	// From is the sender address registered with the marketplace: its
	// relay takes replies from it only.
	From string `yaml:"from" validate:"required,email,max=254"`
	// AmazonOrders reads the shop's orders from Amazon's Selling Partner
	// API (amazon profile), for sync_orders.
	AmazonOrders *AmazonOrders `yaml:"amazon_orders"`
	// AuthservID, when set, is the authserv-id of the mailbox's receiving
	// server: a buyer's mail counts only when that server's
	// Authentication-Results report DMARC, or a DKIM signature aligned
	// with the sender, passing.
	AuthservID string `yaml:"authserv_id" validate:"omitempty,max=255,hostname_rfc1123"`
}

// FnacAccount is what a Fnac or Darty shop's account has beyond its
// shop_id and key.
type FnacAccount struct {
	// Platform is fnac or darty: whose shop it is. Darty's shops have
	// their own shop_id and key on the same API since May 2023.
	Platform string `yaml:"platform" validate:"required,oneof=fnac darty"`
	// PartnerID is the partner id Fnac Darty gave the seller with the key.
	PartnerID string `yaml:"partner_id" validate:"required,max=64"`
	// MarkRead marks a thread's messages read on Fnac once they are in the
	// ticket; off by default, so that the back office still shows them new.
	MarkRead bool `yaml:"mark_read"`
	// ArchiveWhenClosed archives a thread on Fnac once its ticket is solved.
	ArchiveWhenClosed bool `yaml:"archive_when_closed"`
}

// RakutenAccount is what a Rakuten France seller account has beyond its
// token (api_key).
type RakutenAccount struct {
	// Login is the seller's login on Rakuten, sent with every call and
	// how the connector tells the shop's own messages from the buyer's.
	Login string `yaml:"login" validate:"required,max=64"`
}

// AmazonOrders is a seller's authorisation of the merchant's Selling
// Partner API application, to read its orders.
type AmazonOrders struct {
	// BaseURL is the region's endpoint, e.g.
	// https://sellingpartnerapi-eu.amazon.com.
	BaseURL string `yaml:"base_url" validate:"required,httpurl"`
	// LWAURL is Login with Amazon's token endpoint (default
	// https://api.amazon.com/auth/o2/token).
	LWAURL       string `yaml:"lwa_url" validate:"omitempty,httpurl"`
	ClientID     string `yaml:"client_id" validate:"required,max=200"`
	ClientSecret Secret `yaml:"client_secret" validate:"required"`
	RefreshToken Secret `yaml:"refresh_token" validate:"required"`
	// MarketplaceIDs are the Amazon marketplaces read, e.g.
	// A13V1IB3VIYZZH for amazon.fr.
	MarketplaceIDs []string `yaml:"marketplace_ids" validate:"required,min=1,max=50,dive,required,max=20"`
	// RestrictedData asks for the buyers' anonymised e-mail addresses,
	// which need the application's restricted role: without them no
	// order can be matched to a customer, and none reaches the widgets.
	RestrictedData bool `yaml:"restricted_data"`
}

// ListsOrders tells whether the account's connector can list the shop's
// orders, which sync_orders needs.
func (mk Marketplace) ListsOrders() bool {
	return slices.Contains(OrderListKinds, mk.Kind) || (mk.Kind == KindEmail && mk.Email != nil && mk.Email.AmazonOrders != nil)
}

// MailRelay is a marketplace's e-mail relay as a merchant describes it:
// mail from an address of RelayDomains is a buyer's, and the patterns
// (regular expressions whose first group is the id) find the order or
// the case it is about; mail with neither is not a discussion.
type MailRelay struct {
	RelayDomains []string `yaml:"relay_domains" validate:"required,min=1,max=20,dive,required,hostname"`
	OrderSubject string   `yaml:"order_subject" validate:"max=500"`
	CaseSubject  string   `yaml:"case_subject" validate:"max=500"`
	OrderBody    string   `yaml:"order_body" validate:"max=500"`
	CaseBody     string   `yaml:"case_body" validate:"max=500"`
}

// MailServer is an IMAP or SMTP server and its login.
type MailServer struct {
	Addr string `yaml:"addr" validate:"required,hostname_port"`
	// TLS is starttls (default), implicit (IMAPS, port 993; SMTPS, port
	// 465) or none, which sends the password in clear text: for a server
	// on this machine, in tests, only.
	TLS      string `yaml:"tls" validate:"omitempty,oneof=starttls implicit none"`
	Username string `yaml:"username" validate:"max=254"`
	Password Secret `yaml:"password"`
	// Mailbox is the folder read (IMAP only; default INBOX).
	Mailbox string `yaml:"mailbox" validate:"max=200"`
}

// AutoAccept is a marketplace account's automatic acceptance of new
// orders. An order it holds (by its rules) waits for an agent.
type AutoAccept struct {
	Enabled bool `yaml:"enabled"`
	// MaxTotal holds an order whose total is above it, a decimal in the
	// order's currency ("" for no limit).
	MaxTotal string `yaml:"max_total" validate:"omitempty,numeric"`
	// HoldSKUs holds an order with one of these SKUs (the shop's own).
	HoldSKUs []string `yaml:"hold_skus" validate:"max=1000,dive,required"`
}

// OrderActionKinds are the marketplace kinds whose connector can act on
// orders (connectors.OrderActor), which auto_accept needs.
var OrderActionKinds = []string{KindMirakl, KindFnac, KindRakuten}

// Store is one shop of a merchant.
type Store struct {
	ID   string `yaml:"id" validate:"required,slug"`
	Name string `yaml:"name"`
	// OrderURL is a template for a link to an order in the merchant's back
	// office, with {order_id} replaced.
	OrderURL string `yaml:"order_url" validate:"omitempty,url"`
	// SupportURL is a template for the link to the marketplace's "create a
	// support request" page of an order, with {order_id} replaced.
	SupportURL string `yaml:"support_url" validate:"omitempty,url"`
	// Invoices are the store's invoice parameters; without them the store
	// issues no invoice until they are set through the API.
	Invoices *settings.Settings `yaml:"invoices"`
}

// OrderLink is the store's link to an order in its back office, or "".
func (s *Store) OrderLink(orderID string) string { return fillOrderID(s.OrderURL, orderID) }

// SupportLink is the store's link to an order's support request page, or "".
func (s *Store) SupportLink(orderID string) string { return fillOrderID(s.SupportURL, orderID) }

// fillOrderID puts an order id, escaped for a path, into a URL template.
func fillOrderID(template, orderID string) string {
	if template == "" {
		return ""
	}
	return strings.ReplaceAll(template, "{order_id}", url.PathEscape(orderID))
}

// Helpdesk kinds.
const (
	KindGorgias = "gorgias"
	KindZendesk = "zendesk"
)

// Alert kinds, as written in config and in tags (after the prefix).
const (
	AlertActionRequired       = "action-required"
	AlertBadRatingWithComment = "bad-rating-with-comment"
	AlertBadRatingNoComment   = "bad-rating-no-comment"
)

// AlertMarker is tagged, after the prefix, on every alert ticket besides
// its kind: one helpdesk condition on it covers every alert, whatever
// kinds are added later. It names the bridge so that it cannot be mistaken
// for a tag of the merchant's own, even without a prefix.
const AlertMarker = "bridge-alert"

// AllAlertKinds lists every alert kind, in a stable order.
var AllAlertKinds = []string{AlertActionRequired, AlertBadRatingWithComment, AlertBadRatingNoComment}

// Helpdesk is one helpdesk account a merchant connects.
type Helpdesk struct {
	ID   string `yaml:"id" validate:"required,slug"`
	Kind string `yaml:"kind" validate:"required,oneof=gorgias zendesk"`
	// BaseURL: https://{domain}.gorgias.com or https://{subdomain}.zendesk.com.
	BaseURL string `yaml:"base_url" validate:"required,httpurl"`
	// Email is the API user: Gorgias basic-auth username, Zendesk
	// "{email}/token" user. It is also the author of internal notes.
	Email string `yaml:"email" validate:"required,email"`
	// APIKey is the Gorgias API key or the Zendesk API token.
	APIKey Secret `yaml:"api_key" validate:"required"`
	// Stores lists the store ids this account receives alerts for.
	Stores []string `yaml:"stores" validate:"required,min=1"`
	// Alerts lists the enabled alert kinds; empty means all of them.
	Alerts []string `yaml:"alerts" validate:"dive,oneof=action-required bad-rating-with-comment bad-rating-no-comment"`
	// TagPrefix is put before every tag the bridge sets, e.g. "bigblue-".
	// The default is none: tags are then "action-required" and so on.
	TagPrefix string `yaml:"tag_prefix" validate:"max=40"`
	// Language of alert tickets: en or fr.
	Language string `yaml:"language" validate:"omitempty,oneof=en fr"`
	// RateLimit paces calls to this account across all replicas.
	RateLimit RateLimit `yaml:"rate_limit"`
	// UpdateRateLimit paces Zendesk's Update Ticket (comments, status,
	// tags), which Zendesk limits on its own, within RateLimit.
	UpdateRateLimit RateLimit `yaml:"update_rate_limit"`
	// Timeout bounds one HTTP call to the helpdesk.
	Timeout time.Duration `yaml:"timeout" validate:"gte=0"`
	// SettleDelay is how long a write that got no answer (a create, a
	// message) is given to land before it is looked up again (default 2
	// minutes): longer than the helpdesk plausibly takes to handle a
	// request, since a look-up made earlier could miss it.
	SettleDelay time.Duration `yaml:"settle_delay" validate:"gte=0"`
	// WebhookSecret authenticates the helpdesk's calls that report agents'
	// replies: Gorgias sends it in a header, Zendesk signs with it.
	WebhookSecret Secret `yaml:"webhook_secret" validate:"omitempty,strong=16"`
	// FileHosts are hosts (host or host:port) that serve this account's
	// attachments besides base_url's own host. Agents' attachments are
	// downloaded from no other host.
	FileHosts []string `yaml:"file_hosts" validate:"dive,required,hostname_port|hostname"`
}

// Sidebar kinds.
const (
	SidebarGorgias   = "gorgias"   // Gorgias HTTP integration: JSON
	SidebarZendesk   = "zendesk"   // Zendesk sidebar app: HTML through Zendesk's proxy
	SidebarHTML      = "html"      // any HTML sidebar or iframe: an HTML page
	SidebarHelpScout = "helpscout" // Help Scout dynamic app: signed POST, {"html": ...}
)

// Sidebar is one sidebar integration: who may read, which stores it shows
// and how its widget is laid out.
type Sidebar struct {
	ID   string `yaml:"id" validate:"required,slug"`
	Kind string `yaml:"kind" validate:"required,oneof=gorgias zendesk html helpscout"`
	// Token is the bearer token the helpdesk sends (every kind but
	// helpscout). It identifies the integration, so it is unique.
	Token Secret `yaml:"token" validate:"omitempty,strong=24,max=256"`
	// Secret signs Help Scout's requests (helpscout only; Help Scout caps
	// it at 40 characters).
	Secret Secret `yaml:"secret" validate:"omitempty,strong=16,max=40"`
	// Stores lists the stores of this merchant whose orders it shows.
	Stores []string `yaml:"stores" validate:"required,min=1"`
	// Layout says which sections and fields show, in which order.
	Layout Layout `yaml:"layout"`
	// Language of the HTML labels: en or fr.
	Language string `yaml:"language" validate:"omitempty,oneof=en fr"`
	// MaxOrders shown, most recent first; 0 shows all that are kept.
	MaxOrders int `yaml:"max_orders" validate:"gte=0,lte=500"`
	// Actions are the order actions this sidebar's agents may trigger
	// (accept, refuse, ship, cancel, cancel_lines); none by default.
	Actions []string `yaml:"actions" validate:"unique,dive,oneof=accept refuse ship cancel cancel_lines"`
}

// Allows tells whether this sidebar may trigger the order action kind.
func (s Sidebar) Allows(kind string) bool { return slices.Contains(s.Actions, kind) }

// TargetsStore tells whether this sidebar shows store's orders.
func (s Sidebar) TargetsStore(store string) bool { return slices.Contains(s.Stores, store) }

// Layout lists, per section, the fields shown and their order. A list left
// out shows WidgetFields' default; an empty list ([]) hides the section.
// The order's sub-lists (lines, shipments, returns, support_requests) are
// fields of orders: leaving one out of orders hides it.
type Layout struct {
	Sections        []string `yaml:"sections"`
	Customer        []string `yaml:"customer"`
	Orders          []string `yaml:"orders"`
	Lines           []string `yaml:"lines"`
	Shipments       []string `yaml:"shipments"`
	Returns         []string `yaml:"returns"`
	ReturnProducts  []string `yaml:"return_products"`
	SupportRequests []string `yaml:"support_requests"`
}

// Lists returns the layout's lists by section name; a nil list was not set.
func (l Layout) Lists() map[string][]string {
	return map[string][]string{
		"sections": l.Sections, "customer": l.Customer, "orders": l.Orders,
		"lines": l.Lines, "shipments": l.Shipments, "returns": l.Returns,
		"return_products": l.ReturnProducts, "support_requests": l.SupportRequests,
	}
}

// WidgetSections lists the layout's sections in a stable order.
var WidgetSections = []string{"sections", "customer", "orders", "lines", "shipments", "returns", "return_products", "support_requests"}

// WidgetFields is the vocabulary of layouts: every field a section can
// show, in its default order. These names are also the widget's JSON
// paths, so a name, once shipped, is never renamed. An order's "action"
// is its latest order action and where it stands; "actions" are the
// buttons of the actions its sidebar and its status allow; "invoice_url"
// a signed link to the order's invoice, once it has one.
var WidgetFields = map[string][]string{
	"sections":         {"customer", "orders"},
	"customer":         {"email", "name", "phone", "external_id", "orders_count", "last_order_at"},
	"orders":           {"id", "status", "action", "marketplace_status", "created_at", "total", "currency", "marketplace", "store", "url", "support_url", "lines", "shipments", "returns", "support_requests", "actions", "invoice_url"},
	"lines":            {"name", "sku", "quantity"},
	"shipments":        {"status", "carrier", "tracking_number", "tracking_url"},
	"returns":          {"tracking_number", "refund_method", "products"},
	"return_products":  {"name", "sku", "quantity", "damaged"},
	"support_requests": {"subject", "url", "updated_at"},
}

// RateLimit is a request budget: Requests per Per.
type RateLimit struct {
	Requests int           `yaml:"requests" validate:"gte=0"`
	Per      time.Duration `yaml:"per" validate:"gte=0"`
}

// AlertEnabled tells whether this account takes alerts of kind.
func (h Helpdesk) AlertEnabled(kind string) bool {
	return len(h.Alerts) == 0 || slices.Contains(h.Alerts, kind)
}

// TargetsStore tells whether this account takes alerts for store.
func (h Helpdesk) TargetsStore(store string) bool { return slices.Contains(h.Stores, store) }

// BadRating is the score at or below which a survey is bad.
func (m *Merchant) BadRating() int {
	if m.BadRatingThreshold == nil {
		return DefaultBadRatingThreshold
	}
	return *m.BadRatingThreshold
}

// Merchant returns the merchant with this id.
func (c *Config) Merchant(id string) (*Merchant, bool) {
	for i := range c.Merchants {
		if c.Merchants[i].ID == id {
			return &c.Merchants[i], true
		}
	}
	return nil, false
}

// Store returns the merchant's store with this id.
func (m *Merchant) Store(id string) (*Store, bool) {
	for i := range m.Stores {
		if m.Stores[i].ID == id {
			return &m.Stores[i], true
		}
	}
	return nil, false
}

// Marketplace returns the merchant's marketplace account with this id.
func (m *Merchant) Marketplace(id string) (Marketplace, bool) {
	for _, mk := range m.Marketplaces {
		if mk.ID == id {
			return mk, true
		}
	}
	return Marketplace{}, false
}
