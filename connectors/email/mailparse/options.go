package mailparse

import "fmt"

// Options bound the work Parse does on one mail. Zero fields take the
// defaults below, which are conservative for marketplace relays: Amazon
// caps a message's attachments at 10 MB (see amazonReplyLimits), which
// base64 grows to about 13.7 MB on the wire.
type Options struct {
	// MaxBytes is the largest raw mail accepted, headers included.
	// Default 32 MiB.
	MaxBytes int64
	// MaxDecodedBytes bounds the sum of all decoded part bodies (text and
	// attachments). Charset conversion can grow text (ISO-8859-1 to UTF-8
	// doubles at worst), hence a separate bound. Default 48 MiB.
	MaxDecodedBytes int64
	// MaxHeaderBytes bounds each header block (the mail's and each
	// part's). Default 256 KiB.
	MaxHeaderBytes int64
	// MaxParts bounds the number of MIME entities walked, containers
	// included. Default 200.
	MaxParts int
	// MaxDepth bounds multipart nesting; the mail itself is depth 0.
	// Default 10.
	MaxDepth int
	// MaxAttachments bounds the attachments and inline images kept.
	// Default 50.
	MaxAttachments int
	// StripRules replaces DefaultStripRules for StrippedText.
	StripRules *StripRules
}

// Defaults of Options.
const (
	DefaultMaxBytes        = 32 << 20
	DefaultMaxDecodedBytes = 48 << 20
	DefaultMaxHeaderBytes  = 256 << 10
	DefaultMaxParts        = 200
	DefaultMaxDepth        = 10
	DefaultMaxAttachments  = 50
)

func (o Options) withDefaults() Options {
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.MaxDecodedBytes <= 0 {
		o.MaxDecodedBytes = DefaultMaxDecodedBytes
	}
	if o.MaxHeaderBytes <= 0 {
		o.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if o.MaxParts <= 0 {
		o.MaxParts = DefaultMaxParts
	}
	if o.MaxDepth <= 0 {
		o.MaxDepth = DefaultMaxDepth
	}
	if o.MaxAttachments <= 0 {
		o.MaxAttachments = DefaultMaxAttachments
	}
	if o.StripRules == nil {
		o.StripRules = DefaultStripRules
	}
	return o
}

// Limit names one bound of Options.
type Limit string

// The bounds a mail can exceed.
const (
	LimitBytes        Limit = "size"
	LimitDecodedBytes Limit = "decoded size"
	LimitHeaderBytes  Limit = "header size"
	LimitParts        Limit = "parts"
	LimitDepth        Limit = "nesting depth"
	LimitAttachments  Limit = "attachments"
)

// LimitError is returned when a mail exceeds one of the Options bounds.
// The mail is not parsed further: the connector should keep it aside for
// an admin rather than retry.
type LimitError struct {
	Limit Limit
	Max   int64
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("mailparse: mail exceeds the %s limit (%d)", e.Limit, e.Max)
}
