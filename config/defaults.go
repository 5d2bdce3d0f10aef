package config

import (
	"slices"
	"time"
)

// defaultRateLimits is each helpdesk kind's budget for one account.
// DefaultSettleDelay is how long a write that got no answer is given to
// land before it is looked up again. Vendors document no processing time;
// gateways commonly cut requests at 30 to 60 s while the work behind them
// goes on, so twice that is taken.
const DefaultSettleDelay = 2 * time.Minute

// DefaultZendeskUpdateLimit paces Zendesk's Update Ticket endpoint, which
// Zendesk limits to 100 requests a minute per account whatever the plan
// (its own updates in the agents' interface count too): 90 leaves them
// room.
var DefaultZendeskUpdateLimit = RateLimit{Requests: 90, Per: time.Minute}

// DefaultBadRatingThreshold: a survey score of 2 or less is bad.
const DefaultBadRatingThreshold = 2

var defaultRateLimits = map[string]RateLimit{
	// Gorgias allows an API key 40 requests per 20 seconds.
	KindGorgias: {Requests: 40, Per: 20 * time.Second},
	// Zendesk's Team plan allows 200 requests a minute. How its limiter
	// counts (fixed or sliding window, bursts) is not documented, so we
	// keep 10% headroom rather than meet the limit exactly.
	KindZendesk: {Requests: 180, Per: time.Minute},
	// Mirakl documents no request limit, only per-call frequency advice.
	// Stay well below what its instances are reported to tolerate.
	KindMirakl: {Requests: 60, Per: time.Minute},
	// Fnac documents no request limit either (UNVERIFIED): the same
	// cautious pace.
	KindFnac: {Requests: 60, Per: time.Minute},
	// Rakuten counts requests per hour and refuses past its quota for the
	// rest of the hour; the quota's numbers are UNVERIFIED. 20 a minute
	// (1,200 an hour) leaves a sync every minute room for 19 items.
	KindRakuten: {Requests: 20, Per: time.Minute},
}

// ApplyDefaults fills every setting left at its zero value. Load and Parse
// call it; it serves a Config built in code.
//
//	server.listen                    :8080
//	server.shutdown_timeout          30s
//	server.admin.username            admin
//	worker.concurrency               10
//	worker.max_retry                 25
//	worker.task_retention            24h
//	worker.queue_shards              1
//	events.replay_window             5m
//	events.dedupe_ttl                168h
//	widgets.retention                8760h (a year)
//	widgets.budget                   300ms
//	widgets.max_orders               50
//	widgets.last_known               10000
//	widgets.max_future_skew          5m
//	invoice_files.kind               redis
//	invoice_files.s3.tls             true
//	invoice_files.s3.timeout         30s
//	merchants[].bad_rating_threshold 2
//	sidebars[].language              en
//	marketplaces[].sync_every        60s
//	marketplaces[].overlap           2m
//	marketplaces[].backfill          720h (30 days)
//	marketplaces[].rating_sync_every 1h
//	marketplaces[].rating_window     720h (30 days)
//	marketplaces[].timeout           30s
//	marketplaces[].rate_limit        mirakl 60 per 1m
//	helpdesks[].language             en
//	helpdesks[].timeout              10s
//	helpdesks[].alerts               every kind
//	helpdesks[].rate_limit           gorgias 40 per 20s, zendesk 180 per 1m
func (c *Config) ApplyDefaults() {
	orDefault(&c.Server.Listen, ":8080")
	orDefault(&c.Server.ShutdownTimeout, 30*time.Second)
	orDefault(&c.Server.Admin.Username, "admin")
	orDefault(&c.Redis.ReplicaAckTimeout, time.Second)
	orDefault(&c.Worker.Concurrency, 10)
	orDefault(&c.Worker.MaxRetry, 25)
	orDefault(&c.Worker.TaskRetention, 24*time.Hour)
	orDefault(&c.Events.ReplayWindow, 5*time.Minute)
	orDefault(&c.Events.DedupeTTL, 7*24*time.Hour)
	orDefault(&c.Widgets.Retention, 365*24*time.Hour)
	orDefault(&c.Widgets.Budget, 300*time.Millisecond)
	orDefault(&c.Widgets.MaxOrders, 50)
	orDefault(&c.Widgets.LastKnown, 10000)
	orDefault(&c.Widgets.MaxFutureSkew, 5*time.Minute)
	orDefault(&c.InvoiceFiles.Kind, InvoiceFilesRedis)
	if s3 := c.InvoiceFiles.S3; s3 != nil {
		if s3.TLS == nil {
			on := true
			s3.TLS = &on
		}
		orDefault(&s3.Timeout, 30*time.Second)
	}
	for i := range c.Merchants {
		m := &c.Merchants[i]
		if m.BadRatingThreshold == nil {
			// Spelled out so that the effective setting shows.
			v := DefaultBadRatingThreshold
			m.BadRatingThreshold = &v
		}
		for j := range m.Sidebars {
			orDefault(&m.Sidebars[j].Language, "en")
		}
		for j := range m.Marketplaces {
			mp := &m.Marketplaces[j]
			orDefault(&mp.SyncEvery, time.Minute)
			orDefault(&mp.Overlap, 2*time.Minute)
			orDefault(&mp.Backfill, 30*24*time.Hour)
			orDefault(&mp.RatingSyncEvery, time.Hour)
			orDefault(&mp.RatingWindow, 30*24*time.Hour)
			orDefault(&mp.Timeout, 30*time.Second)
			orDefault(&mp.SettleDelay, DefaultSettleDelay)
			if mp.Kind == KindRakuten {
				orDefault(&mp.BaseURL, RakutenBaseURL)
				orDefault(&mp.Name, KindRakuten)
			}
			if mp.Kind == KindFnac {
				orDefault(&mp.BaseURL, FnacBaseURL)
				if mp.Fnac != nil {
					orDefault(&mp.Name, mp.Fnac.Platform)
				}
			}
			if mp.RateLimit == (RateLimit{}) {
				mp.RateLimit = defaultRateLimits[mp.Kind]
			}
		}
		for j := range m.Helpdesks {
			h := &m.Helpdesks[j]
			orDefault(&h.Language, "en")
			orDefault(&h.Timeout, 10*time.Second)
			orDefault(&h.SettleDelay, DefaultSettleDelay)
			if len(h.Alerts) == 0 {
				// Spelled out so that the effective setting shows.
				h.Alerts = slices.Clone(AllAlertKinds)
			}
			if h.RateLimit == (RateLimit{}) {
				h.RateLimit = defaultRateLimits[h.Kind]
			}
			if h.Kind == KindZendesk && h.UpdateRateLimit == (RateLimit{}) {
				h.UpdateRateLimit = DefaultZendeskUpdateLimit
			}
		}
	}
}

func orDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}
