package main

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/hibiken/asynq"
	"github.com/hibiken/asynqmon"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/helpdesk-bridge/bridge/alerts"
	"github.com/helpdesk-bridge/bridge/bridge/deadletter"
	"github.com/helpdesk-bridge/bridge/bridge/events"
	"github.com/helpdesk-bridge/bridge/bridge/httpapi"
	"github.com/helpdesk-bridge/bridge/bridge/jobs"
	"github.com/helpdesk-bridge/bridge/bridge/ratelimit"
	"github.com/helpdesk-bridge/bridge/bridge/rdb"
	"github.com/helpdesk-bridge/bridge/bridge/settle"
	"github.com/helpdesk-bridge/bridge/bridge/telemetry"
	"github.com/helpdesk-bridge/bridge/config"
	"github.com/helpdesk-bridge/bridge/connectors"
	"github.com/helpdesk-bridge/bridge/connectors/fnac"
	"github.com/helpdesk-bridge/bridge/connectors/gorgias"
	"github.com/helpdesk-bridge/bridge/connectors/mirakl"
	"github.com/helpdesk-bridge/bridge/connectors/rakuten"
	"github.com/helpdesk-bridge/bridge/connectors/zendesk"
	"github.com/helpdesk-bridge/bridge/discussions"
	"github.com/helpdesk-bridge/bridge/invoices"
	"github.com/helpdesk-bridge/bridge/orders"
	"github.com/helpdesk-bridge/bridge/orders/push"
	"github.com/helpdesk-bridge/bridge/widgets"
)

// Mode selects which halves of the service run.
type Mode string

const (
	ModeServe  Mode = "serve"
	ModeAPI    Mode = "api"
	ModeWorker Mode = "worker"
)

func (m Mode) http() bool    { return m == ModeServe || m == ModeAPI }
func (m Mode) workers() bool { return m == ModeServe || m == ModeWorker }

// Overrides are the knobs tests and the demo turn; production leaves them
// zero.
type Overrides struct {
	Now          func() time.Time
	Listener     net.Listener  // instead of listening on cfg.Server.Listen
	RetryBase    time.Duration // first retry delay without Retry-After
	RetryMax     time.Duration
	DelayedCheck time.Duration // how often due retries are moved back
	Transport    http.RoundTripper
	MaxReplyFile int64 // see discussions.Options
	// MaxCopiedFile is the largest marketplace file copied into a ticket
	// (see discussions.Options).
	MaxCopiedFile int64
	// RedisHooks watch every Redis call (the cluster tests' slot check).
	RedisHooks []redis.Hook
	// MailRoots are the certificates mail servers are verified against,
	// instead of the system's (a test's own Dovecot and relay).
	MailRoots *x509.CertPool
	// Invoicer issues the invoices agents attach to replies ("Invoice:
	// attach"); nil is the invoices package's maker over the order read
	// model and the stores' invoice settings.
	Invoicer discussions.Invoicer
	// RakutenQuotaBackoff is how long Rakuten's quota refusal puts an
	// account off, instead of the hour (tests).
	RakutenQuotaBackoff time.Duration
}

// App is the assembled service.
type App struct {
	cfg      *config.Config
	mode     Mode
	log      zerolog.Logger
	conn     *rdb.Conn
	client   *asynq.Client
	engine   *gin.Engine
	listener net.Listener
	workers  *jobs.Server
	sched    *jobs.Scheduler
	monitor  *asynqmon.HTTPHandler
	// watchers run beside the workers until shutdown: the e-mail
	// accounts' mailbox watches.
	watchers []func(context.Context)
}

// kinds of work, each a queue (or several, see jobs.Shards), and their
// weights: how often a free worker looks in each first. No task holds a
// worker while it waits for its account's budget, so the weights only
// order the work that can run now.
var kinds = map[string]int{
	orders.ActionsQueue: 9, discussions.RepliesQueue: 8, alerts.Queue: 6, discussions.Queue: 5, orders.Queue: 4,
	discussions.BulkQueue: 2, push.Queue: 3, "default": 1,
}

