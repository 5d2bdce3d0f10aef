package api

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
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
var ErrUnsafe = errors.New("unsafe XML answer")

// Read reads at most MaxAnswerBytes of r, and fails clearly past them.
func Read(r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxAnswerBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxAnswerBytes {
		return nil, fmt.Errorf("%w: answer larger than %d bytes", ErrUnsafe, MaxAnswerBytes)
	}
	return data, nil
}

// Decode decodes data into v (a pointer to one of this package's
// response or request types) the safe way: no DOCTYPE, no entity
// declarations, UTF-8 only (as every sample declares), no trailing
// element, and list lengths bounded.
func Decode(data []byte, v any) error {
	if len(data) > MaxAnswerBytes {
		return fmt.Errorf("%w: answer larger than %d bytes", ErrUnsafe, MaxAnswerBytes)
	}
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	d.CharsetReader = func(charset string, in io.Reader) (io.Reader, error) {
		switch strings.ToLower(charset) {
		case "utf-8", "utf8", "us-ascii":
			return in, nil
		}
		return nil, fmt.Errorf("unsupported charset %q", charset)
	}
	// Walk the prolog by hand: a directive (DOCTYPE, ENTITY) is refused
	// before anything else is read.
	for {
		tok, err := d.Token()
		if err != nil {
			return fmt.Errorf("no root element: %w", err)
		}
		switch t := tok.(type) {
		case xml.Directive:
			return fmt.Errorf("%w: a DOCTYPE or entity declaration", ErrUnsafe)
		case xml.StartElement:
			if err := d.DecodeElement(v, &t); err != nil {
				return err
			}
			return rest(d, v)
		}
	}
}

// rest checks that only comments, processing instructions and spaces
// follow the root, then bounds the lists.
func rest(d *xml.Decoder, v any) error {
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.Directive:
			return fmt.Errorf("%w: a DOCTYPE or entity declaration", ErrUnsafe)
		case xml.StartElement:
			return fmt.Errorf("a second root element <%s>", t.Name.Local)
		case xml.CharData:
			if len(bytes.TrimSpace(t)) > 0 {
				return errors.New("text after the root element")
			}
		}
	}
	return bounded(v)
}

func bounded(v any) error {
	check := func(what string, n, limit int) error {
		if n > limit {
			return fmt.Errorf("%w: %d %s, over %d", ErrUnsafe, n, what, limit)
		}
		return nil
	}
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
