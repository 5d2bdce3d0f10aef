package email

import (
	"context"
	"time"

	"github.com/rs/zerolog"

	"github.com/helpdesk-bridge/bridge/connectors/email/imapbox"
)

// watchPause is how long Watch waits after the server could not be
// reached before it tries again; the periodic syncs go on meanwhile.
const watchPause = 30 * time.Second

// Watch waits on box for new mail (IMAP IDLE, or polling where the
// server has none) and calls wake whenever some arrives, until ctx ends,
// so that mail reaches the helpdesk in seconds rather than at the next
// periodic sync. box is its own connection: IDLE holds it.
func Watch(ctx context.Context, box *imapbox.Box, wake func(context.Context) error, log zerolog.Logger) {
	var cur imapbox.Cursor
	known := false
	pause := func() bool {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(watchPause):
			return true
		}
	}
	for ctx.Err() == nil {
		if !known {
			head, err := box.Head(ctx)
			if err != nil {
				if ctx.Err() == nil {
					log.Warn().Err(err).Msg("mailbox watch: cannot read the mailbox; trying again")
				}
				if !pause() {
					return
				}
				continue
			}
			cur, known = head, true
		}
		if err := box.Wait(ctx, cur); err != nil {
			if ctx.Err() != nil {
				return
			}
			log.Warn().Err(err).Msg("mailbox watch: the wait failed; trying again")
			if !pause() {
				return
			}
			continue
		}
		head, err := box.Head(ctx)
		if err != nil {
			continue // the next Wait reconnects, or fails and pauses
		}
		if head != cur {
			if err := wake(ctx); err != nil && ctx.Err() == nil {
				log.Warn().Err(err).Msg("mailbox watch: new mail, but its sync could not be asked for; the periodic sync reads it")
			}
			cur = head
		}
	}
}