// classes are the priority classes of the kinds of work that call
// external accounts: within one account's budget, an agent's reply goes
// first, then alerts, then new marketplace messages, and bulk work last.
var classes = map[string]ratelimit.Class{
	orders.ActionsQueue: ratelimit.Interactive, discussions.RepliesQueue: ratelimit.Interactive, alerts.Queue: ratelimit.Alerts,
	discussions.Queue: ratelimit.Messages, discussions.BulkQueue: ratelimit.Bulk,
}

// queueSet is every queue of every kind, with its kind's weight, and the
// class of each queue whose tasks call external accounts.
type queueSet struct {
	weights map[string]int
	classes map[string]ratelimit.Class
}

func newQueueSet(shards jobs.Shards) queueSet {
	qs := queueSet{weights: map[string]int{}, classes: map[string]ratelimit.Class{}}
	for kind, w := range kinds {
		for _, q := range shards.Queues(kind) {
			qs.weights[q] = w
			if c, ok := classes[kind]; ok {
				qs.classes[q] = c
			}
		}
	}
	return qs
}

// addLeftovers also serves the queues of a kind that an earlier shard
// layout left with tasks in them (another worker.queue_shards, or the
// numbered names of earlier releases), with the kind's weight and class,
// so that an upgrade or a change of the setting strands no task. Empty
// ones are not served: every served queue costs a dequeue attempt.
func (qs queueSet) addLeftovers(insp *asynq.Inspector, log zerolog.Logger) {
	existing, err := insp.Queues()
	if err != nil {
		log.Warn().Err(err).Msg("could not list the queues left by an earlier shard layout; only the current ones are served")
		return
	}
	for _, q := range existing {
		if _, ok := qs.weights[q]; ok {
			continue
		}
		kind, n, found := strings.Cut(q, "-")
		w, ours := kinds[kind]
		if !found || !ours || strings.Trim(n, "0123456789") != "" {
			continue
		}
		info, err := insp.GetQueueInfo(q)
		if err != nil || info.Size == 0 {
			continue
		}
		qs.weights[q] = w
		if c, ok := classes[kind]; ok {
			qs.classes[q] = c
		}
		log.Warn().Str("queue", q).Int("tasks", info.Size).Msg("serving a queue left by an earlier shard layout until it is empty; restart the workers once it is")
	}
}

