package zendeskfake

import (
	"cmp"
	"crypto/rand"
	"errors"
	"io"
	"maps"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/helpdesk-bridge/bridge/connectors/zendesk/api"
)

// attachmentPath is where the fake serves attachments, as Zendesk's own
// content_url values look: /attachments/token/{token}/?name={file name}.
const attachmentPath = "/attachments/token/"

// Where an update came from, for the audits and for the trigger's
// "Update via" condition.
const (
	viaAPI = "api"
	viaWeb = "web"
)

// upload is what an upload token stands for.
type upload struct {
	attachments []api.Attachment
	at          time.Time
	used        bool
}

// storedFile is an attachment's content.
type storedFile struct {
	contentType string
	data        []byte
}

// commentAudit is what the fake keeps of the update that added a comment,
// to list it as an audit.
type commentAudit struct {
	id      int64
	updater int64
	custom  map[string]any
	via     string
}

// uploadFile serves POST /api/v2/uploads?filename=[&token=]: the file's
// bytes are the body, its type the Content-Type. It answers 201 with the
// upload's token and its files; a token given adds the file to that
// upload.
func (s *Server) uploadFile(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	name := q.Get("filename")
	if name == "" {
		writeError(w, http.StatusBadRequest, api.ErrorBody{Error: api.ErrorName{Name: "BadRequest"}, Description: "filename parameter is required"})
		return
	}
	data, err := io.ReadAll(r.Body)
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		writeError(w, http.StatusRequestEntityTooLarge, api.ErrorBody{Error: api.ErrorName{Name: "RequestEntityTooLarge"}, Description: "File too large"})
		return
	case err != nil:
		w.WriteHeader(http.StatusBadRequest)
		return
	case len(data) == 0:
		// UNVERIFIED wording and status for an empty file.
		writeError(w, http.StatusUnprocessableEntity, invalid{"file": {{Description: "File: cannot be blank", Error: "BlankValue"}}}.body())
		return
	}
	base := s.baseURL(r)
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.opts.Now()
	token := q.Get("token")
	u := s.uploads[token]
	switch {
	case token == "":
		token, u = s.newUploadLocked(now)
	case u == nil || u.used || now.Sub(u.at) >= UploadTTL:
		writeError(w, http.StatusNotFound, notFound)
		return
	}
	last := s.addFileLocked(base, u, name, r.Header.Get("Content-Type"), data)
	writeJSON(w, http.StatusCreated, api.UploadResponse{Upload: api.Upload{
		Token: token, Attachment: &last, Attachments: append([]api.Attachment(nil), u.attachments...),
	}})
}

// newUploadLocked starts an empty upload and returns its token.
func (s *Server) newUploadLocked(at time.Time) (string, *upload) {
	token := randomKey()
	u := &upload{at: at}
	s.uploads[token] = u
	return token, u
}

// addFileLocked stores data as one more file of upload u and returns its
// attachment, whose content_url serves it.
func (s *Server) addFileLocked(base string, u *upload, name, contentType string, data []byte) api.Attachment {
	s.nextAttachment++
	key := randomKey()
	ct := cmp.Or(contentType, "application/octet-stream")
	s.files[key] = &storedFile{contentType: ct, data: data}
	a := api.Attachment{
		ID:          s.nextAttachment,
		FileName:    name,
		ContentURL:  base + attachmentPath + key + "/?name=" + url.QueryEscape(name),
		ContentType: ct,
		Size:        int64(len(data)),
	}
	u.attachments = append(u.attachments, a)
	return a
}

// serveAttachment serves an attachment's content: to anyone with the URL
// when PublicAttachments is set, otherwise to the account's agents only.
func (s *Server) serveAttachment(w http.ResponseWriter, r *http.Request, key string) {
	if !s.opts.PublicAttachments {
		if _, ok := s.authenticate(r); !ok {
			writeError(w, http.StatusUnauthorized, api.ErrorBody{Error: api.ErrorName{Name: api.ErrCouldNotAuth}})
			return
		}
	}
	s.mu.Lock()
	f := s.files[key]
	s.mu.Unlock()
	if f == nil {
		writeError(w, http.StatusNotFound, notFound)
		return
	}
	w.Header().Set("Content-Type", f.contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(f.data)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(f.data)
}

// listAudits serves GET /api/v2/tickets/{id}/audits, oldest first. The
// fake keeps only the updates that added comments, one audit each, with
// the custom metadata the update carried.
func (s *Server) listAudits(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.live(w, r)
	if t == nil {
		return
	}
	page, next := s.paginate(r, len(t.Comments))
	out := api.AuditList{Audits: []api.Audit{}, Count: len(t.Comments), NextPage: next}
	for _, c := range t.Comments[page.from:page.to] {
		a := s.audits[c.ID]
		public := c.Public
		custom := maps.Clone(a.custom)
		if custom == nil {
			custom = map[string]any{}
		}
		out.Audits = append(out.Audits, api.Audit{
			ID:        a.id,
			TicketID:  t.ID,
			AuthorID:  a.updater,
			CreatedAt: c.CreatedAt,
			Metadata:  api.AuditMetadata{System: map[string]any{"client": "helpdesk fake", "via": a.via}, Custom: custom},
			Events: []api.AuditEvent{{
				ID: c.ID, Type: api.AuditEventComment, AuthorID: c.AuthorID, Body: c.Body, HTMLBody: c.HTMLBody,
				Public: &public, Attachments: copyComment(c).Attachments,
			}},
		})
	}
	writeJSON(w, http.StatusOK, out)
}

// randomKey makes upload tokens and attachment URL keys: unguessable, as
// Zendesk's are, since a public attachment's URL is its only protection.
func randomKey() string { return rand.Text() }
