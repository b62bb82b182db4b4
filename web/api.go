package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"

	"github.com/videologue/videologue/accounts"
	"github.com/videologue/videologue/catalog"
	"github.com/videologue/videologue/domain"
	"github.com/videologue/videologue/eventstore"
	"github.com/videologue/videologue/internal/jsontext"
)

// mountAPI mounts the JSON API under /api.
func (s *Server) mountAPI(r chi.Router) {
	r.Post("/users", s.handleRegister)
	r.Post("/sign-ins", s.handleSignIn)
	r.Delete("/sign-ins", s.handleSignOut)
	// Deprecated: the earlier name of /sign-ins, kept for clients written
	// against it.
	r.Post("/sessions", s.handleSignIn)
	r.Delete("/sessions", s.handleSignOut)
	r.Delete("/users/me/sign-ins", s.handleSignOutEverywhere)
	r.Put("/users/me/password", s.handleChangePassword)
	r.Delete("/users/me", s.handleEraseMe) // erase.go
	r.Get("/videos", s.handleListVideos)
	r.Post("/videos", s.handleAddVideo)
	r.Get("/videos/{id}", s.handleGetVideo)
	r.Put("/videos/{id}", s.handleUpdateVideo) // api_video.go
	r.Delete("/videos/{id}", s.handleDeleteVideo)
	s.mountAdminAPI(r) // api_admin.go
	r.NotFound(func(w http.ResponseWriter, r *http.Request) { writeError(w, r, s.logger, domain.ErrNotFound) })
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, s.logger, &requestError{http.StatusMethodNotAllowed, "method not allowed"})
	})
}

type credentials struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

type userJSON struct {
	ID       int64  `json:"id"`
	Username string `json:"username"`
}

type videoJSON struct {
	ID     int64  `json:"id"`
	Title  string `json:"title"`
	URL    string `json:"url"`
	Slug   string `json:"slug"`
	UserID int64  `json:"user_id"`
}

func toUserJSON(u accounts.User) userJSON { return userJSON{ID: u.ID, Username: u.Username} }

func toVideoJSON(v catalog.Video) videoJSON {
	return videoJSON{ID: v.ID, Title: v.Title, URL: v.URL, Slug: v.Slug, UserID: v.UserID}
}

func (s *Server) handleRegister(w http.ResponseWriter, r *http.Request) {
	if !s.auth.allow(r, time.Now()) {
		writeError(w, r, s.logger, errRateLimited)
		return
	}
	var c credentials
	if err := s.decode(w, r, &c); err != nil {
		writeError(w, r, s.logger, err)
		return
	}
	u, err := s.deps.Accounts.Register(r.Context(), c.Username, c.Password, requestMeta(r, 0))
	if err != nil {
		writeError(w, r, s.logger, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"user": toUserJSON(u)})
}

func (s *Server) handleSignIn(w http.ResponseWriter, r *http.Request) {
	if !s.auth.allow(r, time.Now()) {
		writeError(w, r, s.logger, errRateLimited)
		return
	}
	var c credentials
	if err := s.decode(w, r, &c); err != nil {
		writeError(w, r, s.logger, err)
		return
	}
	u, si, err := s.deps.Accounts.SignInWithPassword(r.Context(), c.Username, c.Password, domain.SignInAPI, apiSignInTTL, requestMeta(r, 0))
	if err != nil {
		writeError(w, r, s.logger, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"token": s.deps.Tokens.Sign(u.ID, si.ID), "user": toUserJSON(u)})
}

