// Package miraklfake is a faithful, in-memory fake of the part of a Mirakl
// instance's seller (shop) API the bridge uses: inbox threads (M10, M11,
// M12, M13) and orders (OR11). It is an http.Handler, so it runs under
// httptest in tests and as a real server in the demo, and it refuses what
// Mirakl refuses, so that a connector passing against it has a good chance
// of passing against a real instance. Threads, customer and operator
// messages and orders are seeded with AddThread, AddMessage and PutOrder
// (the seller API cannot create them), and what the shop sent is read back
// with Thread, Replies and Attachment, or without auth at /_fake/threads,
// /_fake/replies and /_fake/orders.
//
// What it relies on:
//   - Mirakl's published seller OpenAPI description (M10, M11, M12, M13,
//     OR11; the shop_api_key security scheme): the raw API key in the
//     Authorization header, no "Bearer"; the optional shop_id parameter
//     for users of several shops; the thread, message and order shapes;
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
//     margin, and its default sort by creation date.
//   - Mirakl's official PHP SDK (mirakl/sdk-php-shop): M11's limit is at
//     most 100 and every other parameter is ignored when page_token is
//     given (Core/Request/SeekableTrait.php); message_input is sent with
//     Content-Type application/json;charset=utf-8 and files as "files"
//     parts of application/octet-stream (Core/Client/AbstractApiClient.
//     php); OR11's max is 10 by default (Core/Request/PageableTrait.php);
//     attachment names come in Content-Disposition, as RFC 5987, RFC 2047
//     or plain filename (Core/Response/FilenameParser).
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
package miraklfake