// Build wires the service. Nothing runs until Run.
func Build(ctx context.Context, cfg *config.Config, mode Mode, log zerolog.Logger, o Overrides) (*App, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	conn, err := rdb.Open(ctx, cfg.Redis, log, o.RedisHooks...)
	if err != nil {
		return nil, err
	}
	a := &App{cfg: cfg, mode: mode, log: log, conn: conn}
	metrics := telemetry.New()
	limiter := ratelimit.New(conn.Client, cfg.Redis.KeyPrefix, nil)
	shards := jobs.Shards(cfg.Worker.QueueShards)
	qs := newQueueSet(shards)
	a.client = asynq.NewClientFromRedisClient(conn.Client)
	inspector := asynq.NewInspectorFromRedisClient(conn.Client)
	if mode.workers() {
		qs.addLeftovers(inspector, log)
	}
	for q, c := range qs.classes {
		limiter.SetClass(q, c)
	}
	dead := deadletter.New(conn.Client, inspector, a.client, cfg.Redis.KeyPrefix, cfg.Worker.TaskRetention)

	// Every write that may land late is looked up again only once settled.
	ledger := settle.NewLedger(conn.Client, cfg.Redis.KeyPrefix, o.Now)
	if cfg.Server.AllowPrivateFileHosts {
		log.Warn().Msg("server.allow_private_file_hosts is on: agents' attachments may be downloaded from loopback and private addresses; for local development only")
	}
	helpdesks := map[string]alerts.Helpdesk{}
	mirrorHelpdesks := map[string]discussions.Helpdesk{}
	markets := map[string]connectors.Marketplace{}
	orderListers := map[string]connectors.OrderLister{}
	orderActors := map[string]connectors.OrderActor{}
	evaluationListers := map[string]connectors.EvaluationLister{}
	for _, m := range cfg.Merchants {
		for _, h := range m.Helpdesks {
			hd, err := newHelpdesk(h, cfg.Server.AllowPrivateFileHosts, limiter, metrics, o)
			if err != nil {
				_ = conn.Close()
				return nil, fmt.Errorf("merchant %s helpdesk %s: %w", m.ID, h.ID, err)
			}
			guarded := settle.NewHelpdesk(hd, ledger, h.ID, h.SettleDelay)
			helpdesks[h.ID], mirrorHelpdesks[h.ID] = guarded, guarded
		}
		for _, mk := range m.Marketplaces {
			mp, err := newMarketplace(mk, conn.Client, cfg.Redis.KeyPrefix, limiter, metrics, o)
			if err != nil {
				_ = conn.Close()
				return nil, fmt.Errorf("merchant %s marketplace %s: %w", m.ID, mk.ID, err)
			}
			markets[mk.ID] = mp
			if e := mk.Email; e != nil && (e.IMAP.TLS == "none" || e.SMTP.TLS == "none") {
				log.Warn().Str("account", mk.ID).Msg("an e-mail account's tls is none: its passwords travel in clear text; for a mail server on this machine only")
			}
			if mk.SyncOrders {
				lister, ok := mp.(connectors.OrderLister)
				if !ok {
					_ = conn.Close()
					return nil, fmt.Errorf("merchant %s marketplace %s: sync_orders is set but %s cannot list orders", m.ID, mk.ID, mk.Kind)
				}
				orderListers[mk.ID] = lister
			}
			actor, canAct := mp.(connectors.OrderActor)
			if mk.AutoAccept.Enabled && !canAct {
				_ = conn.Close()
				return nil, fmt.Errorf("merchant %s marketplace %s: auto_accept is on but %s cannot act on orders", m.ID, mk.ID, mk.Kind)
			}
			if canAct {
				orderActors[mk.ID] = actor
			}
			if mk.RatingAlerts {
				lister, ok := mp.(connectors.EvaluationLister)
				if !ok {
					_ = conn.Close()
					return nil, fmt.Errorf("merchant %s marketplace %s: rating_alerts is set but %s cannot list evaluations", m.ID, mk.ID, mk.Kind)
				}
				evaluationListers[mk.ID] = lister
			}
		}
	}
	// Writes that must survive a failover wait for a replica; the embedded
	// Redis has none.
	var replicas *rdb.Replication
	if conn.Embedded == nil {
		replicas = rdb.NewReplication(conn.Client, cfg.Redis.KeyPrefix, cfg.Redis.MinReplicaAcks, cfg.Redis.ReplicaAckTimeout, o.Now, log)
		if err := replicas.Check(ctx); err != nil {
			log.Warn().Err(err).Msg("redis: could not count the master's replicas; asking again at the first write")
		}
	}
	svc := alerts.NewService(cfg, helpdesks, conn.Client, o.Now)
	orderStore := orders.NewStore(conn.Client, cfg.Redis.KeyPrefix, cfg.Widgets.Retention, cfg.Widgets.MaxOrders, o.Now)
	updater := orders.NewUpdater(orderStore, a.client, shards)
	orderActions := orders.NewActions(orders.ActionsOptions{
		Config: cfg, Store: orderStore, Actors: orderActors, Updater: updater, Queue: a.client, Shards: shards, Now: o.Now,
	})
	// Invoices: records in Redis beside the merchant's orders, PDFs there
	// too or in a bucket.
	pdfs, err := invoiceFiles(cfg, conn.Client)
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	invoiceMaker := invoices.NewMaker(invoices.NewService(conn.Client, cfg.Redis.KeyPrefix, pdfs, o.Now), orderStore, cfg)
	invoiceBulk := invoices.NewBulk(invoiceMaker, invoices.BulkOptions{Queue: a.client, Now: o.Now})
	dstore := discussions.NewStore(conn.Client, cfg.Redis.KeyPrefix)
	if replicas != nil {
		dstore.WaitForReplicas(replicas)
		orderStore.WaitForReplicas(replicas)
	}
	// The invoices agents attach to replies: the maker's, unless a test
	// gives its own.
	var invoicer discussions.Invoicer = invoiceMaker
	if o.Invoicer != nil {
		invoicer = o.Invoicer
	}
	mirror := discussions.NewService(discussions.Options{
		Config: cfg, Store: dstore, Marketplaces: markets,
		Helpdesks: mirrorHelpdesks, Orders: orderStore, Queue: a.client, Now: o.Now, Settle: ledger,
		Webhooks: webhookParsers(cfg, o.Now), PublicURL: cfg.Server.PublicURL, MaxReplyFile: o.MaxReplyFile,
		MaxCopiedFile: o.MaxCopiedFile, Shards: shards, Invoicer: invoicer,
	})

	// Order events pushed to integrators' URLs: the subscriptions the
	// configuration names are brought in line at every start.
	pub := push.New(push.Options{
		Config: cfg, Redis: conn.Client, Queue: a.client, Shards: shards,
		Configured: configuredPushes(cfg), Now: o.Now,
	})
	if err := pub.SyncConfigured(ctx); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("order push subscriptions of the configuration: %w", err)
	}

	// The sidebars: every process renders them as it writes documents,
	// the HTTP side serves them.
	reader := widgets.NewReader(conn.Client, orderStore, cfg.Widgets.Budget, cfg.Widgets.LastKnown, o.Now)
	ws := widgets.NewService(cfg, reader, metrics, orderActions)
	ws.ServeInvoices(invoiceLinks{invoiceMaker})
	orderStore.PrerenderWith(ws)

	metrics.WatchQueues(func(ctx context.Context) (map[string]time.Duration, error) {
		return oldestWaiting(ctx, inspector, limiter, shards, accountKeys(cfg), o.Now())
	})

	// The HTTP side. A worker serves only the operational routes.
	a.engine = httpapi.NewEngine(log, metrics.GinMiddleware())
	httpapi.Health(a.engine, conn)
	a.engine.GET("/metrics", gin.WrapH(metrics.Handler()))
	httpapi.ServeOpenAPI(a.engine)
	if mode.http() {
		io := events.Options{
			Config: cfg, Queue: a.client, Redis: conn.Client, Counter: metrics, Now: o.Now,
			Planners: planners(alerts.Planners(shards), orders.Planners(cfg.Widgets.MaxFutureSkew, shards)),
			Queues:   slices.Sorted(maps.Keys(qs.weights)),
		}
		if replicas != nil {
			io.Replicas = replicas
		}
		intake := events.New(io)
		intake.Register(a.engine)
		ws.Register(a.engine)
		mirror.RegisterAPI(a.engine)
		pub.Register(a.engine)
		orders.NewAPI(orderStore, orderActions, httpapi.MerchantAPITokens(cfg)).RegisterAPI(a.engine)
		invoices.NewAPI(invoiceMaker, httpapi.MerchantAPITokens(cfg)).RegisterAPI(a.engine)
		invoices.NewBulkAPI(invoiceBulk, httpapi.MerchantAPITokens(cfg)).RegisterAPI(a.engine)
		mirror.RegisterWebhooks(a.engine)
		if pw := cfg.Server.Admin.Password.Reveal(); pw != "" {
			admin := a.engine.Group("", httpapi.BasicAuth(cfg.Server.Admin.Username, pw))
			dead.Register(admin)
			registerMailAdmin(admin, markets)
			a.monitor = asynqmon.New(asynqmon.Options{RootPath: "/monitoring", RedisConnOpt: rdb.ConnOpt{Client: conn.Client}})
			admin.Any("/monitoring", gin.WrapH(a.monitor))
			admin.Any("/monitoring/*path", gin.WrapH(a.monitor))
		} else {
			log.Warn().Msg("server.admin.password is not set: /monitoring and the dead-letter API are not served")
		}
	}

	if mode.workers() {
		a.workers = jobs.NewServer(jobs.Options{
			Redis: conn.Client, Concurrency: cfg.Worker.Concurrency, Queues: qs.weights,
			ShutdownTimeout: cfg.Server.ShutdownTimeout, RetryBase: o.RetryBase, RetryMax: o.RetryMax,
			DelayedCheck: o.DelayedCheck, Logger: log, Observer: metrics, DeadLetters: dead, Now: o.Now,
			Pacer: limiter,
		})
		h := alerts.NewHandlers(svc)
		a.workers.Handle(alerts.TypeRaise, asynq.HandlerFunc(h.Raise))
		a.workers.Handle(alerts.TypeResolve, asynq.HandlerFunc(h.Resolve))
		a.workers.Handle(alerts.TypeRatings, alerts.NewRatingSync(alerts.RatingSyncOptions{
			Config: cfg, Redis: conn.Client, Listers: evaluationListers, Queue: a.client, Shards: shards, Now: o.Now,
		}))
		wh := orders.NewHandlers(updater)
		a.workers.Handle(orders.TypeSync, orders.NewOrderSync(orders.SyncOptions{
			Config: cfg, Redis: conn.Client, KeyPrefix: cfg.Redis.KeyPrefix, Listers: orderListers, Sink: updater,
			Queue: a.client, Shards: shards, Now: o.Now,
		}))
		a.workers.Handle(orders.TypeAutoAccept, asynq.HandlerFunc(orders.NewAcceptor(cfg, orderActors, updater, orderStore, o.Now).Handler))
		a.workers.Handle(orders.TypeAction, asynq.HandlerFunc(orderActions.Handler))
		a.workers.Handle(orders.TypeReindex, asynq.HandlerFunc(orderStore.ReindexHandler))
		a.workers.Handle(invoices.TypeBulk, asynq.HandlerFunc(invoiceBulk.Handler))
		for _, m := range cfg.Merchants {
			task, opts := orders.NewReindexTask(m.ID)
			if _, err := a.client.EnqueueContext(ctx, task, opts...); err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
				log.Warn().Err(err).Str("merchant", m.ID).Msg("could not enqueue the one-off indexing of orders stored before the order index; the next start tries again")
			}
		}
		a.workers.Handle(orders.TypeApply, asynq.HandlerFunc(wh.Apply))
		a.workers.Handle(orders.TypeRefresh, asynq.HandlerFunc(wh.Refresh))
		a.workers.Handle(orders.TypeRelay, orders.NewRelay(orderStore, pub, a.client, o.Now).Handler(shards))
		ph := push.NewHandlers(pub)
		a.workers.Handle(push.TypeDeliver, asynq.HandlerFunc(ph.Deliver))
		a.workers.Handle(push.TypeVerify, asynq.HandlerFunc(ph.Verify))
		dh := discussions.NewHandlers(mirror)
		a.workers.Handle(discussions.TypeSync, asynq.HandlerFunc(dh.Sync))
		a.workers.Handle(discussions.TypeMirror, asynq.HandlerFunc(dh.Mirror))
		a.workers.Handle(discussions.TypeReply, asynq.HandlerFunc(dh.Reply))
		a.workers.Handle(deadletter.SweepTaskType, dead)
		periodic := []jobs.Periodic{{
			Name: deadletter.SweepTaskType, Every: 5 * time.Minute,
			Task: func() *asynq.Task { return asynq.NewTask(deadletter.SweepTaskType, nil, asynq.Queue("default")) },
		}}
		for _, m := range cfg.Merchants {
			for _, mk := range m.Marketplaces {
				if mk.SyncOrders {
					op := orders.SyncPayload{Merchant: m.ID, Account: mk.ID}
					periodic = append(periodic, jobs.Periodic{
						Name: orders.TypeSync + ":" + mk.ID, Every: mk.SyncEvery,
						Task: func() *asynq.Task { return orders.NewSyncTask(op, shards) },
					})
				}
				if mk.RatingAlerts {
					rp := alerts.RatingsPayload{Merchant: m.ID, Account: mk.ID}
					periodic = append(periodic, jobs.Periodic{
						Name: alerts.TypeRatings + ":" + mk.ID, Every: mk.RatingSyncEvery,
						Task: func() *asynq.Task { return alerts.NewRatingsTask(rp, shards) },
					})
				}
				p := discussions.SyncPayload{Merchant: m.ID, Account: mk.ID}
				periodic = append(periodic, jobs.Periodic{
					Name: discussions.TypeSync + ":" + mk.ID, Every: mk.SyncEvery,
					Task: func() *asynq.Task { return discussions.NewSyncTask(p, shards) },
				})
			}
		}
		a.sched = jobs.NewScheduler(a.client, log, o.Now, periodic...)
		if a.watchers, err = mailWatchers(cfg, a.client, shards, log, o); err != nil {
			_ = conn.Close()
			return nil, err
		}
	}

	a.listener = o.Listener
	if a.listener == nil {
		a.listener, err = net.Listen("tcp", cfg.Server.Listen)
		if err != nil {
			_ = conn.Close()
			return nil, fmt.Errorf("listen %s: %w", cfg.Server.Listen, err)
		}
	}
	return a, nil
}

