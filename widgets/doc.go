// Package widgets serves each customer's orders to helpdesk sidebars: a
// Gorgias HTTP integration (JSON), a Zendesk sidebar app and any HTML
// sidebar (HTML), and a Help Scout dynamic app (signed, {"html": ...}).
//
// Data flows one way. The orders package keeps each customer's document
// up to date, and has this package render each sidebar's widget as it
// writes it (Service.Prerender), kept gzipped in the document's value. A
// read by a client that takes gzip is one GET of that value and the
// render sent as it is; other reads get the document projected onto the
// sidebar's View (its stores and layout) and rendered. The Reader puts a
// time budget around the round trip, coalesces identical reads, sends
// concurrent sidebar reads to Redis together under load, and answers
// from the last known data, with its age, when Redis is slow or
// down: a sidebar never gets an error that would count toward a helpdesk
// disabling the integration.
package widgets

import "time"

// Version is the version of the widget payload. Field paths are never
// renamed or re-nested: helpdesk admins bind widget templates to them. A
// change that must break them gets a new version.
const Version = 1

// Freshness says how current a rendered widget is.
type Freshness struct {
	// State is StateOK, StateStale or StateUnavailable.
	State string
	// AsOf is when the data was read from Redis (stale answers only).
	AsOf time.Time
	// Age is how old the data is (stale answers only).
	Age time.Duration
}

// Widget states, the payload's "status".
const (
	StateOK          = "ok"
	StateStale       = "stale"
	StateUnavailable = "unavailable"
)
