package gorgiasfake

import (
	"cmp"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"github.com/helpdesk-bridge/bridge/connectors/gorgias/api"
)

// Where the fake serves uploaded files. Gorgias's own file URLs are not
// documented beyond the file object's example; private attachments sit
// behind the API's auth here, public ones are open.
const (
	privateFilePath = "/api/attachments/"
	publicFilePath  = "/public-files/"
	// uploadOverhead is room for the multipart framing around the files.
	uploadOverhead = 64 << 10
)

// storedFile is one uploaded file.
type storedFile struct {
	name        string
	contentType string
	data        []byte
	private     bool
}

// upload serves POST /api/upload: multipart/form-data, one file a part
// (several parts may come at once), type attachment (private, the
// default) or public_attachment among the documented types. It answers 201
// with a list of file objects.
func (s *Server) upload(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	errs := checkParams(q, "type")
	typ := cmp.Or(q.Get("type"), api.UploadAttachment)
	if !slices.Contains(api.UploadTypes, typ) {
		errs.add("type", "Must be one of the documented upload types.")
	}
	if errs.refuse(w) {
		return
	}
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		writeError(w, http.StatusBadRequest, "Invalid request", map[string][]string{"_body": {"Expected multipart/form-data."}})
		return
	}
	mr := multipart.NewReader(r.Body, params["boundary"])
	var got []storedFile
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if s.refuseRead(w, err) {
			return
		}
		// The field's name is the file's label when the part names no
		// file, as the reference describes.
		name := cmp.Or(part.FileName(), part.FormName())
		data, err := io.ReadAll(io.LimitReader(part, s.opts.MaxUploadBytes+1))
		if s.refuseRead(w, err) {
			return
		}
		if int64(len(data)) > s.opts.MaxUploadBytes {
			writeError(w, http.StatusRequestEntityTooLarge, "Payload too large", nil)
			return
		}
		if name == "" || len(data) == 0 {
			writeError(w, http.StatusBadRequest, "Invalid request", map[string][]string{"file": {"A file needs a name and content."}})
			return
		}
		got = append(got, storedFile{
			name:        name,
			contentType: cmp.Or(part.Header.Get("Content-Type"), "application/octet-stream"),
			data:        data,
			private:     typ != api.UploadPublicAttachment,
		})
	}
	if len(got) == 0 {
		writeError(w, http.StatusBadRequest, "Invalid request", map[string][]string{"file": {reasonMissing}})
		return
	}
	base := s.baseURL(r)
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]api.Attachment, 0, len(got))
	for _, f := range got {
		out = append(out, s.storeFileLocked(base, f))
	}
	writeJSON(w, http.StatusCreated, out)
}

// refuseRead answers a failed read of the upload, if err is one.
func (s *Server) refuseRead(w http.ResponseWriter, err error) bool {
	var tooLarge *http.MaxBytesError
	switch {
	case err == nil:
		return false
	case errors.As(err, &tooLarge):
		writeError(w, http.StatusRequestEntityTooLarge, "Payload too large", nil)
	default:
		writeError(w, http.StatusBadRequest, "Invalid request", map[string][]string{"_body": {"Unreadable multipart body."}})
	}
	return true
}

// storeFileLocked keeps f and returns its file object, whose URL serves it.
func (s *Server) storeFileLocked(base string, f storedFile) api.Attachment {
	key := rand.Text()
	stored := f
	s.files[key] = &stored
	dir := privateFilePath
	if !f.private {
		dir = publicFilePath
	}
	return api.Attachment{
		URL:         base + dir + key + "/" + url.PathEscape(f.name),
		Name:        f.name,
		ContentType: f.contentType,
		// The reference's example writes the size as a string; clients
		// read both, and the fake writes a number.
		Size: api.Size(len(f.data)),
	}
}

// serveFile serves a private file; the gate already authenticated the
// request.
func (s *Server) serveFile(w http.ResponseWriter, r *http.Request) {
	s.writeFile(w, r, true)
}

// servePublicFile serves a public file to anyone.
func (s *Server) servePublicFile(w http.ResponseWriter, r *http.Request) {
	s.writeFile(w, r, false)
}

func (s *Server) writeFile(w http.ResponseWriter, r *http.Request, private bool) {
	s.mu.Lock()
	f := s.files[r.PathValue("key")]
	s.mu.Unlock()
	if f == nil || f.private != private {
		writeError(w, http.StatusNotFound, "Not found", nil)
		return
	}
	w.Header().Set("Content-Type", f.contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(f.data)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(f.data)
}

// listMessages serves GET /api/messages: the account's messages, filtered
// by ticket_id, newest first by default, with cursor pagination.
func (s *Server) listMessages(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	errs := checkParams(q, "cursor", "limit", "order_by", "ticket_id")
	limit := parseLimit(errs, q)
	o, ok := parseOrder(q.Get("order_by"), "created_datetime:desc", "created_datetime")
	if !ok {
		errs.add("order_by", "The fake supports created_datetime:asc and created_datetime:desc only.")
	}
	ticketID := parseIDs(errs, q, "ticket_id")
	cur := parseCursor(errs, q, o)
	if errs.refuse(w) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var match []*api.Message
	for _, t := range s.tickets {
		if len(ticketID) > 0 && t.ID != ticketID[0] {
			continue
		}
		for i := range t.Messages {
			match = append(match, &t.Messages[i])
		}
	}
	key := func(m *api.Message) sortKey { return sortKey{m.CreatedDatetime.Time, m.ID} }
	page, meta := paginate(match, key, o, cur, limit)
	out := api.List[api.Message]{Object: "list", URI: "/api/messages", Data: []api.Message{}, Meta: meta}
	for _, m := range page {
		out.Data = append(out.Data, cloneMessage(*m))
	}
	writeJSON(w, http.StatusOK, out)
}

// baseURL is the account's address as the request reached it, prefix
// included, for the absolute URLs the fake hands out.
func (s *Server) baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return fmt.Sprintf("%s://%s%s", scheme, r.Host, s.opts.PathPrefix)
}
