package connectors

import (
	"encoding/base64"
	"encoding/json"
)

// EncodePageToken makes a connector's listing state (a small struct with
// JSON tags) the opaque page token the ports hand to callers.
func EncodePageToken(state any) string {
	b, _ := json.Marshal(state) // plain data: cannot fail
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodePageToken reads a token EncodePageToken made back into state. An
// error means it is no token of that shape; the connector then checks the
// fields it needs, and answers ErrInvalid for either.
func DecodePageToken(token string, state any) error {
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, state)
}
