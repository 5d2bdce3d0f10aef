package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

type lineRef struct {
	LineID   string `json:"line_id,omitempty"`
	Quantity int    `json:"quantity,omitempty" validate:"gte=0,lte=1000000"`
}

type args struct {
	Reason      string    `json:"reason,omitempty"`
	RefuseLines []lineRef `json:"refuse_lines,omitempty" validate:"max=500,dive"`
}

type body struct {
	Action string `json:"action"`
	args
	Lines   []lineRef          `json:"lines" validate:"max=500,dive"`
	At      time.Time          `json:"at"`
	Later   *time.Time         `json:"later"`
	Rates   map[string]lineRef `json:"rates"`
	Flag    bool               `json:"flag"`
	Small   int8               `json:"small"`
	Raw     json.RawMessage    `json:"raw"`
	Quoted  int                `json:"quoted,string"`
	Skipped string             `json:"-"`
}

// TestDecodeJSONNamesTheValueAtFault: a decoding error names the value's
// JSON path with its indexes and map keys, in words and JSON types rather
// than Go's; the strict decoder refuses a field the body does not take.
func TestDecodeJSONNamesTheValueAtFault(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, prefix, doc string
		strict            bool
		status            int
		code, field, msg  string
	}{
		{"a string for a list", "", `{"refuse_lines":"x"}`, false, 400, CodeMalformedBody, "refuse_lines", "refuse_lines must be an array"},
		{"a string for a number, indexed", "", `{"refuse_lines":[{"quantity":1},{"quantity":"1"}]}`, false, 400, CodeMalformedBody, "refuse_lines[1].quantity", "refuse_lines[1].quantity must be a number"},
		{"prefixed", "data", `{"refuse_lines":[{"quantity":"2"}]}`, false, 400, CodeMalformedBody, "data.refuse_lines[0].quantity", "data.refuse_lines[0].quantity must be a number"},
		{"a fraction for a whole number", "", `{"refuse_lines":[{"quantity":1.5}]}`, false, 400, CodeMalformedBody, "refuse_lines[0].quantity", "refuse_lines[0].quantity must be a whole number"},
		{"out of range", "", `{"small":300}`, false, 400, CodeMalformedBody, "small", "small is out of range"},
		{"a map's key", "", `{"rates":{"FR":{"quantity":true}}}`, false, 400, CodeMalformedBody, "rates.FR.quantity", "rates.FR.quantity must be a number"},
		{"a bool", "", `{"flag":"yes"}`, false, 400, CodeMalformedBody, "flag", "flag must be true or false"},
		{"an array body", "", `[1]`, false, 400, CodeMalformedBody, "", "body must be a JSON object"},
		{"an array as data", "data", `[1]`, false, 400, CodeMalformedBody, "data", "data must be a JSON object"},
		{"a word for a date-time", "", `{"at":"yesterday"}`, false, 422, CodeInvalidField, "at", "at " + DateTimeRule},
		{"an impossible date", "data", `{"later":"2026-13-01T00:00:00Z"}`, false, 422, CodeInvalidField, "data.later", "data.later " + DateTimeRule},
		{"no time zone", "", `{"at":"2026-01-10T12:00:00"}`, false, 422, CodeInvalidField, "at", "at " + DateTimeRule},
		{"a number for a date-time", "", `{"at":5}`, false, 422, CodeInvalidField, "at", "at " + DateTimeRule},
		{"the first fault in document order", "", `{"flag":1,"action":2}`, false, 400, CodeMalformedBody, "flag", "flag must be true or false"},
		{"strict: an unknown field", "", `{"action":"accept","refuse_line":[]}`, true, 422, CodeInvalidField, "refuse_line", "refuse_line is not a field"},
		{"strict: an unknown nested field", "", `{"refuse_lines":[{"line_id":"a"},{"line_id":"b","bogus":1}]}`, true, 422, CodeInvalidField, "refuse_lines[1].bogus", "refuse_lines[1].bogus is not a field"},
		{"strict: a field named -", "", `{"Skipped":"x"}`, true, 422, CodeInvalidField, "Skipped", "Skipped is not a field"},
		{"strict: a type fault before an unknown field", "", `{"flag":1,"bogus":1}`, true, 400, CodeMalformedBody, "flag", "flag must be true or false"},
		{"strict: trailing data", "", `{} {}`, true, 400, CodeMalformedBody, "", "request body is not valid JSON"},
		{"strict: cut short", "", `{"action":`, true, 400, CodeMalformedBody, "", "request body is not valid JSON"},
		{"validation still names indexes", "", `{"lines":[{},{"quantity":-1}]}`, true, 422, CodeInvalidField, "lines[1].quantity", "lines[1].quantity must be at least 0"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var b body
			decode := DecodeJSON
			if tc.strict {
				decode = DecodeJSONStrict
			}
			var e *Error
			if !errors.As(decode(tc.prefix, []byte(tc.doc), &b), &e) {
				t.Fatalf("no *Error")
			}
			if e.Status != tc.status || e.Code != tc.code || e.Field != tc.field || !strings.HasPrefix(e.Message, tc.msg) {
				t.Errorf("%d %s field %q %q, want %d %s field %q %q", e.Status, e.Code, e.Field, e.Message, tc.status, tc.code, tc.field, tc.msg)
			}
			if strings.Contains(e.Message, "httpapi.") || strings.Contains(e.Message, "[]") {
				t.Errorf("the message names Go types: %q", e.Message)
			}
		})
	}
}

