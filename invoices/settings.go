package invoices

import "github.com/helpdesk-bridge/bridge/invoices/settings"

// A store's invoice parameters live in invoices/settings, which the
// config imports; these names keep them readable as invoices.Settings.
type (
	Settings    = settings.Settings
	Seller      = settings.Seller
	FieldError  = settings.FieldError
	FieldErrors = settings.FieldErrors
)

const maxNumber = settings.MaxNumber
