package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// DecodeJSON decodes a JSON document into dst and validates it; errors name
// fields by their JSON path, prefixed with prefix. Unknown fields are
// accepted: it is for the bodies other systems shape (signed events, whose
// senders add fields without breaking older bridges; helpdesks' requests).
func DecodeJSON(prefix string, data []byte, dst any) error {
	return decodeJSON(prefix, data, dst, false)
}

// DecodeJSONStrict is DecodeJSON for the bridge's own API, whose bodies
// only its documentation shapes: a field dst does not have is refused
// with 422 invalid_field naming its path, so that a misspelt argument
// ("refuse_line") is not dropped without a word.
func DecodeJSONStrict(prefix string, data []byte, dst any) error {
	return decodeJSON(prefix, data, dst, true)
}

func decodeJSON(prefix string, data []byte, dst any, strict bool) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return errEmptyBody
	}
	var err error
	if strict {
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err = dec.Decode(dst); err == nil {
			if _, end := dec.Token(); end != io.EOF {
				return Errorf(http.StatusBadRequest, CodeMalformedBody, prefix, "%s is not valid JSON: it goes on after its value", nonEmpty(prefix, "request body"))
			}
		}
	} else {
		err = json.Unmarshal(data, dst)
	}
	if err != nil {
		var syntax *json.SyntaxError
		if errors.As(err, &syntax) {
			return AsError(err)
		}
		if errors.Is(err, io.ErrUnexpectedEOF) { // the decoder's word for a document cut short
			return Errorf(http.StatusBadRequest, CodeMalformedBody, prefix, "%s is not valid JSON: it ends too soon", nonEmpty(prefix, "request body"))
		}
		// encoding/json's errors name no array index, a map's key only
		// sometimes, and Go's types: find the value at fault in the
		// document instead.
		if e := explain(prefix, data, reflect.TypeOf(dst), strict); e != nil {
			return e
		}
		e := AsError(err)
		if e.Status == http.StatusInternalServerError {
			return Errorf(http.StatusBadRequest, CodeMalformedBody, prefix, "%s does not have the expected shape", nonEmpty(prefix, "request body"))
		}
		if prefix != "" && e.Field != "" {
			e.Field = prefix + "." + e.Field
			e.Message = prefix + "." + e.Message
		}
		return e
	}
	if n, ok := dst.(interface{ Normalize() }); ok {
		n.Normalize()
	}
	return Validate(prefix, dst)
}

// A dst with a Normalize method has it called between decoding and
// validation, to tidy what a sender may reasonably vary (the spaces around
// an email) before it is checked.

var (
	unmarshalerType = reflect.TypeFor[json.Unmarshaler]()
	timeType        = reflect.TypeFor[time.Time]()
	anyType         = reflect.TypeFor[any]()
)

// DateTimeRule is what a date-time field must hold.
const DateTimeRule = "must be an RFC 3339 date-time with a time zone, such as 2026-01-10T12:00:00Z"

// explain walks data along t, in document order as encoding/json
// decodes it, and describes the first value that cannot be decoded: of
// the wrong JSON type, out of range, a date-time that does not parse, or
// (strict) a field t does not have. Nil when it finds none.
func explain(prefix string, data []byte, t reflect.Type, strict bool) *Error {
	w := walker{strict: strict}
	return w.walk(data, t, prefix)
}

type walker struct{ strict bool }