// TestDecodeJSONLenientAcceptsUnknownFields: the lenient decoder, for the
// bodies other systems shape, ignores fields it does not know, and both
// take what encoding/json takes (case-insensitive names, embedded
// structs' fields, quoted numbers, null).
func TestDecodeJSONLenientAcceptsUnknownFields(t *testing.T) {
	t.Parallel()
	doc := `{"Action":"accept","reason":"r","refuse_lines":[{"line_id":"a"}],"at":"2026-01-10T12:00:00Z","later":null,"rates":{"x":{}},"raw":{"a":[1]},"quoted":"7"}`
	var b body
	if err := DecodeJSONStrict("", []byte(doc), &b); err != nil {
		t.Fatalf("strict: %v", err)
	}
	if b.Action != "accept" || b.Reason != "r" || len(b.RefuseLines) != 1 || b.Quoted != 7 {
		t.Fatalf("decoded %+v", b)
	}
	if err := DecodeJSON("", []byte(`{"action":"accept","extra":{"deep":[1]}}`), &b); err != nil {
		t.Fatalf("lenient: %v", err)
	}
	if err := DecodeJSONStrict("", []byte(`{"action":"accept","extra":1}`), &b); err == nil {
		t.Fatal("strict accepted an unknown field")
	}
	if e := AsError(DecodeJSONStrict("", []byte(` `), &b)); e.Status != http.StatusBadRequest || e.Code != CodeMalformedBody {
		t.Fatalf("empty body: %+v", e)
	}
}

// FuzzDecodeJSON: any document decodes or is refused as the client's
// fault (400 or 422) with a message, never a panic or a 500.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{
		`{"action":"accept","refuse_lines":[{"line_id":"a","quantity":2}],"at":"2026-01-10T12:00:00Z"}`,
		`{"refuse_lines":[{"quantity":"1"}]}`, `{"at":"yesterday"}`, `{"rates":{"a":{"quantity":1e400}}}`,
		`{"bogus":[1,{"x":null}]}`, `[]`, `null`, `"x"`, `{"later":5}`, `{"quoted":"x"}`, `{} 1`, `{`,
	} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, doc []byte, strict bool) {
		var b body
		decode := DecodeJSON
		if strict {
			decode = DecodeJSONStrict
		}
		err := decode("", doc, &b)
		if err == nil {
			return
		}
		e := AsError(err)
		if e.Status != http.StatusBadRequest && e.Status != http.StatusUnprocessableEntity || e.Message == "" || strings.Contains(e.Message, "json:") {
			t.Fatalf("%q: %d %+v (%v)", doc, e.Status, e, err)
		}
		// The value at fault is found, save in a quoted field (",string"),
		// which the walk does not look into.
		if strings.Contains(e.Message, "expected shape") && !strings.Contains(string(doc), "quoted") {
			t.Fatalf("%q: the value at fault was not found (%v)", doc, err)
		}
	})
}
