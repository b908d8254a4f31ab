package api

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cachelab/cachelab/languages/go/cachelab"
	"github.com/cachelab/cachelab/languages/go/instance/internal/store"
)

var randRead = rand.Read

func userKey(id string) string { return "user:" + id }

func toBody(u store.User) UserBody {
	return UserBody{ID: u.ID, Name: u.Name, Email: u.Email, Age: u.Age, Version: u.Version,
		UpdatedAt: u.UpdatedAt.UTC().Format("2006-01-02T15:04:05.000Z")}
}

// loadUser is the cache's loader: the row and its version, a tombstone or no row as nil.
func (h *handler) loadUser(ctx context.Context, key string) (cachelab.Loaded[UserBody], error) {
	row, err := h.Users.Get(ctx, strings.TrimPrefix(key, "user:"))
	if err != nil || row == nil {
		return cachelab.Loaded[UserBody]{}, err
	}
	if row.Deleted {
		return cachelab.Loaded[UserBody]{Version: row.Version}, nil
	}
	body := toBody(*row)
	return cachelab.Loaded[UserBody]{Value: &body, Version: row.Version}, nil
}

func (h *handler) getUser(w http.ResponseWriter, r *http.Request, rawID string) {
	if err := h.readUser(w, r, rawID); err != nil {
		writeError(w, err)
	}
}

func (h *handler) readUser(w http.ResponseWriter, r *http.Request, rawID string) error {
	if err := assertNoQuery(r); err != nil {
		return err
	}
	id, err := parseUserID(rawID)
	if err != nil {
		return err
	}
	options, err := parseReadOptions(r.Header.Values("X-Min-Version"), r.Header.Values("X-Consistency"))
	if err != nil {
		return err
	}
	ifNoneMatch, err := parseEntityTags("If-None-Match", r.Header)
	if err != nil {
		return err
	}
	opts := []cachelab.ReadOption{cachelab.MinVersion(options.minVersion)}
	if options.strict {
		opts = append(opts, cachelab.Strict())
	}
	read, err := h.Cache.Get(r.Context(), userKey(id), h.loadUser, opts...)
	if err != nil {
		return err
	}
	w.Header().Set("X-Cache", string(read.Tier))
	if read.Value == nil {
		return fail(404, codeUserNotFound, "no user "+id)
	}
	w.Header().Set("X-Version", itoa(read.Value.Version))
	w.Header().Set("ETag", etagOf(read.Value.Version))
	if ifNoneMatch != nil && ifNoneMatch.noneMatchFails(read.Value.Version) {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	writeUser(w, r, http.StatusOK, *read.Value)
	return nil
}

func writeUser(w http.ResponseWriter, r *http.Request, status int, body UserBody) {
	raw, _ := json.Marshal(body)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", itoa(int64(len(raw))))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(raw)
	}
}

// readBody: no query, then a body checked in this order: application/json (415), no content
// encoding but identity (415), at most 16 kB (413), UTF-8 (415), JSON (400).
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if err := assertNoQuery(r); err != nil {
		return nil, err
	}
	hasBody := r.Header.Get("Content-Length") != "" || len(r.TransferEncoding) > 0
	media, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	charset := strings.ToLower(params["charset"])
	if !hasBody || err != nil || media != "application/json" || (charset != "" && charset != "utf-8") {
		return nil, fail(415, codeUnsupportedMediaType, "send the body as application/json in UTF-8")
	}
	// Any Content-Encoding field but identity, even an empty one; repeated fields are one list.
	if values := r.Header.Values("Content-Encoding"); len(values) > 0 {
		if enc := strings.TrimSpace(strings.Join(values, ", ")); !strings.EqualFold(enc, "identity") {
			if len(enc) > 64 {
				enc = enc[:64]
			}
			return nil, fail(415, codeUnsupportedMediaType, "unsupported content encoding "+strconv.Quote(enc)+": send the body unencoded")
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, bodyLimit))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return nil, fail(413, codeBodyTooLarge, "request entity too large")
	}
	if err != nil {
		return nil, fail(400, codeBadRequest, "the request could not be understood")
	}
	// encoding/json would store U+FFFD for each byte that is not UTF-8: refuse them instead.
	if !utf8.Valid(body) {
		return nil, fail(415, codeUnsupportedMediaType, "the body is not valid UTF-8")
	}
	// A byte-order mark is no JSON whitespace: such a body is not JSON.
	if len(strings.TrimSpace(string(body))) > 0 && !json.Valid(body) {
		return nil, fail(400, codeInvalidJSON, "the body is not valid JSON")
	}
	return body, nil
}

