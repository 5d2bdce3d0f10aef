// Package rakutenfake is a fake of Rakuten France's sales_ws (ex
// PriceMinister), faithful to what the sources say and conservative where
// they say nothing, for the connector's tests and the contract suite.
//
// Sources: the reference's "Marketplaces, part 2" §b (Rakuten sales_ws)
// and "Marketplace-side APIs" §3; the sample answers recorded by the
// shiba client (ShibaAPI/shiba, in testdata), which spec_test.go compares
// the fake's answers with; pmws (quazardous/priceminister-ws) for the
// transport (GET, login and pwd parameters, errorresponse read before the
// HTTP status); Rakuten's official pages as the reference quotes them
// (getitemtodolist causes, contact windows, errors).
//
// What it does:
//   - GET <prefix>/sales_ws?action=…&login&pwd&version, answers in
//     ISO-8859-1 (declared, and in the Content-Type) with the samples'
//     root elements and namespaces; characters Latin-1 lacks are written
//     as character references.
//   - errorresponse (type, code, message, details) for a missing or
//     unknown login or token (InvalidUserConnection), an unsupported
//     version or a bad parameter (ParameterError), and the hourly quota
//     (InvalidUserRights "Quota exceeded.", Options.QuotaPerHour, off by
//     default).
//   - getnewsales (items TO_CONFIRM), getcurrentsales (nexttoken paging,
//     Options.PageSize purchases a page), getitemtodolist (CLAIM,
//     UNREAD_MESSAGE_FROM_CUSTOMER_SERVICE, UNREAD_MESSAGE_FROM_BUYER),
//     getiteminfos (claim, availableactions, mails, messages, item log;
//     it marks the item's messages and mails read), getbillinginformation.
//   - contactuseraboutitem and contactusaboutitem (mailparentid must be
//     one of the item's mails) → SENT; the content must be non-empty and
//     at most api.MaxContentChars characters; the contact windows below.
//   - acceptsale and refusesale on TO_CONFIRM items; cancelitem (comment
//     required) on accepted items; settrackingpackageinfos
//     (transporter_name and tracking_number required, tracking_url when
//     the transporter is Autre) on accepted or shipped items.
//
// Where the sources disagree or say UNVERIFIED, the fake takes the
// conservative side:
//   - Refusals are answered with HTTP 200: the status is UNVERIFIED, and
//     a client must then read the body to see the failure.
//   - Contact windows: the buyer only when the item has no claim, was not
//     declared received more than 15 days ago and not ordered more than
//     42 days ago, or when its claim is amicable; Rakuten only when the
//     item was not declared received more than 30 days ago (the official
//     page is cut after that: nothing more is assumed). Outside them, a
//     ParameterError, and the contact is missing from availableactions.
//     The receipt is the item log code ITEM_RECEIVED (invented: no
//     source shows the code).
//   - Item statuses besides TO_CONFIRM, ACCEPTED and ON_HOLD are
//     invented names: REFUSED after refusesale, CANCELLED after
//     cancelitem (its answer's status), SHIPPED after
//     settrackingpackageinfos (that setting the tracking ships the item
//     is an assumption), CLOSED set by tests.
//   - getcurrentsales lists purchases with items ACCEPTED, COMMITTED,
//     ON_HOLD or SHIPPED; getbillinginformation every item but those to
//     confirm. Which items either really lists is UNVERIFIED.
//   - An action in the wrong item state is a ParameterError with a
//     detail naming the state (Rakuten's own answer is UNVERIFIED; shiba
//     mentions an "Unknown error" code).
//   - Messages read by getiteminfos get status READ (the samples show
//     SENT and UNREAD only). Messages and mails are listed newest first,
//     as in the sample.
//   - refusesale answers refusesaleresult with status Refused (root and
//     status UNVERIFIED). acceptsale answers the 2010-09-20 shape, without
//     the 2021-04-08 VAT fields.
//   - Dates are Paris time, to the minute, like the samples'.
//   - The content bound (api.MaxContentChars) is a guess: Rakuten states
//     none.
package rakutenfake
