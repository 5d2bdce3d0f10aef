package mirakl

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/helpdesk-bridge/bridge/connectors"
	"github.com/helpdesk-bridge/bridge/connectors/mirakl/api"
)

// How connectors.EvaluationLister maps to the seller API, and why:
//   - The seller API lists no evaluations. OR51 reads the evaluation of
//     one order (GET /api/orders/{order_id}/evaluation, no paging, no date
//     filter), and the seller spec has no other evaluation operation (A01
//     and A21 give only the shop's grade and count). So a page of
//     evaluations is a page of OR11 (the orders a customer may have
//     evaluated, see api.EvaluableStates) and one OR51 call per order: a
//     listing costs one call per order in its window, not per evaluation.
//   - Whether an evaluation moves its order's last_updated_date is
//     UNVERIFIED, so the listing does not rely on it: it reads the orders
//     updated at or after q.Since less Options.EvaluationWindow, how long
//     after its last update an order can still be evaluated (UNVERIFIED:
//     the spec does not say; the default, 30 days, is the bridge's own
//     backfill), and keeps the evaluations given or changed at or after
//     q.Since.
//   - OR11 lists by creation date with offset pages. The orders it
//     selects here (updated since a date, in a state after shipping) only
//     grow while a listing pages through: an order that joins moves the
//     later ones back, so a listing may see one order twice but misses
//     none. (An order leaving the states after shipping would make it
//     miss one; the transitions integrators document lead from those
//     states only to one another, UNVERIFIED beyond them.)
//   - An order without an evaluation: OR51's answer to it is UNVERIFIED
//     (the spec documents only the 200). A 404, or a 2xx without a body,
//     is taken for none; anything else fails the page, which the caller
//     lists again.
//   - OR51's recommended and maximum usage is "on each evaluation page
//     view": calling it for every order of a window is more than Mirakl
//     plans for. Callers list evaluations rarely (the bridge hourly), and
//     every call goes through the shared limiter like the others.

// DefaultEvaluationWindow is Options.EvaluationWindow's default.
const DefaultEvaluationWindow = 30 * 24 * time.Hour

// defaultEvaluationOrders is how many orders a page of ListEvaluations
// reads when the query says nothing: each costs an OR51 call, so pages
// are smaller than OR11's largest, and a listing put off part-way repeats
// fewer calls.
const defaultEvaluationOrders = 20

var _ connectors.EvaluationLister = (*Client)(nil)

// ListEvaluations returns one page of the evaluations given or changed at
// or after q.Since: one page of OR11, and OR51 for each of its orders.
func (c *Client) ListEvaluations(ctx context.Context, q connectors.EvaluationQuery) (connectors.EvaluationPage, error) {
	fail := func(err error) (connectors.EvaluationPage, error) {
		return connectors.EvaluationPage{}, fmt.Errorf("mirakl: list evaluations: %w", err)
	}
	cur := evalCursor{Max: defaultEvaluationOrders}
	if q.PageToken != "" {
		var err error
		if cur, err = decodeEvalCursor(q.PageToken); err != nil {
			return fail(err)
		}
	} else {
		if q.Limit > 0 {
			cur.Max = min(q.Limit, api.MaxOrderMax)
		}
		if !q.Since.IsZero() {
			cur.Since = api.FormatTime(q.Since)
			cur.Updated = api.FormatTime(q.Since.Add(-c.evaluationWindow))
		}
	}
	since, err := cur.since()
	if err != nil {
		return fail(err)
	}
	query := url.Values{
		"paginate":          {"true"},
		"max":               {strconv.Itoa(cur.Max)},
		"offset":            {strconv.Itoa(cur.Offset)},
		"order_state_codes": {strings.Join(api.EvaluableStates, ",")},
	}
	if cur.Updated != "" {
		query.Set("start_update_date", cur.Updated)
	}
	var list api.OrderList
	if err := c.do(ctx, call{method: http.MethodGet, path: "/api/orders", query: query}, &list); err != nil {
		return fail(err)
	}
	var page connectors.EvaluationPage
	for _, o := range list.Orders {
		e, ok, err := c.evaluation(ctx, o.OrderID)
		if err != nil {
			return fail(fmt.Errorf("order %s: %w", connectors.ShortID(o.OrderID), err))
		}
		if !ok || (e.Date.Before(since) && e.LastUpdatedDate.Before(since)) {
			continue
		}
		order := toOrder(o)
		page.Evaluations = append(page.Evaluations, connectors.Evaluation{
			OrderID:      o.OrderID,
			Grade:        e.Grade,
			Comment:      e.Comment,
			CustomerName: cmp.Or(strings.TrimSpace(e.Firstname+" "+e.Lastname), order.CustomerName),
			CustomerID:   cmp.Or(e.CustomerID, order.CustomerID),
			CreatedAt:    e.Date.Time,
			UpdatedAt:    e.LastUpdatedDate.Time,
			Order:        &order,
		})
	}
	if next := cur.Offset + len(list.Orders); len(list.Orders) > 0 && next < list.TotalCount {
		cur.Offset = next
		page.NextPageToken = cur.encode()
	}
	return page, nil
}

// evaluation reads an order's evaluation with OR51; ok is false when the
// order has none.
func (c *Client) evaluation(ctx context.Context, orderID string) (api.Evaluation, bool, error) {
	resp, err := c.open(ctx, call{method: http.MethodGet, path: orderPath(orderID) + "/evaluation"})
	if errors.Is(err, connectors.ErrNotFound) {
		return api.Evaluation{}, false, nil
	}
	if err != nil {
		return api.Evaluation{}, false, err
	}
	data, err := readAnswer(ctx, resp)
	if err != nil {
		return api.Evaluation{}, false, err
	}
	if len(bytes.TrimSpace(data)) == 0 || bytes.Equal(bytes.TrimSpace(data), []byte("null")) {
		return api.Evaluation{}, false, nil
	}
	var e api.Evaluation
	if err := json.Unmarshal(data, &e); err != nil {
		return api.Evaluation{}, false, fmt.Errorf("%w: undecodable evaluation: %w", connectors.ErrUnavailable, err)
	}
	return e, true, nil
}

// evalCursor is the port's page token for evaluations: the listing's
// query and where it stands in OR11. Its fields are named apart from
// orderCursor's, so that neither listing takes the other's tokens.
type evalCursor struct {
	Since   string `json:"es,omitempty"` // evaluations given or changed since
	Updated string `json:"eu,omitempty"` // OR11's start_update_date
	Max     int    `json:"em"`
	Offset  int    `json:"eo"`
}

func (c evalCursor) encode() string {
	return connectors.EncodePageToken(c)
}

func (c evalCursor) since() (time.Time, error) {
	if c.Since == "" {
		return time.Time{}, nil
	}
	t, err := api.ParseTime(c.Since)
	if err != nil {
		return time.Time{}, invalid("not a page token of this connector")
	}
	return t, nil
}

func decodeEvalCursor(s string) (evalCursor, error) {
	var c evalCursor
	err := connectors.DecodePageToken(s, &c)
	if err != nil || c.Max < 1 || c.Max > api.MaxOrderMax || c.Offset < 0 {
		return evalCursor{}, invalid("not a page token of this connector")
	}
	return c, nil
}