// writeCondition is a request's If-Match as a store condition (nil without one).
func writeCondition(r *http.Request) (*store.Condition, error) {
	ifMatch, err := parseEntityTags("If-Match", r.Header)
	if err != nil || ifMatch == nil {
		return nil, err
	}
	anyVersion, versions := ifMatch.acceptedVersions()
	return &store.Condition{Any: anyVersion, Versions: versions}, nil
}

func (h *handler) putUser(w http.ResponseWriter, r *http.Request, rawID string) {
	if err := h.put(w, r, rawID); err != nil {
		writeError(w, err)
	}
}

func (h *handler) put(w http.ResponseWriter, r *http.Request, rawID string) error {
	body, err := readBody(w, r)
	if err != nil {
		return err
	}
	id, err := parseUserID(rawID)
	if err != nil {
		return err
	}
	cond, err := writeCondition(r)
	if err != nil {
		return err
	}
	input, err := parseUserInput(body)
	if err != nil {
		return err
	}
	// With If-Match the database checks the version in the UPDATE itself: no lost update.
	user, created, err := h.Users.Put(r.Context(), id, input, cond)
	if err != nil {
		return err
	}
	h.AfterCommit()
	written := toBody(user)
	// The database commit comes first; only then may readers be told to look again. The cache
	// write must finish even if the client hangs up.
	_ = h.Cache.Set(context.WithoutCancel(r.Context()), userKey(id), cachelab.Loaded[UserBody]{Value: &written, Version: user.Version})
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	w.Header().Set("X-Version", itoa(user.Version))
	w.Header().Set("ETag", etagOf(user.Version))
	writeUser(w, r, status, written)
	return nil
}

func (h *handler) postUser(w http.ResponseWriter, r *http.Request) {
	err := func() error {
		body, err := readBody(w, r)
		if err != nil {
			return err
		}
		input, err := parseUserInput(body)
		if err != nil {
			return err
		}
		user, err := h.Users.Create(r.Context(), input)
		if err != nil {
			return err
		}
		h.AfterCommit()
		written := toBody(user)
		_ = h.Cache.Set(context.WithoutCancel(r.Context()), userKey(user.ID), cachelab.Loaded[UserBody]{Value: &written, Version: user.Version})
		w.Header().Set("Location", "/users/"+user.ID)
		w.Header().Set("X-Version", itoa(user.Version))
		w.Header().Set("ETag", etagOf(user.Version))
		writeUser(w, r, http.StatusCreated, written)
		return nil
	}()
	if err != nil {
		writeError(w, err)
	}
}

func (h *handler) deleteUser(w http.ResponseWriter, r *http.Request, rawID string) {
	err := func() error {
		if err := assertNoQuery(r); err != nil {
			return err
		}
		id, err := parseUserID(rawID)
		if err != nil {
			return err
		}
		cond, err := writeCondition(r)
		if err != nil {
			return err
		}
		tombstone, err := h.Users.Delete(r.Context(), id, cond)
		if err != nil {
			return err
		}
		if tombstone == nil {
			return fail(404, codeUserNotFound, "no user "+id)
		}
		h.AfterCommit()
		_ = h.Cache.Delete(context.WithoutCancel(r.Context()), userKey(id), tombstone.Version)
		w.Header().Set("X-Version", itoa(tombstone.Version))
		w.WriteHeader(http.StatusNoContent)
		return nil
	}()
	if err != nil {
		writeError(w, err)
	}
}

// probe runs a readiness check, bounded by a second.
func probe(ctx context.Context, check func(context.Context) error) string {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if check(ctx) != nil {
		return "down"
	}
	return "ok"
}