// configuredPushes are the order push subscriptions of every merchant's
// configuration.
func configuredPushes(cfg *config.Config) []push.Configured {
	var out []push.Configured
	for _, m := range cfg.Merchants {
		for _, p := range m.OrderPush {
			out = append(out, push.Configured{Merchant: m.ID, ID: p.ID, URL: p.URL, Secret: p.Secret})
		}
	}
	return out
}

// oldestWaiting is how long the oldest task of each kind of work has
// waited, over the kind's queues: pending in a queue, or put off by its
// account's rate limit.
func oldestWaiting(ctx context.Context, insp *asynq.Inspector, limiter *ratelimit.Limiter, shards jobs.Shards, accounts []string, now time.Time) (map[string]time.Duration, error) {
	kindOf := map[string]string{}
	out := map[string]time.Duration{}
	for kind := range kinds {
		out[kind] = 0
		for _, q := range shards.Queues(kind) {
			kindOf[q] = kind
		}
	}
	existing, err := insp.Queues() // asynq knows a queue once a task was in it
	if err != nil {
		return nil, err
	}
	for _, q := range existing {
		kind, ours := kindOf[q]
		if !ours {
			continue
		}
		info, err := insp.GetQueueInfo(q)
		if err != nil {
			return nil, err
		}
		out[kind] = max(out[kind], info.Latency)
	}
	deferred, err := limiter.Waiting(ctx, accounts)
	if err != nil {
		return nil, err
	}
	for kind, c := range classes {
		if since, ok := deferred[c]; ok {
			out[kind] = max(out[kind], now.Sub(since))
		}
	}
	return out, nil
}

