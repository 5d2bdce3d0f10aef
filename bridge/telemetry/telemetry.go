// Package telemetry holds the bridge's Prometheus metrics. One Metrics
// value is built in main and handed to the parts that count: the HTTP
// middleware, the Asynq middleware and the connectors' transport.
package telemetry

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/helpdesk-bridge/bridge/bridge/httpapi"
)

// Metrics is the set of collectors the bridge exports on /metrics.
type Metrics struct {
	Registry *prometheus.Registry

	HTTPRequests *prometheus.CounterVec
	HTTPLatency  *prometheus.HistogramVec

	TasksProcessed *prometheus.CounterVec
	TasksRetried   *prometheus.CounterVec
	TasksFailed    *prometheus.CounterVec
	TasksArchived  *prometheus.CounterVec

	ExternalCalls   *prometheus.CounterVec
	ExternalLatency *prometheus.HistogramVec
	RateLimited     *prometheus.CounterVec
	LimiterWait     *prometheus.HistogramVec
	LimiterLongest  *prometheus.GaugeVec
	TasksDeferred   *prometheus.CounterVec

	EventsReceived *prometheus.CounterVec

	WidgetReads *prometheus.CounterVec

	mu      sync.Mutex
	longest map[string]float64 // by system, behind LimiterLongest
}

// New registers every collector on a fresh registry.
func New() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		longest:  map[string]float64{},
		HTTPRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bridge_http_requests_total", Help: "HTTP requests served, by route and status.",
		}, []string{"method", "route", "status"}),
		HTTPLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "bridge_http_request_duration_seconds", Help: "HTTP request latency, by route.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"method", "route"}),
		TasksProcessed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bridge_tasks_processed_total", Help: "Asynq tasks that completed successfully, by type.",
		}, []string{"type"}),
		TasksRetried: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bridge_tasks_retried_total", Help: "Asynq task attempts that failed and will be retried, by type.",
		}, []string{"type"}),
		TasksFailed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bridge_tasks_failed_total", Help: "Asynq task attempts that failed, by type.",
		}, []string{"type"}),
		TasksArchived: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bridge_tasks_archived_total", Help: "Asynq tasks whose retries ran out or that failed permanently: dead letters.",
		}, []string{"type"}),
		ExternalCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bridge_external_calls_total", Help: "Calls to external APIs (helpdesks, marketplaces), by system and HTTP status (0: no answer).",
		}, []string{"system", "status"}),
		ExternalLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "bridge_external_call_duration_seconds", Help: "Latency of calls to external APIs.",
			Buckets: prometheus.DefBuckets,
		}, []string{"system"}),
		RateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bridge_external_rate_limited_total", Help: "429 answers received from external APIs.",
		}, []string{"system"}),
		LimiterWait: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "bridge_rate_limiter_wait_seconds", Help: "Time spent waiting for the shared rate limiter before a call.",
			Buckets: []float64{0.001, 0.01, 0.1, 0.5, 1, 2, 5, 10, 30, 60},
		}, []string{"system"}),
		LimiterLongest: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "bridge_rate_limiter_longest_wait_seconds", Help: "The longest a caller waited in place for the shared rate limiter since start; a task whose turn is further off gives its worker back instead.",
		}, []string{"system"}),
		TasksDeferred: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bridge_tasks_deferred_total", Help: "Task attempts put off because their account's budget was spent, by system and priority class: they gave their worker back and come back when their turn is due. Not failures.",
		}, []string{"system", "class"}),
		EventsReceived: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bridge_events_received_total", Help: "Signed events received, by kind and outcome.",
		}, []string{"kind", "outcome"}),
		WidgetReads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bridge_widget_reads_total",
			Help: "Sidebar widget answers, by format and state (ok, stale, unavailable, not_modified). Degraded answers are 200s, so only this shows them.",
		}, []string{"format", "state"}),
	}
	m.Registry.MustRegister(
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.HTTPRequests, m.HTTPLatency, m.TasksProcessed, m.TasksRetried, m.TasksFailed, m.TasksArchived,
		m.ExternalCalls, m.ExternalLatency, m.RateLimited, m.LimiterWait, m.LimiterLongest, m.TasksDeferred, m.EventsReceived,
		m.WidgetReads,
	)
	return m
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry})
}

