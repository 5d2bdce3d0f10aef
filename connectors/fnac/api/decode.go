package api

import (
	"io"

	"github.com/helpdesk-bridge/bridge/connectors/xmlsafe"
)

// Bounds on what an answer may hold. A page of messages_query holds at
// most results_count messages (100 here); the bounds leave room for a
// vendor that sends more, and no more.
const (
	// MaxAnswerBytes bounds an answer's body: 100 messages of a few
	// kilobytes each are far below it.
	MaxAnswerBytes = 16 << 20
	// MaxItems bounds the messages, orders, an order's lines (or their
	// statuses) of one answer.
	MaxItems = 1000
	// MaxErrors bounds the error elements of one answer or item.
	MaxErrors = 100
	// MaxFiles bounds the files of one message.
	MaxFiles = 100
)

// ErrUnsafe marks an answer refused before decoding: a DOCTYPE or an
// entity declaration (nothing Fnac sends, and the way to entity
// expansion tricks), or an answer over MaxAnswerBytes.
var ErrUnsafe = xmlsafe.ErrUnsafe

// Read reads at most MaxAnswerBytes of r, and fails clearly past them.
func Read(r io.Reader) ([]byte, error) { return xmlsafe.Read(r, MaxAnswerBytes) }

// decoder reads Fnac's answers: UTF-8 only, as every sample declares.
var decoder = xmlsafe.Decoder{MaxBytes: MaxAnswerBytes, Charsets: xmlsafe.UTF8}

// Decode decodes data into v (a pointer to one of this package's
// response or request types) the safe way (xmlsafe), with its lists
// bounded.
func Decode(data []byte, v any) error {
	if err := decoder.Decode(data, "", v); err != nil {
		return err
	}
	return bounded(v)
}

func bounded(v any) error {
	check := xmlsafe.Check
	switch r := v.(type) {
	case *AuthResponse:
		return check("errors", len(r.Errors), MaxErrors)
	case *MessagesQueryResponse:
		if err := check("errors", len(r.Errors), MaxErrors); err != nil {
			return err
		}
		if err := check("messages", len(r.Messages), MaxItems); err != nil {
			return err
		}
		for _, m := range r.Messages {
			if err := check("files", len(m.Files), MaxFiles); err != nil {
				return err
			}
			if err := check("errors", len(m.Errors), MaxErrors); err != nil {
				return err
			}
		}
	case *MessagesUpdateResponse:
		if err := check("errors", len(r.Errors), MaxErrors); err != nil {
			return err
		}
		if err := check("messages", len(r.Messages), MaxItems); err != nil {
			return err
		}
		for _, m := range r.Messages {
			if err := check("errors", len(m.Errors), MaxErrors); err != nil {
				return err
			}
		}
	case *MessagesUpdate:
		return check("messages", len(r.Messages), MaxItems)
	case *OrdersQueryResponse:
		if err := check("errors", len(r.Errors), MaxErrors); err != nil {
			return err
		}
		if err := check("orders", len(r.Orders), MaxItems); err != nil {
			return err
		}
		for _, o := range r.Orders {
			if err := check("order lines", len(o.Details), MaxItems); err != nil {
				return err
			}
		}
	case *OrdersUpdateResponse:
		if err := check("errors", len(r.Errors), MaxErrors); err != nil {
			return err
		}
		if err := check("orders", len(r.Orders), MaxItems); err != nil {
			return err
		}
		for _, o := range r.Orders {
			if err := check("errors", len(o.Errors), MaxErrors); err != nil {
				return err
			}
			if err := check("order lines", len(o.Details), MaxItems); err != nil {
				return err
			}
			for _, d := range o.Details {
				if err := check("errors", len(d.Errors), MaxErrors); err != nil {
					return err
				}
			}
		}
	case *OrdersUpdate:
		if err := check("orders", len(r.Orders), MaxItems); err != nil {
			return err
		}
		for _, o := range r.Orders {
			if err := check("order lines", len(o.Details), MaxItems); err != nil {
				return err
			}
		}
	}
	return nil
}