// accountKeys are the rate-limit keys of every external account.
func accountKeys(cfg *config.Config) []string {
	var keys []string
	for _, m := range cfg.Merchants {
		for _, h := range m.Helpdesks {
			keys = append(keys, h.ID)
		}
		for _, mk := range m.Marketplaces {
			keys = append(keys, mk.ID)
		}
	}
	return keys
}

// planners merges the event kinds of the features.
func planners(sets ...map[string]events.Planner) map[string]events.Planner {
	out := map[string]events.Planner{}
	for _, set := range sets {
		for kind, p := range set {
			if _, dup := out[kind]; dup {
				panic("two features plan event kind " + kind)
			}
			out[kind] = p
		}
	}
	return out
}

// newHelpdesk builds the connector of one helpdesk account, with its
// calls paced by the shared limiter and counted.
func newHelpdesk(h config.Helpdesk, allowPrivate bool, limiter *ratelimit.Limiter, metrics *telemetry.Metrics, o Overrides) (connectors.Helpdesk, error) {
	limiter.Set(h.ID, ratelimit.Limit{Requests: h.RateLimit.Requests, Per: h.RateLimit.Per})
	// The timeout lives in the transport so that waiting for the shared
	// limiter, which can take seconds, does not eat into it.
	tr := &connectors.Transport{Base: o.Transport, System: h.Kind, Key: h.ID, Limiter: limiter, Observer: metrics, Now: o.Now, Timeout: h.Timeout}
	if h.Kind == config.KindZendesk {
		updates := h.ID + ":update-ticket"
		limiter.Set(updates, ratelimit.Limit{Requests: h.UpdateRateLimit.Requests, Per: h.UpdateRateLimit.Per})
		tr.Narrower = func(req *http.Request) string {
			if zendesk.IsUpdateTicket(req) {
				return updates
			}
			return ""
		}
	}
	client := &http.Client{Transport: tr}
	// Attachments' URLs come from the helpdesk's payloads: their
	// downloads dial only public addresses, unless the operator allows
	// private ones for local fakes.
	downloads := &http.Client{
		Transport: &connectors.Transport{Base: connectors.NewDownloadTransport(allowPrivate), System: h.Kind, Key: h.ID, Limiter: limiter, Observer: metrics, Now: o.Now, Timeout: h.Timeout},
	}
	switch h.Kind {
	case config.KindGorgias:
		return gorgias.New(gorgias.Options{BaseURL: h.BaseURL, Email: h.Email, APIKey: h.APIKey.Reveal(), HTTPClient: client, DownloadClient: downloads, FileHosts: h.FileHosts, Now: o.Now})
	case config.KindZendesk:
		return zendesk.New(zendesk.Options{BaseURL: h.BaseURL, Email: h.Email, APIToken: h.APIKey.Reveal(), HTTPClient: client, DownloadClient: downloads, FileHosts: h.FileHosts, Now: o.Now})
	default:
		return nil, fmt.Errorf("unknown helpdesk kind %q", h.Kind)
	}
}