// ObserveCall implements connectors.CallObserver.
func (m *Metrics) ObserveCall(system string, status int, elapsed time.Duration) {
	m.ExternalCalls.WithLabelValues(system, strconv.Itoa(status)).Inc()
	m.ExternalLatency.WithLabelValues(system).Observe(elapsed.Seconds())
	if status == http.StatusTooManyRequests {
		m.RateLimited.WithLabelValues(system).Inc()
	}
}

// ObserveLimiterWait implements connectors.CallObserver.
func (m *Metrics) ObserveLimiterWait(system string, waited time.Duration) {
	m.LimiterWait.WithLabelValues(system).Observe(waited.Seconds())
	m.mu.Lock()
	defer m.mu.Unlock()
	if secs := waited.Seconds(); secs > m.longest[system] {
		m.longest[system] = secs
		m.LimiterLongest.WithLabelValues(system).Set(secs)
	}
}

// ObserveDeferral implements connectors.CallObserver.
func (m *Metrics) ObserveDeferral(system, class string) {
	m.TasksDeferred.WithLabelValues(system, class).Inc()
}

// GinMiddleware counts requests by route template, never by raw path, so
// that customer data in paths or queries cannot become a label, and by
// method among the standard ones (any other is "other"), so that no
// caller can add series.
func (m *Metrics) GinMiddleware() gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		route, method := httpapi.Route(c), httpapi.Method(c)
		m.HTTPRequests.WithLabelValues(method, route, strconv.Itoa(c.Writer.Status())).Inc()
		m.HTTPLatency.WithLabelValues(method, route).Observe(time.Since(start).Seconds())
	}
}

// TaskProcessed implements jobs.Observer.
func (m *Metrics) TaskProcessed(taskType string) { m.TasksProcessed.WithLabelValues(taskType).Inc() }

// TaskFailed implements jobs.Observer: a failed attempt is either retried
// or, when retries ran out or the failure is permanent, archived.
func (m *Metrics) TaskFailed(taskType string, willRetry bool) {
	m.TasksFailed.WithLabelValues(taskType).Inc()
	if willRetry {
		m.TasksRetried.WithLabelValues(taskType).Inc()
	} else {
		m.TasksArchived.WithLabelValues(taskType).Inc()
	}
}

// Count implements events.Counter.
func (m *Metrics) Count(kind, outcome string) { m.EventsReceived.WithLabelValues(kind, outcome).Inc() }

// CountRead implements widgets.Counter.
func (m *Metrics) CountRead(format, state string) { m.WidgetReads.WithLabelValues(format, state).Inc() }

// WatchQueues exports, at each scrape, how long the oldest task of each
// queue has been waiting, as oldest reports it.
func (m *Metrics) WatchQueues(oldest func(context.Context) (map[string]time.Duration, error)) {
	m.Registry.MustRegister(queueAges{oldest: oldest, desc: prometheus.NewDesc(
		"bridge_queue_oldest_waiting_seconds",
		"How long the oldest waiting task of each queue has waited: pending, or put off by its account's rate limit.",
		[]string{"queue"}, nil)})
}

type queueAges struct {
	oldest func(context.Context) (map[string]time.Duration, error)
	desc   *prometheus.Desc
}

func (q queueAges) Describe(ch chan<- *prometheus.Desc) { ch <- q.desc }

func (q queueAges) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	type answer struct {
		ages map[string]time.Duration
		err  error
	}
	got := make(chan answer, 1)
	go func() {
		ages, err := q.oldest(ctx)
		got <- answer{ages, err}
	}()
	var ages map[string]time.Duration
	select {
	case a := <-got:
		ages = a.ages
		if a.err != nil {
			return
		}
	case <-ctx.Done():
		// Redis is down or slow (asynq's inspector takes no deadline):
		// /metrics still answers, with what the process itself knows.
		return
	}
	for queue, age := range ages {
		ch <- prometheus.MustNewConstMetric(q.desc, prometheus.GaugeValue, age.Seconds(), queue)
	}
}
