package miraklfake

import (
	"cmp"
	"fmt"
	"mime/multipart"
	"net/http"
	"path"
	"slices"
	"strings"
	"unicode"

	"github.com/helpdesk-bridge/bridge/connectors/mirakl/api"
)

// DefaultDocumentTypes are the document types of an instance whose
// Options name none: the spec's DO01 example, and the system types OR74
// names.
var DefaultDocumentTypes = []api.DocumentType{
	{Code: api.DocDeliveryBill, Label: "Delivery slip", Description: "Delivery slip", Entity: api.DocEntityOrder},
	{Code: api.DocShipmentDeliveryBill, Label: "Shipment delivery slip", Description: "Shipment delivery slip", Entity: api.DocEntityOrder},
	{Code: api.DocMessageAttachment, Label: "Message attachment", Description: "Message attachment", Entity: api.DocEntityOrder},
	{Code: api.DocCustomerInvoice, Label: "Invoice", Description: "Invoice", Entity: api.DocEntityOrder},
	{Code: "LEGAL_DOC", Label: "Legal documents", Description: "Legal documents", Entity: api.DocEntityShop},
	{Code: "ID_CARD", Label: "General Manager ID card", Description: "General Manager ID card", Entity: api.DocEntityShop},
}

// Document is an order's document as the fake holds it.
type Document struct {
	api.OrderDocument
	Content []byte `json:"-"`
}

// OR74's per-document errors. Only the unknown type's is the spec's; the
// others' codes and wording are made up (UNVERIFIED).
var (
	errDocType       = api.DocumentError{Code: api.DocErrorType, Field: api.DocErrorTypeField, Message: api.DocErrorTypeMessage}
	errDocOperator   = api.DocumentError{Code: "valid_order_document.type", Field: "type_code", Message: "This document type is restricted to the operator role"}
	errDocNotDirect  = api.DocumentError{Code: "valid_order_document.type", Field: "type_code", Message: "This document type cannot be directly uploaded to an order"}
	errDocExtension  = api.DocumentError{Code: "valid_order_document.extension", Field: "file_name", Message: "Only documents of the following types are supported: " + strings.Join(api.DocumentExtensions, ", ")}
	errDocNoFile     = api.DocumentError{Code: "valid_order_document.file", Field: "file_name", Message: "No file was sent with this file name"}
	errDocNoEntry    = api.DocumentError{Code: "valid_order_document.file", Field: "file_name", Message: "The file has no entry in order_documents"}
	errDocMax        = api.DocumentError{Code: "valid_order_document.max_documents", Field: "file_name", Message: fmt.Sprintf("An order can have a maximum of %d documents", api.MaxDocumentsPerOrder)}
	errDocNoName     = api.DocumentError{Code: "NotBlank", Field: "file_name", Message: "must not be blank"}
	errDocNoTypeCode = api.DocumentError{Code: "NotBlank", Field: "type_code", Message: "must not be blank"}
	errDocEntity     = api.DocumentError{Code: "valid_order_document.entity", Field: "entity.type", Message: "The entity type must be RETURN"}
)

// PutDocument attaches a document to one of a shop's orders ("" for the
// first shop), as the operator or the back office would, with none of
// OR74's checks (an operator's delivery bill, say).
func (s *Server) PutDocument(shopID, orderID, fileName, typeCode string, content []byte) (Document, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	shop, err := s.shopLocked(shopID)
	if err != nil {
		return Document{}, err
	}
	if _, ok := s.orders[shop][orderID]; !ok {
		return Document{}, fmt.Errorf("miraklfake: no order %s", orderID)
	}
	return cloneDocument(*s.addDocumentLocked(shop, orderID, fileName, typeCode, content)), nil
}

// Documents returns a copy of an order's documents ("" for the first
// shop), with their content, oldest first.
func (s *Server) Documents(shopID, orderID string) []Document {
	s.mu.Lock()
	defer s.mu.Unlock()
	shop, err := s.shopLocked(shopID)
	if err != nil {
		return nil
	}
	out := []Document{}
	for _, d := range s.documents[shop][orderID] {
		out = append(out, cloneDocument(*d))
	}
	return out
}

func (s *Server) addDocumentLocked(shop, orderID, name, typeCode string, content []byte) *Document {
	s.docSeq++
	d := &Document{
		OrderDocument: api.OrderDocument{
			ID: s.docSeq, FileName: name, FileSize: int64(len(content)), DateUploaded: api.NewTime(s.opts.Now()).Ptr(),
			OrderID: orderID, Type: typeCode,
		},
		Content: slices.Clone(content),
	}
	if s.documents[shop] == nil {
		s.documents[shop] = map[string][]*Document{}
	}
	s.documents[shop][orderID] = append(s.documents[shop][orderID], d)
	return d
}

func cloneDocument(d Document) Document {
	c := d
	c.DateUploaded = clonePtr(d.DateUploaded)
	c.Content = slices.Clone(d.Content)
	return c
}

