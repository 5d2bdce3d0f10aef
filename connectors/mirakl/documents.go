package mirakl

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"path"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/helpdesk-bridge/bridge/connectors"
	"github.com/helpdesk-bridge/bridge/connectors/mirakl/api"
)

// How an order's documents map to the seller API, and why:
//   - ListDocuments is OR72 for one order.
//   - UploadDocument is OR74 with one file and its entry in the
//     order_documents part (JSON, sent as application/json as M12's
//     message_input is). OR74 answers 200 even when it takes nothing,
//     listing only the documents it refused: one listed is a refusal
//     (ErrInvalid, with Mirakl's code and message). The name and the
//     extension are checked before sending, as OR74 takes US-ASCII names
//     and a fixed list of extensions.
//   - OR74 has no idempotency key. An upload that got no answer (a
//     timeout, a dropped connection, a 5xx) is connectors.Uncertain: the
//     caller pauses, then looks with OR72 before uploading again (see
//     discussions' invoice upload), so that an order never carries two
//     copies of the same invoice. This package neither sleeps nor retries.
//   - HasInvoice and UploadInvoice do the same with the account's invoice
//     type code (Options.InvoiceDocumentType, CUSTOMER_INVOICE by
//     default): codes are set per operator, DO01 lists them.

// DefaultInvoiceDocumentType is the standard invoice type code.
const DefaultInvoiceDocumentType = api.DocCustomerInvoice

// Document is one of an order's documents.
type Document struct {
	ID         int64
	FileName   string
	Size       int64
	Type       string
	UploadedAt time.Time
}

// ListDocuments returns an order's documents (OR72).
func (c *Client) ListDocuments(ctx context.Context, orderID string) ([]Document, error) {
	fail := func(err error) ([]Document, error) {
		return nil, fmt.Errorf("mirakl: list the documents of order %s: %w", connectors.ShortID(orderID), err)
	}
	if orderID == "" || strings.Contains(orderID, ",") {
		return fail(fmt.Errorf("%w: not an order id", connectors.ErrNotFound))
	}
	var list api.OrderDocumentList
	if err := c.do(ctx, call{method: http.MethodGet, path: "/api/orders/documents", query: url.Values{"order_ids": {orderID}}}, &list); err != nil {
		return fail(err)
	}
	var out []Document
	for _, d := range list.OrderDocuments {
		if d.OrderID != orderID {
			continue
		}
		doc := Document{ID: d.ID, FileName: d.FileName, Size: d.FileSize, Type: d.Type}
		if d.DateUploaded != nil {
			doc.UploadedAt = d.DateUploaded.Time
		}
		out = append(out, doc)
	}
	return out, nil
}

// UploadDocument attaches one file to an order, as a document of type
// typeCode (OR74).
func (c *Client) UploadDocument(ctx context.Context, orderID, fileName, typeCode string, content []byte) error {
	if err := c.upload(ctx, orderID, fileName, typeCode, content); err != nil {
		return fmt.Errorf("mirakl: upload a document to order %s: %w", connectors.ShortID(orderID), err)
	}
	return nil
}

func (c *Client) upload(ctx context.Context, orderID, fileName, typeCode string, content []byte) error {
	ext := strings.ToLower(strings.TrimPrefix(path.Ext(fileName), "."))
	switch {
	case orderID == "":
		return fmt.Errorf("%w: no order id", connectors.ErrNotFound)
	case typeCode == "":
		return invalid("a document needs a type code")
	case fileName == "" || strings.ContainsFunc(fileName, func(r rune) bool { return r > unicode.MaxASCII || unicode.IsControl(r) }) || strings.ContainsAny(fileName, `"/\`):
		return invalid("a document's file name must be US-ASCII, without quotes or slashes")
	case !slices.Contains(api.DocumentExtensions, ext):
		return invalid(fmt.Sprintf("Mirakl takes no %q documents", ext))
	}
	body, contentType, err := documentsBody(api.DocumentsInput{OrderDocuments: []api.DocumentInput{{FileName: fileName, TypeCode: typeCode}}}, fileName, content)
	if err != nil {
		return err
	}
	var res api.DocumentsUploaded
	if err := c.do(ctx, call{method: http.MethodPost, path: orderPath(orderID) + "/documents", body: body, contentType: contentType}, &res); err != nil {
		// A refusal (4xx) took nothing; anything else may have.
		return connectors.Uncertain(err)
	}
	for _, d := range res.OrderDocuments {
		for _, e := range d.Errors {
			return invalid(clip(fmt.Sprintf("Mirakl refused the document: %s (%s): %s", e.Code, e.Field, e.Message)))
		}
	}
	if res.ErrorsCount > 0 {
		return invalid("Mirakl refused the document")
	}
	return nil
}

// documentsBody writes OR74's body: the files, then order_documents.
func documentsBody(in api.DocumentsInput, fileName string, content []byte) ([]byte, string, error) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	part, err := mw.CreatePart(textproto.MIMEHeader{
		"Content-Disposition": {multipart.FileContentDisposition("files", fileName)},
		"Content-Type":        {"application/octet-stream"},
	})
	if err != nil {
		return nil, "", err
	}
	if _, err := part.Write(content); err != nil {
		return nil, "", err
	}
	part, err = mw.CreatePart(textproto.MIMEHeader{
		"Content-Disposition": {`form-data; name="order_documents"`},
		"Content-Type":        {"application/json;charset=utf-8"},
	})
	if err != nil {
		return nil, "", err
	}
	if err := json.NewEncoder(part).Encode(in); err != nil {
		return nil, "", fmt.Errorf("encode order_documents: %w", err)
	}
	if err := mw.Close(); err != nil {
		return nil, "", err
	}
	return buf.Bytes(), mw.FormDataContentType(), nil
}

// HasInvoice tells whether an order carries a document of the account's
// invoice type already, whoever uploaded it: an order takes one invoice.
func (c *Client) HasInvoice(ctx context.Context, orderID string) (bool, error) {
	docs, err := c.ListDocuments(ctx, orderID)
	if err != nil {
		return false, err
	}
	return slices.ContainsFunc(docs, func(d Document) bool { return d.Type == c.invoiceType }), nil
}

// UploadInvoice attaches an invoice's PDF to its order, with the
// account's invoice type code.
func (c *Client) UploadInvoice(ctx context.Context, orderID, fileName string, pdf []byte) error {
	return c.UploadDocument(ctx, orderID, fileName, c.invoiceType, pdf)
}
