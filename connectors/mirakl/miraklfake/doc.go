// Package miraklfake is a faithful, in-memory fake of the part of a Mirakl
// instance's seller (shop) API the bridge uses: inbox threads (M10, M11,
// M12, M13), orders (OR11, OR12), the shop's actions on them (OR21,
// OR23, OR24, OR29, OR30), their evaluations (OR51) and their documents
// (OR72, OR74, and the document types of DO01). It is an
// http.Handler, so it runs under httptest in tests and as a real server
// in the demo, and it refuses what Mirakl refuses, so that a connector
// passing against it has a good chance of passing against a real
// instance. Threads, customer and operator messages, orders and
// customers' evaluations are seeded with AddThread, AddMessage, PutOrder
// and PutEvaluation (the seller API cannot create them), and what the
// shop sent is read back with Thread, Replies, Attachment and Order, or
// without auth at /_fake/threads, /_fake/replies and /_fake/orders.
// PutDocument attaches a document as the operator would, and Documents
// reads an order's documents with their content.
// MoveOrder moves an order as the operator, the customer or time would
// (the debit, the receipt, the closing), which the seller API cannot
// either.
//
// The order state machine. The shop's actions, each taken in one state
// and refused in the others with 400 and Mirakl's error body, leaving the
// order as it was:
//
//	OR21 accept/refuse lines  WAITING_ACCEPTANCE  some line accepted: order and accepted lines
//	                                              WAITING_DEBIT, refused lines REFUSED; none:
//	                                              REFUSED; acceptance_decision_date set
//	OR23 tracking             SHIPPING            carrier, tracking number and URL set
//	OR24 ship                 SHIPPING            SHIPPED, lines SHIPPED with shipped_date
//	OR29 cancel               SHIPPING            CANCELED, live lines CANCELED (what is left
//	                                              of each recorded as a cancellation)
//	OR30 cancel lines         SHIPPING (order     cancellations recorded; a line with no
//	                          and line)           quantity left CANCELED, then the order
//	                                              once no line is live
//
// and the moves MoveOrder makes: STAGING to WAITING_ACCEPTANCE or
// CANCELED; WAITING_ACCEPTANCE to REFUSED (deadline) or CANCELED;
// WAITING_DEBIT to WAITING_DEBIT_PAYMENT, SHIPPING or CANCELED;
// WAITING_DEBIT_PAYMENT to SHIPPING or CANCELED; SHIPPED to TO_COLLECT
// or RECEIVED; TO_COLLECT to RECEIVED; RECEIVED to CLOSED. Live lines
// follow their order. can_cancel is derived: true in SHIPPING only.
//
// What it relies on:
//   - Mirakl's published seller OpenAPI description (M10, M11, M12, M13,
//     OR11, OR12, OR21, OR23, OR24, OR29, OR30, OR51; the shop_api_key
//     security scheme): the raw API key in the Authorization header, no
//     "Bearer"; the optional shop_id parameter for users of several
//     shops; the thread, message, order and evaluation shapes;
//     M11's entity_type values, entity_id refused (400) without
//     entity_type, updated_since ("modified at or after"), with_messages
//     (messages and no_store_reply_needed only then, at most the last 100
//     messages), seek pagination with a limit of 50 by default and opaque
//     tokens absent on the last (next) and first (previous) page; M12's
//     multipart body with a required message_input part, a body of 3 to
//     50,000 characters, a required "to" of OPERATOR, SHOP or CUSTOMER, an
//     optional topic (free text of 3 to 200 characters, reason code of 1
//     to 200), at most 1000 messages on a thread and at most 50
//     attachments across all the threads of one entity, and its 201
//     {message_id, thread_id}; M13's octet-stream answer at
//     /api/inbox/threads/{attachment_id}/download; OR11's {orders,
//     total_count}, its filters, start_update_date widened by a safety
//     margin, and its default sort by creation date. For the orders:
//     OR12's shape (deprecated for OR11 with order_ids); OR21 "in the
//     WAITING_ACCEPTANCE status", a decision for every line, and its
//     error codes, whose descriptions are the fake's messages (invalid
//     state, missing decision, duplicate, null or unknown line, partial
//     acceptance disabled); OR23's carrier_code for a registered carrier
//     (whose URL Mirakl computes, carrier_url unused, tracking_number
//     required when the URL needs one) and carrier_name and carrier_url
//     for another; OR24 "in the SHIPPING status"; OR21, OR23, OR24 and
//     OR29 answer 204; OR30's required fields (order_line_id, quantity,
//     amount, shipping_amount, reason_code), its optional currency and
//     taxes, and its 200 answer; the order states; the taxes'
//     tax_calculation_rule (NONE: the cancellation gives the tax;
//     PROPORTIONAL_TO_AMOUNT: Mirakl computes it).
//   - Mirakl's official PHP SDK (mirakl/sdk-php-shop): M11's limit is at
//     most 100 and every other parameter is ignored when page_token is
//     given (Core/Request/SeekableTrait.php); message_input is sent with
//     Content-Type application/json;charset=utf-8 and files as "files"
//     parts of application/octet-stream (Core/Client/AbstractApiClient.
//     php); OR11's max is 10 by default (Core/Request/PageableTrait.php);
//     attachment names come in Content-Disposition, as RFC 5987, RFC 2047
//     or plain filename (Core/Response/FilenameParser). OR29 is a PUT with
//     no body, hence no reason code (Order/Workflow/CancelOrderRequest.
//     php); OR21 decides lines in WAITING_ACCEPTANCE (Order/Accept/
//     AcceptOrderRequest.php).
//   - Mirakl's own Magento 2 seller connector (mirakl/magento2-seller-
//     connector): it cancels only orders whose can_cancel is true (Sales/
//     Observer/Sales/Order/CancelObserver.php), ships with OR23 then OR24
//     (ShipmentSaveBeforeObserver.php), and reads "status" in Mirakl's
//     error bodies.
//   - developer.mirakl.com's OR33 page: a shop cancels only a non-debited
//     order in the pay-on-delivery, due-date and shipment workflows, and
//     only an unshipped one without payment confirmation. The seller hub
//     of a Mirakl marketplace (partners.bestbuy.com, "How to Manage Order
//     Cancellations"): an order pending acceptance is refused, not
//     cancelled; one awaiting shipment is cancelled whole, or in part by
//     quantity with a reason.
//   - The spec's example M11 token decodes to "limit=50&after=<thread
//     id>&sort=date,DESC": threads are listed most recently updated first.
//
// UNVERIFIED, and the choice made here (stricter where there is one):
//   - The error body: {"status": <HTTP status>, "message": "..."}, from the
//     official Java SDK's MiraklErrorResponseBean(status, message); the
//     spec documents no error body for these operations. The messages'
//     wording is made up.
//   - Rate limits: nothing on developer.mirakl.com gives one; a
//     third-party guide says excess calls get 429 with Retry-After in
//     seconds. Throttling is off unless Options.Throttle is set; then it
//     is a fixed window per API key.
//   - A shop_id the key has no access to: 403. A malformed one: 400.
//   - Character counts are UTF-16 code units, as Java counts them.
//   - M12: a message_input part whose Content-Type is not application/json
//     is refused with 415 (as Spring refuses an unbindable part), as is a
//     body that is not multipart/form-data; unknown fields in
//     message_input are refused (400); a file part needs a file name; a
//     recipient must be one of the thread's authorized participants (and
//     match its id when one is given); the attachment limit counts every
//     message's attachments, whoever sent them, and applies per entity.
//     Allowed file types and sizes are unknown: any file is taken, and a
//     request over MaxBodyBytes (30 MB by default, the limit OR43 states
//     for a message) gets 413.
//   - shop_reply_needed_since is set by the first message addressed to the
//     shop after its last reply, and cleared by the shop's reply.
//   - M11: a limit outside 1..100 and an unknown entity_type are refused
//     (400); sort and channel_codes are ignored (the fake has no channels
//     and lists in the default order only).
//   - OR11: max above 100 is refused (400; 100 comes from third-party
//     sources); start_update_date's margin is one minute by default (the
//     spec gives no figure); unknown filters are ignored.
//   - Another shop's thread or attachment is not found (404).
//   - Order actions. A state refusal is 400 (the spec documents no error
//     answer) with the description of OR21's ORDER_INVALID_STATE and the
//     state. OR23 is refused once the order is shipped, although the
//     Magento connector hints Mirakl takes it then. OR29 and OR30 are
//     refused before the debit (WAITING_DEBIT, WAITING_DEBIT_PAYMENT),
//     which some payment workflows may allow. Partial acceptance is
//     allowed unless Options.NoPartialAcceptance. An unknown carrier_code
//     is refused (400); Options.Carriers are the registered ones, their URL
//     with {trackingId} for the number. Order bodies must be JSON (415
//     otherwise) without unknown fields (400); numbers written as strings
//     are taken, as Jackson takes them. An unknown order line is 400.
//   - OR30: a line's quantity and prices stay as ordered and its
//     cancellations are taken off them (api.LineLeft); each cancellation
//     is at most what is left; the request is taken whole or refused
//     whole; reason codes are any non-empty code; taxes are recorded as
//     given. OR29 records what is left of each live line as cancelled.
//   - OR12: a line's shipping_price_unit is its whole shipping price and
//     shipping_price_additional_unit is 0; reason codes and the dates of
//     what has not happened are null, as in the spec's example.
//   - MoveOrder's moves follow the states' names; a failed fraud check
//     cancels, a missed acceptance deadline refuses.
//   - OR51 (GET /api/orders/{order_id}/evaluation, the one evaluation call
//     of the seller API: it lists nothing and has no paging): an order
//     without an evaluation, like another shop's order, answers 404 with
//     the error body (the spec documents only the 200). Only orders
//     shipped, received or closed take an evaluation (api.EvaluableStates),
//     graded 1 to 5 (the spec gives no range). An evaluation leaves its
//     order's last_updated_date as it was, the stricter choice: a client
//     cannot find evaluations by listing recently updated orders alone. An
//     evaluation given again keeps its first date and moves its
//     last_updated_date.
//   - Documents. OR72 needs order_ids (at most 100, the spec's "maximum")
//     and lists nothing for another shop's orders. OR74 takes
//     its order_documents part only as application/json (as M12's
//     message_input) and without unknown fields, a file name that is not
//     US-ASCII or sent twice refuses the whole request (400), as does a
//     missing part; each document is then checked on its own, and the
//     200 answer lists only those not taken: no file or no entry for a
//     name, an extension outside the spec's list (compared ignoring case),
//     an unknown or non-order type code (the spec's one example error),
//     the operator-only delivery bills, SYSTEM_MESSAGE_ATTACHMENT, and past
//     50 documents on the order. Those errors' codes and messages, apart
//     from the unknown type's, are made up. Any order state takes
//     documents, and the same file name may be uploaded again (the spec
//     says neither). The document types are Options.DocumentTypes, by
//     default the spec's DO01 example plus the system types OR74 names.
package miraklfake
