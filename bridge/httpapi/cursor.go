package httpapi

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
)

// ErrBadCursor is a page cursor the API did not hand out.
var ErrBadCursor = errors.New("httpapi: not a cursor this API handed out")

type cursorJSON struct {
	S int64  `json:"s"`
	M string `json:"m"`
}

// EncodeCursor makes an opaque page cursor of a place in a sorted-set
// index: the last item's score and its member, two ids joined by a colon.
// The discussion and order lists page this way.
func EncodeCursor(score int64, member string) string {
	b, _ := json.Marshal(cursorJSON{S: score, M: member})
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeCursor reads a cursor EncodeCursor made; ErrBadCursor otherwise.
func DecodeCursor(c string) (score int64, member string, err error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return 0, "", ErrBadCursor
	}
	var cj cursorJSON
	if err := json.Unmarshal(b, &cj); err != nil || !strings.Contains(cj.M, ":") {
		return 0, "", ErrBadCursor
	}
	return cj.S, cj.M, nil
}