// webhookParsers verify each helpdesk account's webhook deliveries with
// its secret; an account without a secret takes none.
func webhookParsers(cfg *config.Config, now func() time.Time) map[string]discussions.WebhookParser {
	out := map[string]discussions.WebhookParser{}
	for _, m := range cfg.Merchants {
		for _, h := range m.Helpdesks {
			secret := h.WebhookSecret.Reveal()
			if secret == "" {
				continue
			}
			switch h.Kind {
			case config.KindGorgias:
				out[h.ID] = func(header http.Header, body []byte) (connectors.WebhookEvent, error) {
					return gorgias.ParseWebhook(header, body, secret)
				}
			case config.KindZendesk:
				out[h.ID] = func(header http.Header, body []byte) (connectors.WebhookEvent, error) {
					return zendesk.ParseWebhook(header, body, secret, now())
				}
			}
		}
	}
	return out
}

// newMarketplace builds the connector of one marketplace shop account,
// paced and counted like the helpdesks.
func newMarketplace(mk config.Marketplace, rdb redis.UniversalClient, keyPrefix string, limiter *ratelimit.Limiter, metrics *telemetry.Metrics, o Overrides) (connectors.Marketplace, error) {
	if mk.Kind == config.KindEmail {
		return newEmailMarketplace(mk, rdb, keyPrefix, o)
	}
	limiter.Set(mk.ID, ratelimit.Limit{Requests: mk.RateLimit.Requests, Per: mk.RateLimit.Per})
	client := &http.Client{
		Transport: &connectors.Transport{Base: o.Transport, System: mk.Kind, Key: mk.ID, Limiter: limiter, Observer: metrics, Now: o.Now, Timeout: mk.Timeout},
	}
	switch mk.Kind {
	case config.KindMirakl:
		return mirakl.New(mirakl.Options{
			BaseURL: mk.BaseURL, APIKey: mk.APIKey.Reveal(), ShopID: mk.ShopID, HTTPClient: client, Now: o.Now,
			EvaluationWindow: mk.RatingWindow, InvoiceDocumentType: mk.InvoiceDocumentType,
		})
	case config.KindFnac:
		return fnac.New(fnac.Options{
			BaseURL: mk.BaseURL, PartnerID: mk.Fnac.PartnerID, ShopID: mk.ShopID, Key: mk.APIKey.Reveal(),
			MarkReadAfterMirroring: mk.Fnac.MarkRead, ArchiveWhenClosed: mk.Fnac.ArchiveWhenClosed,
			HTTPClient: client, Now: o.Now,
		})
	case config.KindRakuten:
		return rakuten.New(rakuten.Options{
			BaseURL: mk.BaseURL, Login: mk.Rakuten.Login, Token: mk.APIKey.Reveal(),
			// What getiteminfos marked read lives in Redis, shared by the
			// replicas and kept across restarts.
			Store:        rakuten.NewRedisStore(rdb, keyPrefix, mk.ID, o.Now),
			QuotaBackoff: o.RakutenQuotaBackoff, Limiter: limiter, LimiterKey: mk.ID,
			HTTPClient: client, Now: o.Now,
		})
	default:
		return nil, fmt.Errorf("unknown marketplace kind %q", mk.Kind)
	}
}