func (w walker) walk(raw []byte, t reflect.Type, path string) *Error {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil // null leaves any Go value as it is
	}
	for t.Kind() == reflect.Pointer {
		if t.Implements(unmarshalerType) {
			return w.custom(raw, t.Elem(), path)
		}
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		return w.custom(raw, t, path)
	}
	switch t.Kind() {
	case reflect.Interface:
		return nil
	case reflect.Struct:
		if raw[0] != '{' {
			return mismatch(path, t)
		}
		return w.object(raw, path, func(key string) (reflect.Type, bool) {
			f, ok := fieldOf(t, key)
			return f, ok
		})
	case reflect.Map:
		if raw[0] != '{' {
			return mismatch(path, t)
		}
		return w.object(raw, path, func(string) (reflect.Type, bool) { return t.Elem(), true })
	case reflect.Slice, reflect.Array:
		if t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8 && raw[0] == '"' {
			return nil // []byte: base64 text
		}
		if raw[0] != '[' {
			return mismatch(path, t)
		}
		return w.array(raw, path, t.Elem())
	case reflect.String:
		if raw[0] != '"' {
			return mismatch(path, t)
		}
	case reflect.Bool:
		if raw[0] != 't' && raw[0] != 'f' {
			return mismatch(path, t)
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if !isNumber(raw) {
			return mismatch(path, t)
		}
		if _, err := strconv.ParseInt(string(raw), 10, t.Bits()); err != nil {
			return badNumber(path, err)
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if !isNumber(raw) {
			return mismatch(path, t)
		}
		if _, err := strconv.ParseUint(string(raw), 10, t.Bits()); err != nil {
			return badNumber(path, err)
		}
	case reflect.Float32, reflect.Float64:
		if !isNumber(raw) {
			return mismatch(path, t)
		}
		if _, err := strconv.ParseFloat(string(raw), t.Bits()); err != nil {
			return badNumber(path, err)
		}
	}
	return nil
}

// custom checks a value whose type decodes itself: a date-time is named
// as such, other types by their own error if it is the API's.
func (w walker) custom(raw []byte, t reflect.Type, path string) *Error {
	err := reflect.New(t).Interface().(json.Unmarshaler).UnmarshalJSON(raw)
	if err == nil {
		return nil
	}
	if t == timeType {
		return Errorf(http.StatusUnprocessableEntity, CodeInvalidField, path, "%s %s", nonEmpty(path, "body"), DateTimeRule)
	}
	var apiErr *Error
	if errors.As(err, &apiErr) {
		return apiErr
	}
	return Errorf(http.StatusBadRequest, CodeMalformedBody, path, "%s does not have the expected form", nonEmpty(path, "body"))
}

// object walks an object's members in order; field tells a key's type.
func (w walker) object(raw []byte, path string, field func(key string) (reflect.Type, bool)) *Error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil { // {
		return nil
	}
	for dec.More() {
		tok, err := dec.Token()
		key, ok := tok.(string)
		if err != nil || !ok {
			return nil
		}
		var v json.RawMessage
		if dec.Decode(&v) != nil {
			return nil
		}
		p := join(path, key)
		ft, known := field(key)
		if !known {
			if w.strict {
				return Errorf(http.StatusUnprocessableEntity, CodeInvalidField, p, "%s is not a field of this request; see the API's documentation for the fields it takes", p)
			}
			continue
		}
		if e := w.walk(v, ft, p); e != nil {
			return e
		}
	}
	return nil
}

func (w walker) array(raw []byte, path string, elem reflect.Type) *Error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil { // [
		return nil
	}
	for i := 0; dec.More(); i++ {
		var v json.RawMessage
		if dec.Decode(&v) != nil {
			return nil
		}
		if e := w.walk(v, elem, path+"["+strconv.Itoa(i)+"]"); e != nil {
			return e
		}
	}
	return nil
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func isNumber(raw []byte) bool { return raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9' }

// badNumber is a number its field cannot hold: a fraction or an exponent
// where a whole number is due, or one out of the type's range.
func badNumber(path string, err error) *Error {
	if errors.Is(err, strconv.ErrRange) {
		return Errorf(http.StatusBadRequest, CodeMalformedBody, path, "%s is out of range", nonEmpty(path, "body"))
	}
	return Errorf(http.StatusBadRequest, CodeMalformedBody, path, "%s must be a whole number", nonEmpty(path, "body"))
}

// mismatch is a value of the wrong JSON type for t.
func mismatch(path string, t reflect.Type) *Error {
	return Errorf(http.StatusBadRequest, CodeMalformedBody, path, "%s must be %s", nonEmpty(path, "body"), jsonKind(t))
}

// jsonKind names the JSON type that decodes into t, for people.
func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == timeType:
		return "a date-time string such as 2026-01-10T12:00:00Z"
	case t.Kind() == reflect.Struct || t.Kind() == reflect.Map:
		return "a JSON object"
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8:
		return "a base64 string"
	case t.Kind() == reflect.Slice || t.Kind() == reflect.Array:
		return "an array"
	case t.Kind() == reflect.String:
		return "a string"
	case t.Kind() == reflect.Bool:
		return "true or false"
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Float64:
		return "a number"
	default:
		return "of another JSON type"
	}
}

// fieldOf finds the field a JSON key decodes into, as encoding/json
// matches them: the exact name first, then one that differs only in case;
// the fields of embedded structs count as the outer struct's, the
// shallowest winning.
func fieldOf(t reflect.Type, key string) (reflect.Type, bool) {
	var fold reflect.Type
	level := []reflect.Type{t}
	seen := map[reflect.Type]bool{}
	for len(level) > 0 {
		var next []reflect.Type
		for _, st := range level {
			if seen[st] {
				continue
			}
			seen[st] = true
			for i := range st.NumField() {
				f := st.Field(i)
				tag := f.Tag.Get("json")
				if tag == "-" {
					continue
				}
				name, opts, _ := strings.Cut(tag, ",")
				ft := f.Type
				if f.Anonymous && name == "" {
					if ft.Kind() == reflect.Pointer {
						ft = ft.Elem()
					}
					if ft.Kind() == reflect.Struct {
						next = append(next, ft)
						continue
					}
				}
				if !f.IsExported() {
					continue
				}
				if name == "" {
					name = f.Name
				}
				if slices.Contains(strings.Split(opts, ","), "string") {
					ft = anyType // quoted: not checked here
				}
				if name == key {
					return ft, true
				}
				if fold == nil && strings.EqualFold(name, key) {
					fold = ft
				}
			}
		}
		level = next
	}
	return fold, fold != nil
}
