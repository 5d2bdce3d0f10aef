// Package discussions mirrors marketplace discussions into helpdesk
// tickets and sends agents' replies back through the marketplace.
//
// Data flows one way, in asynq tasks. A periodic sync task per marketplace
// account lists the threads updated since its cursor (less an overlap, so
// that nothing written at the boundary is missed) and enqueues one mirror
// task per thread and update. A mirror task, holding the thread's lease,
// makes sure the thread has exactly one ticket (its external id derives
// from the marketplace, the shop and the thread) and appends each message
// not yet in the ticket, oldest first, each with its own external id and
// recorded in a ledger once appended. Every step can run again after a
// crash without writing anything twice.
package discussions
