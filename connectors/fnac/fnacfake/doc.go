// Package fnacfake is a fake of Fnac's XML seller API (also Darty's, on
// the same platform), faithful to what the sources say and conservative
// where they say nothing, for the connector's tests and the contract
// suite.
//
// Sources: the reference's "Marketplaces, part 2" §a (Fnac) and
// "Marketplace-side APIs" §3; Fnac's XSDs from its own PHP client
// (AuthenticationService.xsd, MessagesQueryService.xsd,
// MessagesUpdateService.xsd, OrdersQueryService.xsd,
// OrdersUpdateService.xsd, base.xsd, state.xsd, common.xsd); the real
// answers recorded by fnapy (auth_response.xml, query_messages_*.xml,
// messages_sample.xml, update_messages_*.xml, query_orders_*.xml,
// update_orders_*.xml, and update_incidents_response.xml for the shape
// of a refusal in the wrong state), which spec_test.go compares the
// fake's answers with.
//
// What it does:
//   - POST <prefix>/api.php/<service>, text/xml in and out, namespace
//     http://www.fnac.com/schemas/mp-dialog.xsd, a status attribute on
//     every answer's root and <error severity code> elements.
//   - auth with partner_id, shop_id and key gives a token (a uuid) and
//     its validity; tokens expire after Options.TokenTTL, and ExpireTokens
//     expires them at once. Each Shop is an account: Darty's is another
//     shop_id.
//   - messages_query: results_count (at most 100) and paging; filters
//     date (CreatedAt, UpdatedAt), message_type, message_archived,
//     message_state, message_id, order_fnac_id, offer_fnac_id,
//     message_from_types, sort_by. The answer has the XSD's
//     messages_unread_result and messages_read_result and the real
//     answers' nb_total_per_page.
//   - messages_update: reply (message_to CLIENT, CALLCENTER or ALL, the
//     subject enumeration, the body's length), mark_as_read,
//     mark_as_unread, archive, unarchive, mark_as_read_and_archive, each
//     with its own status and errors, and status ERROR overall when one
//     failed.
//   - Files of customers' messages are served at <prefix>/files/<id>.
//   - orders_query: results_count (at most 100) and paging; filters date
//     (CreatedAt, UpdatedAt), state, order_fnac_id, orders_fnac_id (at
//     most 50), sort_by ASC or DESC. Order ids are 13 characters
//     (order_id_restriction): another length is a schema error (ERR_096,
//     FATAL at the root). The answer has the recorded answer's elements;
//     like Fnac's, it carries no update date, no total, no carrier and no
//     tracking URL.
//   - orders_update (at most 25 orders a call, NOTES.md): accept_order
//     (lines Accepted or Refused, from ToAccept), confirm_to_send (lines
//     Shipped from ToShip, with tracking_number of at most 32 and
//     tracking_company of at most 100 characters), update (Shipped from
//     ToShip, as the recorded sample ships; Shipped or Updated of a
//     shipped line changes its tracking), refund_order (lines Refunded
//     with a refund_reason, from ToShip). The order's state is "the
//     earliest stage found in order lines" (state.xsd), Refused when
//     every line was refused, Refunded or Cancelled when none goes on.
//   - An action an order's state forbids changes nothing and is answered
//     as the recorded ERR_109 refusal: root status ERROR, the order's
//     status FATAL with its state and <error code="ERR_109">Order current
//     status is not valid for <action> action</error>, its lines' status
//     FATAL. Unknown orders and lines, and a refund without a reason, are
//     answered per order or per line with status ERROR.
//   - PutOrder, Order and MoveOrder seed, read and move orders as Fnac,
//     its customers or time would (billing: Accepted to ToShip; receipt:
//     Shipped to Received).
//
// Where the sources disagree or say UNVERIFIED, the fake takes the
// conservative side:
//   - The error code for an expired or unknown token is unknown: the fake
//     answers status FATAL with code ERR_001 (invented), and the same for
//     a refused auth. HTTP status is 200 for every Fnac-level error.
//   - How long a token lives is unknown: TokenTTL defaults to an hour.
//   - The largest results_count is unknown (ERR_105 shows there is one):
//     above 100, ERR_105.
//   - A reply's length bound is unknown (xs:string): the fake refuses an
//     empty body and one over api.MaxReplyChars characters (ERR_096,
//     per message).
//   - CALLCENTER is "allowed only if the order is in incident status":
//     the fake refuses CALLCENTER and ALL (which includes the call centre)
//     unless OpenIncident was called for the order, with ERR_109-style
//     code ERR_110 (invented) per message.
//   - A reply is listed as a message of its own, message_from
//     type="SELLER", about the same referer; nothing in the XSD tells its
//     recipients, so a listing does not. Replying to the seller's own
//     message is refused.
//   - Unknown message ids in messages_update get ERR_128-style code
//     ERR_129 (invented) per message. create and confirm_shop_delivery
//     are refused (not needed by the connector).
//   - Schema violations (an enumeration, a missing attribute, bad XML)
//     are refused as a whole: ERR_146 for an enumeration, ERR_096
//     otherwise, at the root, as Fnac's schema validation does.
//   - The sources say nothing of throttling: Options.Throttle, off by
//     default, answers 429 with Retry-After past a number of requests.
//   - Sorting without sort_by: UNVERIFIED; the fake sorts by update date,
//     newest first.
//   - Dates are written with fractions of a second when they have some
//     (xs:dateTime allows it; Fnac's samples have whole seconds).
//   - For orders, the following are UNVERIFIED and taken conservatively.
//   - ERR_109 is real only for incidents_update's refund; the fake
//     answers it for every action in the wrong state. ERR_113 (unknown
//     order), ERR_114 (unknown line) and ERR_115 (a refund without a
//     reason, a decision on some lines only) are invented.
//   - accept_order must decide every line waiting for acceptance.
//   - refund_order is taken only of lines to ship (billed, not shipped):
//     whether Fnac lets the seller refund an Accepted (unbilled) or a
//     shipped line through orders_update is unknown; refunds after
//     shipping go through incidents_update, which the fake lacks.
//   - Shipping with confirm_to_send or update both work: which one Fnac
//     requires is unknown (the recorded exchange used update).
//   - The accept_all_orders, confirm_all_to_send, update_all and
//     receive_all_order actions are refused (not needed).
//   - sort_by orders by the date filtered on (update date by default),
//     newest first without sort_by; what Fnac sorts on is unknown.
//   - The recorded answer shows an order Shipped with lines Refused and
//     NotReceived, which "the earliest stage" does not explain: the fake
//     follows the XSD's rule.
package fnacfake