// Addr is where the HTTP server listens.
// invoiceFiles is where invoices' PDFs are kept, as invoice_files says.
func invoiceFiles(cfg *config.Config, client redis.UniversalClient) (invoices.Files, error) {
	s3 := cfg.InvoiceFiles.S3
	if cfg.InvoiceFiles.Kind != config.InvoiceFilesS3 || s3 == nil {
		return invoices.NewRedisFiles(client, cfg.Redis.KeyPrefix, 0), nil
	}
	files, err := invoices.NewS3Files(invoices.S3Options{
		Endpoint: s3.Endpoint, Bucket: s3.Bucket, Region: s3.Region, Prefix: s3.Prefix,
		AccessKey: s3.AccessKey.Reveal(), SecretKey: s3.SecretKey.Reveal(),
		TLS: s3.TLS == nil || *s3.TLS, Timeout: s3.Timeout,
	})
	if err != nil {
		return nil, fmt.Errorf("invoice_files.s3: %w", err)
	}
	return files, nil
}

func (a *App) Addr() string { return a.listener.Addr().String() }

// Handler is the HTTP handler, for in-process tests.
func (a *App) Handler() http.Handler { return a.engine }

// maxHeaderBytes bounds a request's headers, far below net/http's 1 MiB
// default: no caller of the bridge needs more, and every header byte is
// work done before anyone is authenticated.
const maxHeaderBytes = 64 << 10

