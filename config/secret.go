package config

import (
	"fmt"
	"io"

	"github.com/rs/zerolog"
)

// Secret is a credential read from the environment through a ${VAR}
// reference. Every printable form of it is redacted; Reveal is the only
// way to the value.
type Secret struct {
	value string
	// Ref is the ${VAR} reference it was read from, if any.
	Ref string
}

// NewSecret wraps a value, for tests and the demo.
func NewSecret(v string) Secret { return Secret{value: v} }

// Reveal returns the secret's value, for the one place that sends it.
func (s Secret) Reveal() string { return s.value }

// IsZero tells whether the secret is empty.
func (s Secret) IsZero() bool { return s.value == "" }

const redacted = "[redacted]"

func (s Secret) String() string   { return redacted }
func (s Secret) GoString() string { return redacted }

// Format redacts every verb: without it %d or %x on a struct holding a
// Secret would print the value field by field.
func (s Secret) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, redacted) }

// MarshalText keeps the value out of JSON, YAML and text encodings.
func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// MarshalZerologObject keeps the value out of logs.
func (s Secret) MarshalZerologObject(e *zerolog.Event) { e.Str("secret", redacted) }
