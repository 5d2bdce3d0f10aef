// Package httpapi is the bridge's HTTP shell: the gin engine with its
// explicit middleware (request ids, access logs without customer data,
// recovery, metrics), the single JSON error shape every route answers
// with, request validation that names fields by their JSON path, and the
// operational routes (health, readiness, metrics, admin).
package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"reflect"
	"regexp"
	"strings"
	"unicode"

	"github.com/gin-gonic/gin"
	"github.com/go-playground/validator/v10"
	"github.com/redis/go-redis/v9"
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
	// CodeRequestTimeout: the body arrived too slowly (408).
	CodeRequestTimeout = "request_timeout"
)

// RetryAfterSeconds is the Retry-After of a 503 whose handler named none:
// long enough for a Redis failover, short enough not to stall senders.
const RetryAfterSeconds = "5"

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
		if apiErr.Status == http.StatusServiceUnavailable && c.Writer.Header().Get("Retry-After") == "" {
			c.Header("Retry-After", RetryAfterSeconds)
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
	var unread *bodyReadError
	switch {
	case errors.As(err, &apiErr):
		return apiErr
	case errors.As(err, &tooBig):
		return Errorf(http.StatusRequestEntityTooLarge, CodeBodyTooLarge, "", "request body is larger than %d bytes", tooBig.Limit)
	case errors.As(err, &unread) && unread.timeout():
		return Errorf(http.StatusRequestTimeout, CodeRequestTimeout, "", "request body did not arrive in time")
	case errors.As(err, &unread):
		return Errorf(http.StatusBadRequest, CodeMalformedBody, "", "request body could not be read: it was cut short or its framing is broken")
	case storeUnreachable(err):
		return Errorf(http.StatusServiceUnavailable, CodeUnavailable, "", "the bridge's store did not answer; retry after the Retry-After delay")
	case errors.As(err, &verrs) && len(verrs) > 0:
		return fieldError(verrs[0])
	case errors.As(err, &syntax):
		return Errorf(http.StatusBadRequest, CodeMalformedBody, "", "request body is not valid JSON (at byte %d)", syntax.Offset)
	case errors.As(err, &typ):
		// DecodeJSON names the value by its path; this is for the rest.
		return Errorf(http.StatusBadRequest, CodeMalformedBody, typ.Field, "%s must be %s", nonEmpty(typ.Field, "body"), jsonKind(typ.Type))
	case errors.Is(err, errEmptyBody):
		return Errorf(http.StatusBadRequest, CodeMalformedBody, "", "request body is empty")
	default:
		return Errorf(http.StatusInternalServerError, CodeInternal, "", "internal error")
	}
}

var errEmptyBody = errors.New("empty body")

// ErrStoreUnavailable marks a failure of Redis that a library reported
// without its cause (asynq flattens the errors of its scripts into text):
// wrap it in, and the route answers 503 with a Retry-After.
var ErrStoreUnavailable = errors.New("the bridge's store is unreachable")

// storeUnreachable tells a failure to reach Redis (refused, reset, timed
// out, no free connection) from a bug: the request may succeed later, so
// it is a 503, not a 500. Body reads are classified before this.
func storeUnreachable(err error) bool {
	var ne net.Error
	return errors.Is(err, ErrStoreUnavailable) || errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, redis.ErrPoolTimeout) || errors.Is(err, redis.ErrPoolExhausted) ||
		errors.Is(err, redis.ErrClosed)
}

// bodyReadError is a failure to read a request's body: the client sent it
// truncated, with broken chunking, or too slowly for the server's read
// timeout. It is the client's problem, never a 500.
type bodyReadError struct{ err error }

func (e *bodyReadError) Error() string { return "read request body: " + e.err.Error() }
func (e *bodyReadError) Unwrap() error { return e.err }

func (e *bodyReadError) timeout() bool {
	var ne net.Error
	return errors.As(e.err, &ne) && ne.Timeout()
}

// readBody marks the errors of a request body's reads as the client's.
type readBody struct{ io.ReadCloser }

func (b readBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && err != io.EOF {
		var tooBig *http.MaxBytesError
		if !errors.As(err, &tooBig) {
			err = &bodyReadError{err: err}
		}
	}
	return n, err
}

// classifyBodyErrors wraps every request body so that a failed read maps
// to 400 or 408 wherever the handler reads it.
func classifyBodyErrors() gin.HandlerFunc {
	return func(c *gin.Context) {
		if b := c.Request.Body; b != nil && b != http.NoBody {
			c.Request.Body = readBody{b}
		}
		c.Next()
	}
}

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
	case "amount":
		msg = "must be an amount such as 49.90: digits, at most 4 decimals, not negative, below 10^12"
	case "len":
		msg = "must be exactly " + fe.Param() + " characters long"
	case "alpha":
		msg = "must be letters only"
	case "printascii":
		msg = "must be printable ASCII"
	case "id":
		msg = "must not be blank, start or end with a space, or hold control characters"
	default:
		msg = "fails the " + fe.Tag() + " rule"
	}
	return Errorf(http.StatusUnprocessableEntity, CodeInvalidField, field, "%s %s", field, msg)
}

var amountRE = regexp.MustCompile(`^[0-9]{1,12}(\.[0-9]{1,4})?$`)

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
	// id: an identifier other systems will be asked about (an order's, an
	// event's): not blank, no surrounding spaces, no control characters,
	// which would make it a different id to the next system, or unusable
	// in a URL or a log line.
	_ = v.RegisterValidation("id", func(fl validator.FieldLevel) bool {
		s := fl.Field().String()
		return s != "" && strings.TrimSpace(s) == s && !strings.ContainsFunc(s, unicode.IsControl)
	})
	// amount: a price as text, exact, bounded so that sums stay exact.
	_ = v.RegisterValidation("amount", func(fl validator.FieldLevel) bool {
		return amountRE.MatchString(fl.Field().String())
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

func nonEmpty(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
