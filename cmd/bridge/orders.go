package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/helpdesk-bridge/bridge/bridge/rdb"
	"github.com/helpdesk-bridge/bridge/config"
	"github.com/helpdesk-bridge/bridge/orders"
)

const ordersUsage = `usage: bridge orders export -config FILE -merchant ID [filters] > orders.csv

subcommands:
  export  write a merchant's orders as CSV on stdout, as GET /v1/orders.csv does
`

// runOrders runs "bridge orders SUBCOMMAND".
func runOrders(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	switch {
	case len(args) == 0:
		fmt.Fprint(stderr, ordersUsage)
		return 2
	case isHelp(args[0]) || args[0] == "help":
		fmt.Fprint(stdout, ordersUsage)
		return 0
	case args[0] == "export":
		return runOrdersExport(ctx, args[1:], stdout, stderr)
	default:
		fmt.Fprintf(stderr, "bridge orders: unknown subcommand %q\n\n%s", args[0], ordersUsage)
		return 2
	}
}

// runOrdersExport streams the export from the configured Redis, batch by
// batch, as the API does: its memory does not grow with the orders.
func runOrdersExport(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newCommand("orders export", "-config FILE -merchant ID [filters] > orders.csv",
		"Writes every order of a merchant that the filters select to stdout as CSV, with the\ncolumns of README's \"Orders\" section, read from the configuration's Redis.", stderr)
	path := fs.String("config", envOr("BRIDGE_CONFIG", "bridge.yaml"), "configuration file ($BRIDGE_CONFIG)")
	merchant := fs.String("merchant", "", "the merchant's id (required)")
	after := fs.String("created-after", "", "purchase date from this time, included: RFC 3339 or a date")
	before := fs.String("created-before", "", "purchase date before this time, excluded: RFC 3339 or a date")
	var q orders.Query
	fs.StringVar(&q.Marketplace, "marketplace", "", "the order's marketplace, any case")
	fs.StringVar(&q.Store, "store", "", "the order's store")
	fs.StringVar(&q.OrderID, "order-id", "", "the order id, exactly")
	fs.StringVar(&q.Status, "status", "", "the normalised status: New, InProgress, Shipped, Canceled, Closed, Undefined or NotProvided")
	fs.StringVar(&q.MarketplaceStatus, "marketplace-status", "", "the marketplace's own status, any case")
	fs.StringVar(&q.Email, "email", "", "the customer's email, any case")
	bom := fs.Bool("bom", false, "start with a UTF-8 byte order mark, for Excel")
	if code, done := fs.parse(args, stdout); done {
		return code
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "bridge orders export: "+format+"\n", a...)
		return 2
	}
	if fs.NArg() > 0 {
		return fail("unexpected argument %q", fs.Arg(0))
	}
	if *merchant == "" {
		return fail("-merchant is required")
	}
	var err error
	if q.CreatedAfter, err = orders.ParseTime("-created-after", *after); err != nil {
		return fail("%v", err)
	}
	if q.CreatedBefore, err = orders.ParseTime("-created-before", *before); err != nil {
		return fail("%v", err)
	}
	if err := orders.CheckCreatedRange(q, "-created-after", "-created-before"); err != nil {
		return fail("%v", err)
	}
	if q.Status != "" && !slices.Contains(orders.Statuses, q.Status) {
		return fail("-status must be one of %v", orders.Statuses)
	}
	cfg, err := config.Load(*path, os.LookupEnv)
	if err != nil {
		fmt.Fprintf(stderr, "bridge: configuration %s:\n%v\n", *path, err)
		return 1
	}
	if !slices.ContainsFunc(cfg.Merchants, func(m config.Merchant) bool { return m.ID == *merchant }) {
		return fail("-merchant: %q is not a merchant of %s", *merchant, *path)
	}
	conn, err := rdb.Open(ctx, cfg.Redis, newLogger(stderr))
	if err != nil {
		fmt.Fprintf(stderr, "bridge orders export: redis: %v\n", err)
		return 1
	}
	defer func() { _ = conn.Close() }()
	if conn.Embedded != nil {
		return fail("the configuration names no Redis: there are no orders to export")
	}
	store := orders.NewStore(conn.Client, cfg.Redis.KeyPrefix, cfg.Widgets.Retention, cfg.Widgets.MaxOrders, time.Now)
	w := bufio.NewWriterSize(stdout, 64<<10)
	n, err := store.Export(ctx, w, *merchant, q, orders.ExportOptions{BOM: *bom, Flush: func() { _ = w.Flush() }})
	if err == nil {
		err = w.Flush()
	}
	if err != nil {
		fmt.Fprintf(stderr, "bridge orders export: failed after %d orders: %v\n", n, err)
		return 1
	}
	fmt.Fprintf(stderr, "bridge orders export: %d orders\n", n)
	return 0
}