func (s *Server) handleAddVideo(w http.ResponseWriter, r *http.Request) {
	u, err := s.bearer(r)
	if err != nil {
		writeError(w, r, s.logger, err)
		return
	}
	var in struct {
		Title string `json:"title"`
		URL   string `json:"url"`
	}
	if err := s.decode(w, r, &in); err != nil {
		writeError(w, r, s.logger, err)
		return
	}
	// Limited once the request is known to be one: a malformed body is
	// refused for what it is, and costs no token.
	if ok, wait := s.videoLimits.allow(r, u.ID, time.Now()); !ok {
		writeError(w, r, s.logger, &requestError{http.StatusTooManyRequests, tooFast(w, wait)})
		return
	}
	v, err := s.deps.Videos.Add(r.Context(), u.ID, in.Title, in.URL, requestMeta(r, u.ID))
	if err != nil {
		writeError(w, r, s.logger, err)
		return
	}
	writeJSON(w, http.StatusCreated, toVideoJSON(v))
}

// handleListVideos answers a page of videos, newest first:
// {"videos": [...], "next": N}, where N is the ?after= of the next page
// and null on the last.
func (s *Server) handleListVideos(w http.ResponseWriter, r *http.Request) {
	after, limit, err := pageParams(r.URL.Query())
	if err != nil {
		writeError(w, r, s.logger, err)
		return
	}
	p := s.deps.Videos.List(r.Context(), catalog.Query{After: after, Limit: limit})
	out := make([]videoJSON, len(p.Videos))
	for i, v := range p.Videos {
		out[i] = toVideoJSON(v)
	}
	var next *int64
	if p.Next != 0 {
		next = &p.Next
	}
	writeJSON(w, http.StatusOK, map[string]any{"videos": out, "next": next})
}

func (s *Server) handleGetVideo(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
	if err != nil || id <= 0 {
		writeError(w, r, s.logger, domain.ErrNotFound)
		return
	}
	v, err := s.deps.Videos.Get(r.Context(), id)
	if err != nil {
		writeError(w, r, s.logger, err)
		return
	}
	writeJSON(w, http.StatusOK, toVideoJSON(v))
}

// bearer authenticates the request's Authorization: Bearer token (see
// bearerSignIn).
func (s *Server) bearer(r *http.Request) (accounts.User, error) {
	u, _, err := s.bearerSignIn(r)
	return u, err
}

// bearerToken is the token of the request's Authorization: Bearer header.
func bearerToken(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", false
	}
	return strings.TrimSpace(token), true
}

// decode reads a JSON object body of at most MaxBodyBytes into v.
func (s *Server) decode(w http.ResponseWriter, r *http.Request, v any) error {
	return s.decodeLimit(w, r, v, s.cfg.MaxBodyBytes)
}

// decodeLimit reads a JSON object body of at most limit bytes into v.
func (s *Server) decodeLimit(w http.ResponseWriter, r *http.Request, v any, limit int64) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return errUnsupported
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return &requestError{http.StatusRequestEntityTooLarge, "request body too large: at most " + strconv.FormatInt(tooLarge.Limit, 10) + " bytes"}
		}
		return &requestError{http.StatusBadRequest, "request body could not be read"}
	}
	// encoding/json would replace invalid bytes with U+FFFD and store
	// something the client never sent.
	if !utf8.Valid(body) {
		return &requestError{http.StatusBadRequest, "request body must be valid UTF-8"}
	}
	// The same for an escaped lone surrogate, which it decodes as U+FFFD.
	if _, lone := jsontext.LoneSurrogate(body); lone {
		return &requestError{http.StatusBadRequest, `request body must not escape a lone UTF-16 surrogate (\ud800 to \udfff without its pair)`}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		return &requestError{http.StatusBadRequest, "malformed JSON body: expected an object"}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return &requestError{http.StatusBadRequest, "malformed JSON body: one object expected"}
	}
	return nil
}

// requestMeta is what the log records of who made a request and from where.
func requestMeta(r *http.Request, userID int64) eventstore.Metadata {
	m := eventstore.Metadata{CorrelationID: eventstore.NewID(), ClientAddr: r.RemoteAddr}
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		m.ClientAddr = host
	}
	if userID > 0 {
		m.UserID = strconv.FormatInt(userID, 10)
	}
	return m
}
