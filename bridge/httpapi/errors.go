// Package httpapi is the bridge's HTTP shell: the gin engine with its
// explicit middleware (request ids, access logs without customer data,
// recovery, metrics), the single JSON error shape every route answers
// with, request validation that names fields by their JSON path, and the
// operational routes (health, readiness, metrics, admin).
package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/go-playground/validator/v10"
	"github.com/rs/zerolog"
)

// Error is the one error shape of the API:
//
//	{"error": {"code": "invalid_field", "message": "...", "field": "data.score"}}
//
// Code is stable and meant for programs; Message is for people and names
// the field; Field is the JSON path of the offending input, when there is one.
type Error struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

func (e *Error) Error() string { return e.Message }

// Errorf builds an *Error.
func Errorf(status int, code, field, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Field: field, Message: fmt.Sprintf(format, args...)}
}

// Stable error codes shared by every route.
const (
	CodeMalformedBody = "malformed_body"
	CodeInvalidField  = "invalid_field"
	CodeBodyTooLarge  = "body_too_large"
	CodeNotFound      = "not_found"
	CodeUnauthorized  = "unauthorized"
	CodeInternal      = "internal_error"
	CodeUnavailable   = "unavailable"
)

// Fail records err on the request and stops it; ErrorMiddleware answers.
func Fail(c *gin.Context, err error) {
	_ = c.Error(err)
	c.Abort()
}

// ErrorMiddleware turns the error recorded by a handler into the JSON
// error shape, and logs it once (5xx only: 4xx are the caller's).
func ErrorMiddleware() gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Next()
		if len(c.Errors) == 0 || c.Writer.Written() {
			return
		}
		err := c.Errors.Last().Err
		apiErr := AsError(err)
		if apiErr.Status >= 500 {
			zerolog.Ctx(c.Request.Context()).Error().Err(err).Msg("request failed")
		}
		c.JSON(apiErr.Status, gin.H{"error": apiErr})
	}
}

// AsError maps any error to the API's error shape.
func AsError(err error) *Error {
	var apiErr *Error
	var tooBig *http.MaxBytesError
	var verrs validator.ValidationErrors
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &apiErr):
		return apiErr
	case errors.As(err, &tooBig):
		return Errorf(http.StatusRequestEntityTooLarge, CodeBodyTooLarge, "", "request body is larger than %d bytes", tooBig.Limit)
	case errors.As(err, &verrs) && len(verrs) > 0:
		return fieldError(verrs[0])
	case errors.As(err, &syntax):
		return Errorf(http.StatusBadRequest, CodeMalformedBody, "", "request body is not valid JSON (at byte %d)", syntax.Offset)
	case errors.As(err, &typ):
		field := typ.Field
		return Errorf(http.StatusBadRequest, CodeMalformedBody, field, "%s: expected %s, got a JSON %s", field, typ.Type, typ.Value)
	case errors.Is(err, errEmptyBody):
		return Errorf(http.StatusBadRequest, CodeMalformedBody, "", "request body is empty")
	default:
		return Errorf(http.StatusInternalServerError, CodeInternal, "", "internal error")
	}
}

var errEmptyBody = errors.New("empty body")

func fieldError(fe validator.FieldError) *Error {
	field := fe.Namespace()
	// Drop the root struct's name: clients know fields by JSON path.
	if i := strings.IndexByte(field, '.'); i >= 0 {
		field = field[i+1:]
	}
	var msg string
	switch fe.Tag() {
	case "required":
		msg = "is required"
	case "email":
		msg = "must be an email address"
	case "oneof":
		msg = "must be one of: " + strings.Join(strings.Fields(fe.Param()), ", ")
	case "min", "gte":
		if fe.Kind() == reflect.String || fe.Kind() == reflect.Slice {
			msg = "must have at least " + fe.Param() + " characters or items"
		} else {
			msg = "must be at least " + fe.Param()
		}
	case "max", "lte":
		if fe.Kind() == reflect.String || fe.Kind() == reflect.Slice {
			msg = "must have at most " + fe.Param() + " characters or items"
		} else {
			msg = "must be at most " + fe.Param()
		}
	case "url", "http_url":
		msg = "must be an http or https URL"
	case "numeric":
		msg = "must be a decimal number such as 49.90"
	case "len":
		msg = "must be exactly " + fe.Param() + " characters long"
	case "alpha":
		msg = "must be letters only"
	case "printascii":
		msg = "must be printable ASCII"
	default:
		msg = "fails the " + fe.Tag() + " rule"
	}
	return Errorf(http.StatusUnprocessableEntity, CodeInvalidField, field, "%s %s", field, msg)
}

// validate checks request structs, naming fields by their JSON names.
var validate = func() *validator.Validate {
	v := validator.New(validator.WithRequiredStructEnabled())
	v.RegisterTagNameFunc(func(f reflect.StructField) string {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			return ""
		}
		if name == "" {
			return f.Name
		}
		return name
	})
	return v
}()

// Validate checks v's validate tags; its error maps to a 422 naming the
// first offending field by its JSON path, prefixed with prefix (e.g. "data").
func Validate(prefix string, v any) error {
	err := validate.Struct(v)
	var verrs validator.ValidationErrors
	if errors.As(err, &verrs) && len(verrs) > 0 {
		e := fieldError(verrs[0])
		if prefix != "" {
			e.Field = prefix + "." + e.Field
			e.Message = prefix + "." + e.Message
		}
		return e
	}
	return err
}

// DecodeJSON decodes a JSON document into dst and validates it; errors name
// fields with prefix. Unknown fields are accepted so that senders can add
// fields without breaking older bridges.
func DecodeJSON(prefix string, data []byte, dst any) error {
	if len(strings.TrimSpace(string(data))) == 0 {
		return errEmptyBody
	}
	if err := json.Unmarshal(data, dst); err != nil {
		e := AsError(err)
		if e.Status == http.StatusInternalServerError {
			return Errorf(http.StatusBadRequest, CodeMalformedBody, prefix, "%s is not valid JSON: %v", nonEmpty(prefix, "body"), err)
		}
		if prefix != "" && e.Field != "" {
			e.Field = prefix + "." + e.Field
			e.Message = prefix + "." + e.Message
		}
		return e
	}
	return Validate(prefix, dst)
}

func nonEmpty(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