// Run serves until ctx ends, then shuts down gracefully: the HTTP server
// stops taking requests and finishes the ones in flight, and the workers
// finish their running tasks (unfinished ones go back to their queue).
func (a *App) Run(ctx context.Context) error {
	defer a.conn.Close()
	srv := &http.Server{Handler: a.engine, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 60 * time.Second, MaxHeaderBytes: maxHeaderBytes}
	errc := make(chan error, 1)
	go func() {
		if err := srv.Serve(a.listener); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- err
		}
	}()
	var wg sync.WaitGroup
	schedCtx, stopSched := context.WithCancel(ctx)
	defer stopSched()
	if a.workers != nil {
		if err := a.workers.Start(); err != nil {
			return fmt.Errorf("workers: %w", err)
		}
		wg.Add(1)
		go func() { defer wg.Done(); a.sched.Run(schedCtx) }()
		for _, w := range a.watchers {
			wg.Add(1)
			go func() { defer wg.Done(); w(schedCtx) }()
		}
	}
	a.log.Info().Str("mode", string(a.mode)).Str("addr", a.Addr()).Bool("embedded_redis", a.conn.Embedded != nil).Msg("bridge started")

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
	}
	a.log.Info().Msg("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), a.cfg.Server.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		a.log.Warn().Err(err).Msg("http shutdown")
	}
	stopSched()
	wg.Wait()
	if a.workers != nil {
		a.workers.Shutdown()
	}
	_ = a.client.Close()
	a.log.Info().Msg("stopped")
	return runErr
}

// invoiceLinks serves the sidebars' invoice links from the invoices.
type invoiceLinks struct{ m *invoices.Maker }

func (l invoiceLinks) OrderInvoicePDF(ctx context.Context, merchant, store, orderID string) (string, []byte, error) {
	inv, err := l.m.Existing(ctx, merchant, store, orderID)
	if errors.Is(err, invoices.ErrNotFound) {
		return "", nil, widgets.ErrNoInvoice
	}
	if err != nil {
		return "", nil, err
	}
	pdf, err := l.m.Service().PDF(ctx, merchant, inv)
	return inv.Number, pdf, err
}
