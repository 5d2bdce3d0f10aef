// Command bench measures the bridge as it ships and prints each figure as a
// ratio against a baseline measured in the same run: the machines it runs
// on are shared and noisy, so absolute figures are only context.
//
//	(a) Alert pipeline: signed order.action_required events posted to a real
//	    `bridge serve` process until an unthrottled fake Gorgias holds their
//	    tickets, against raw asynq no-op task throughput on the same Redis.
//	(b) Throttled delivery: the same pipeline against the fake at Gorgias's
//	    default limit (40 requests per 20 s) with the bridge's limiter at its
//	    default: Gorgias requests delivered per second against those allowed.
//	(c) Widget read: the Gorgias sidebar's GET of a customer with 20 orders,
//	    each with lines and a shipment, against two gin handlers built like
//	    the bridge's HTTP side, one answering a constant JSON and one doing
//	    a single Redis GET of 2 KB: the one-round-trip limit, of which the
//	    widget should reach 0.9. The widget is read twice over: every worker
//	    reading one customer, whose identical concurrent reads the bridge
//	    coalesces, and each worker reading its own customer, which it
//	    cannot. The same closed-loop load generator reads all four in
//	    interleaved rounds.
//	(d) Mirror latency: a bridge mirroring one account of an in-process
//	    fake Mirakl, synced every 10 s (the shortest the configuration
//	    allows), into an unthrottled fake Gorgias. Customer messages are
//	    posted into a thread at random moments; each is timed from its post
//	    to the fake Gorgias calling back that the ticket holds it. Baseline:
//	    the target, the sync period plus 2 s, which p95 should not exceed.
//	(e) Discussion backfill: threads seeded in the fake Mirakl before the
//	    bridge starts, mirrored by its first sync into a fake Gorgias at
//	    40 requests per 20 s, with the bridge's limiter at its default and
//	    the Mirakl limiter out of the way: Gorgias requests delivered per
//	    second against those allowed, computed as in (b), and the 429s.
//	(k) Mail latency: a bridge reading an Amazon account's folder on a
//	    real IMAP server (make bench starts a throwaway Dovecot) with IDLE,
//	    into an unthrottled fake Gorgias. Buyer mails are delivered into
//	    the folder by IMAP APPEND at random moments; each is timed from its
//	    APPEND to the fake calling back that the ticket holds it: p50 and
//	    p95 against the goal of 5 s. Baseline: for the same mails, the
//	    APPEND to an IDLE session of the bench's own (the bridge's watch
//	    code) seeing the mail, what the IMAP server takes to announce it.
//	(l) Mail backfill: a folder of 5,000 buyer mails, five per order,
//	    filled before the bridge starts and mirrored by its syncs into a
//	    fake Gorgias allowing ten times Gorgias's default (40 requests per
//	    20 s would take 83 minutes), the bridge's limiter set alike:
//	    requests delivered per second against those allowed, computed as
//	    in (b), and the 429s.
//	(m) Fnac latency: a bridge mirroring one Fnac shop of an in-process
//	    fake of Fnac Darty's seller API, synced at the default period
//	    (1 min), into an unthrottled fake Gorgias. Customer messages are
//	    added to a thread at random moments over two periods; each is timed
//	    from its creation to the fake Gorgias calling back that the ticket
//	    holds it: p50 and p95, and p95 against the sync period and against
//	    the goal, the period plus 2 s.
//	(n) Fnac backfill: 1,000 Fnac threads of one message each, seeded
//	    before the bridge starts and mirrored by its first sync into a
//	    fake Gorgias allowing ten times Gorgias's default (as (l)), the
//	    bridge's limiter set alike and the Fnac limiter out of the way:
//	    requests delivered per second against those allowed, computed as
//	    in (b), the 429s, and every message once. The table apiMarkets
//	    gives each API marketplace its own pair of phases.
//	(o) Rakuten latency: as (m), for one Rakuten France seller on an
//	    in-process fake of its sales_ws, synced at the default period
//	    (1 min, also the least Rakuten's configuration takes), a listing
//	    being a read of the todo list (getitemtodolist).
//	(p) Rakuten backfill: as (n), 1,000 Rakuten threads (items sold, one
//	    buyer message each), the Rakuten limiter out of the way and its
//	    hourly quota off in the fake.
//	(f) Isolation: two merchants, each with a Gorgias account at its real
//	    limit. B's alert delay while A drains an alert backlog; A's agents'
//	    reply delay and A's new-alert delay while A backfills threads
//	    (goals: p95 within 3 s and 5 s); A's delivered requests per second
//	    against those allowed during each backlog; the 429s; and the
//	    longest any worker waited in place on a limiter.
//	(h) Balance: on a Redis Cluster (make bench starts a 3+3 one), with
//	    the queues sharded, alerts and order upserts of 12 merchants, each
//	    with its own Gorgias account: the commands each master processed,
//	    and the least over the most busy (goal >= 0.75); from each
//	    master's MONITOR stream, the key families and hash tags that
//	    dominate it, and how evenly each family spreads.
//	(i) Failover: a Redis Cluster of its own, 3 masters and 3 replicas
//	    with a 1 s cluster-node-timeout (never the one -cluster names),
//	    the bridge on it with the queues sharded, alerts posted
//	    continuously, and the master holding the alerts queue killed with
//	    SIGKILL: how long the replica took to take over, then how long
//	    after the cluster's recovery the bridge accepted an event (202)
//	    and raised an alert again, against the goal of 5 s; the events
//	    answered 503 meanwhile, each posted again as its sender would;
//	    and every event accepted delivered exactly once. Needs
//	    redis-server and redis-cli.
//	(g) Ingest: a million order.upserted events of 100,000 customers
//	    posted to the bridge until its read model holds them all, against
//	    raw asynq no-op throughput on the same Redis; the bridge's peak
//	    RSS; what the read model costs in Redis per order (INFO memory and
//	    MEMORY USAGE by kind of key); and widget reads spread over every
//	    customer against a gin handler doing one Redis GET of a document
//	    of the same size.
//	(j) Export: GET /v1/orders.csv of a million orders (those the ingest
//	    phase left, or as many applied to the read model), from a bridge
//	    started for it alone: orders and rows per second against reading
//	    the same orders' raw values from Redis a batch at a time, and the
//	    bridge's peak RSS (goal: under 100 MB).
//	(q) Bulk invoices: a job of 10,000 priced orders submitted to
//	    POST /v1/invoices/{store}/bulk on a bridge started for it alone,
//	    polled until done, and its zip downloaded: invoices per second
//	    from the POST to the zip's last byte, against the same invoices
//	    issued and rendered in-process by invoices.Service on the same
//	    Redis; and the bridge's RSS at start and at its peak (VmHWM).
//
// It builds the bridge binary, runs it as a subprocess on loopback, and
// needs a throwaway Redis at $BRIDGE_TEST_REDIS_ADDR (`make bench` starts
// one): it flushes database 7 there.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(args) > 0 && args[0] == serveBaselinesFlag {
		return serveBaselines(ctx, args[1:], stderr)
	}

	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	fs.StringVar(&o.redisAddr, "redis", os.Getenv("BRIDGE_TEST_REDIS_ADDR"), "throwaway Redis (host:port) whose database 7 is flushed; default $BRIDGE_TEST_REDIS_ADDR")
	fs.IntVar(&o.n, "n", 0, "events posted in the pipeline phase (default 2000, quick 40)")
	fs.IntVar(&o.m, "m", 0, "events posted in the throttled phase (default 60, quick 24)")
	fs.BoolVar(&o.quick, "quick", false, "small n and m and short widget rounds, to check that the benchmark still runs")
	fs.BoolVar(&o.skipPipeline, "skip-pipeline", false, "skip the alert pipeline phase and its asynq baselines")
	fs.BoolVar(&o.skipThrottled, "skip-throttled", false, "skip the throttled phase, which paces itself to Gorgias's real limit")
	fs.BoolVar(&o.skipWidget, "skip-widget", false, "skip the widget read phase")
	fs.BoolVar(&o.skipMirrorLatency, "skip-mirror-latency", false, "skip the mirror latency phase, which waits on the bridge's discussion sync (every 10 s)")
	fs.BoolVar(&o.skipBackfill, "skip-backfill", false, "skip the discussion backfill phase, which paces itself to Gorgias's real limit")
	fs.IntVar(&o.mirrorMessages, "mirror-messages", 0, "customer messages posted in the mirror latency phase (default 20 over 30 s, quick 4 over 5 s)")
	fs.BoolVar(&o.skipMailLatency, "skip-mail-latency", false, "skip the mail latency phase, which needs an IMAP server (make bench starts Dovecot)")
	fs.BoolVar(&o.skipMailBackfill, "skip-mail-backfill", false, "skip the mail backfill phase, which mirrors 5,000 mails at the Gorgias account's limit: about 9 minutes")
	fs.IntVar(&o.mailMessages, "mail-messages", 0, "buyer mails delivered in the mail latency phase (default 20 over a minute, quick 4 over 6 s)")
	fs.IntVar(&o.mailBackfillMessages, "mail-backfill-messages", 0, "buyer mails in the folder the mail backfill phase mirrors, five per order (default 5000, quick 24)")
	fs.IntVar(&o.mailBackfillCapacity, "mail-backfill-capacity", 0, "Gorgias requests per 20 s the mail backfill's account allows, the fake and the bridge's limiter alike (default 400, ten times Gorgias's default; quick 40)")
	addMarketFlags(fs, &o)
	fs.IntVar(&o.backfillThreads, "backfill-threads", 0, "Mirakl threads mirrored in the backfill phase (default 80, quick 24)")
	fs.StringVar(&o.clusterAddrs, "cluster", os.Getenv("BRIDGE_TEST_REDIS_CLUSTER"), "throwaway Redis Cluster nodes (host:port,...) for the balance phase, every master flushed; default $BRIDGE_TEST_REDIS_CLUSTER")
	fs.BoolVar(&o.skipBalance, "skip-balance", false, "skip the balance phase (operations per Redis Cluster master)")
	fs.IntVar(&o.balanceAlerts, "balance-alerts", 0, "alerts posted in the balance phase (default 2000, quick 100)")
	fs.IntVar(&o.balanceCustomers, "balance-customers", 0, "customers whose orders are posted in the balance phase (default 200, quick 10)")
	fs.BoolVar(&o.skipFailover, "skip-failover", false, "skip the failover phase, which starts a Redis Cluster of its own and kills one of its masters")
	fs.IntVar(&o.failoverPort, "failover-port", 0, "first port the failover phase's cluster may use, with the 5 after it and their bus ports 10000 higher (default: picked by the process id, from 30000)")
	fs.BoolVar(&o.skipIsolation, "skip-isolation", false, "skip the isolation phase, which paces itself to Gorgias's real limit for about 3 minutes")
	fs.IntVar(&o.isolationAlerts, "isolation-alerts", 0, "merchant A's alert backlog in the isolation phase (default 1000, quick 60)")
	fs.IntVar(&o.isolationThreads, "isolation-threads", 0, "threads merchant A backfills in the isolation phase (default 2000, quick 60)")
	fs.DurationVar(&o.isolationWindow, "isolation-window", 0, "how long each part of the isolation phase measures (default 1m, quick 15s)")
	fs.BoolVar(&o.skipIngest, "skip-ingest", false, "skip the ingest phase, which posts a million order events: about 20 minutes on 2 shared cores")
	fs.IntVar(&o.ingestEvents, "ingest-events", 0, "order.upserted events posted in the ingest phase (default 1000000, quick 2000)")
	fs.BoolVar(&o.skipExport, "skip-export", false, "skip the export phase, which exports a million orders (applied to the read model first unless the ingest phase left them)")
	fs.IntVar(&o.exportOrders, "export-orders", 0, "orders exported in the export phase (default 1000000, quick 2000)")
	fs.BoolVar(&o.skipInvoices, "skip-invoices", false, "skip the bulk invoice phase, which invoices 10,000 orders in one job and zips their PDFs")
	fs.IntVar(&o.invoiceOrders, "invoice-orders", 0, "orders of the bulk invoice phase's job (default 10000, quick 250)")
	fs.IntVar(&o.ingestCustomers, "ingest-customers", 0, "customers the ingest phase's orders belong to (default 100000, quick 200)")
	fs.IntVar(&o.widgetWorkers, "widget-workers", 0, "concurrent readers in the widget phase, each on its own connection, and customers read one per reader by widget-spread (default 16)")
	fs.IntVar(&o.widgetRounds, "widget-rounds", 0, "measured rounds per target in the widget phase and the ingest phase's reads (default 30, quick 3)")
	fs.DurationVar(&o.widgetRound, "widget-round", 0, "length of one round of one target in the widget phase and the ingest phase's reads (default 1s, quick 300ms)")
	verbose := fs.Bool("v", false, "show the bridge's and the baselines server's log lines (warnings and errors) on stderr")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "bench: unexpected arguments %q\n", fs.Args())
		return 2
	}
	if o.redisAddr == "" {
		// Never fall back to a default address: the bench flushes a database
		// there, and a developer's own Redis must not lose it.
		fmt.Fprintln(stderr, "bench: no Redis: run `make bench`, or set BRIDGE_TEST_REDIS_ADDR or -redis to a throwaway redis-server")
		return 2
	}
	if o.n < 0 || o.m < 0 || o.widgetWorkers < 0 || o.widgetRounds < 0 || o.widgetRound < 0 || o.mirrorMessages < 0 || o.backfillThreads < 0 ||
		o.mailMessages < 0 || o.mailBackfillMessages < 0 || o.mailBackfillCapacity < 0 ||
		o.isolationAlerts < 0 || o.isolationThreads < 0 || o.isolationWindow < 0 || o.ingestEvents < 0 || o.ingestCustomers < 0 || o.exportOrders < 0 || o.invoiceOrders < 0 ||
		o.balanceAlerts < 0 || o.balanceCustomers < 0 || o.failoverPort < 0 || o.failoverPort > 55000 {
		fmt.Fprintln(stderr, "bench: -n, -m, -mirror-messages, -backfill-threads and the -mail-, -widget-, -isolation-, -ingest- and -balance- flags must be positive, -failover-port a port")
		return 2
	}
	for _, m := range apiMarkets {
		mo := m.opts(&o)
		if mo.messages < 0 || mo.threads < 0 || mo.capacity < 0 || mo.syncEvery < 0 || (mo.syncEvery > 0 && mo.syncEvery < m.leastSync()) {
			fmt.Fprintf(stderr, "bench: the -%[1]s- flags must be positive, -%[1]s-sync-every at least %s (the configuration's least)\n", m.kind, m.leastSync())
			return 2
		}
	}

	o.progress = stderr
	if *verbose {
		o.bridgeLogs = stderr
	}
	rep, err := runBench(ctx, o)
	if rep != nil {
		rep.print(stdout)
	}
	if err != nil {
		if errors.Is(err, context.Canceled) {
			fmt.Fprintln(stderr, "bench: interrupted")
		} else {
			fmt.Fprintln(stderr, "bench:", err)
		}
		return 1
	}
	return 0
}