// OR72: the documents of some of the shop's orders. Ids of orders the
// shop does not have list nothing.
func (s *Server) listDocuments(w http.ResponseWriter, r *http.Request) {
	p := params{q: r.URL.Query()}
	ids := p.list("order_ids")
	switch {
	case len(ids) == 0:
		p.fail("Parameter order_ids is required")
	case len(ids) > api.MaxDocumentOrders:
		p.fail(fmt.Sprintf("Invalid value for parameter order_ids: at most %d orders", api.MaxDocumentOrders))
	}
	if p.refuse(w) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := api.OrderDocumentList{OrderDocuments: []api.OrderDocument{}}
	for _, id := range ids {
		for _, d := range s.documents[shopOf(r)][id] {
			out.OrderDocuments = append(out.OrderDocuments, cloneDocument(*d).OrderDocument)
		}
	}
	slices.SortFunc(out.OrderDocuments, func(a, b api.OrderDocument) int { return cmp.Compare(a.ID, b.ID) })
	writeJSON(w, http.StatusOK, out)
}

// DO01: the instance's document types, of some entities (ORDER, SHOP).
func (s *Server) listDocumentTypes(w http.ResponseWriter, r *http.Request) {
	p := params{q: r.URL.Query()}
	entities := p.list("entities")
	for _, e := range entities {
		if e != api.DocEntityOrder && e != api.DocEntityShop {
			p.fail("Invalid value for parameter entities: must be ORDER or SHOP")
		}
	}
	if p.refuse(w) {
		return
	}
	out := api.DocumentTypeList{Documents: []api.DocumentType{}}
	for _, t := range s.docTypes {
		if len(entities) == 0 || slices.Contains(entities, t.Entity) {
			t.MimeTypes = slices.Clone(t.MimeTypes)
			out.Documents = append(out.Documents, t)
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// uploadedFile is one "files" part of OR74.
type uploadedFile struct {
	name    string
	content []byte
}

// OR74: the shop uploads documents to one of its orders. The answer lists
// only the documents that were not taken; the others are.
func (s *Server) uploadDocuments(w http.ResponseWriter, r *http.Request) {
	in, files, status, reason := readDocuments(r)
	if reason != "" {
		writeError(w, status, reason)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.orderFromPath(w, r)
	if o == nil {
		return
	}
	shop := shopOf(r)
	out := api.DocumentsUploaded{OrderDocuments: []api.DocumentFailed{}}
	fail := func(in api.DocumentInput, e api.DocumentError) {
		out.OrderDocuments = append(out.OrderDocuments, api.DocumentFailed{Errors: []api.DocumentError{e}, Input: &in})
	}
	have := len(s.documents[shop][o.OrderID])
	named := map[string]bool{}
	for _, d := range in.OrderDocuments {
		i := slices.IndexFunc(files, func(f uploadedFile) bool { return f.name == d.FileName })
		if i >= 0 {
			named[d.FileName] = true
		}
		switch {
		case d.FileName == "":
			fail(d, errDocNoName)
		case d.TypeCode == "":
			fail(d, errDocNoTypeCode)
		case i < 0:
			fail(d, errDocNoFile)
		case !slices.Contains(api.DocumentExtensions, strings.ToLower(strings.TrimPrefix(path.Ext(d.FileName), "."))):
			fail(d, errDocExtension)
		case d.Entity != nil && d.Entity.Type != "RETURN":
			fail(d, errDocEntity)
		case !s.orderDocumentTypeLocked(d.TypeCode):
			fail(d, errDocType)
		case d.TypeCode == api.DocDeliveryBill || d.TypeCode == api.DocShipmentDeliveryBill:
			fail(d, errDocOperator)
		case d.TypeCode == api.DocMessageAttachment:
			fail(d, errDocNotDirect)
		case have >= api.MaxDocumentsPerOrder:
			fail(d, errDocMax)
		default:
			s.addDocumentLocked(shop, o.OrderID, d.FileName, d.TypeCode, files[i].content)
			have++
		}
	}
	for _, f := range files {
		if !named[f.name] {
			fail(api.DocumentInput{FileName: f.name}, errDocNoEntry)
		}
	}
	out.ErrorsCount = len(out.OrderDocuments)
	writeJSON(w, http.StatusOK, out)
}

// orderDocumentTypeLocked tells whether code is one of the instance's
// order document types.
func (s *Server) orderDocumentTypeLocked(code string) bool {
	return slices.ContainsFunc(s.docTypes, func(t api.DocumentType) bool { return t.Code == code && t.Entity == api.DocEntityOrder })
}

// readDocuments reads OR74's multipart body: the order_documents part
// (JSON) and the files parts, whose names must be US-ASCII and distinct.
// A non-empty reason refuses the request with status.
func readDocuments(r *http.Request) (in api.DocumentsInput, files []uploadedFile, status int, reason string) {
	status, reason = readMultipart(r, "order_documents", &in, func(part *multipart.Part, content []byte) (int, string) {
		name := part.FileName()
		switch {
		case strings.ContainsFunc(name, func(r rune) bool { return r > unicode.MaxASCII }):
			return http.StatusBadRequest, "The file names must contain only US-ASCII characters"
		case slices.ContainsFunc(files, func(f uploadedFile) bool { return f.name == name }):
			return http.StatusBadRequest, "Documents filenames must be distinct"
		}
		files = append(files, uploadedFile{name: name, content: content})
		return 0, ""
	})
	switch {
	case status != 0:
		return in, nil, status, reason
	case in.OrderDocuments == nil:
		return in, nil, http.StatusBadRequest, "order_documents is required"
	case len(files) == 0:
		return in, nil, http.StatusBadRequest, "files is required"
	}
	return in, files, 0, ""
}
