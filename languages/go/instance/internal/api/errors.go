// Package api is the HTTP contract of a cachelab instance, as the Node instance serves it
// (packages/app/src/routes): the users API with conditional requests, the ops endpoints, and
// every error as {"error": {"code", "message"}} with a 4xx status (only bugs are 500s).
package api

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/cachelab/cachelab/languages/go/cachelab"
	"github.com/cachelab/cachelab/languages/go/instance/internal/store"
)

// The stable codes of packages/app/src/errors.ts.
const (
	codeInvalidID            = "E_INVALID_ID"
	codeInvalidBody          = "E_INVALID_BODY"
	codeInvalidJSON          = "E_INVALID_JSON"
	codeInvalidHeader        = "E_INVALID_HEADER"
	codeInvalidQuery         = "E_INVALID_QUERY"
	codeBodyTooLarge         = "E_BODY_TOO_LARGE"
	codeHeadersTooLarge      = "E_HEADERS_TOO_LARGE"
	codeUnsupportedMediaType = "E_UNSUPPORTED_MEDIA_TYPE"
	codeBadRequest           = "E_BAD_REQUEST"
	codeUserNotFound         = "E_USER_NOT_FOUND"
	codeVersionUnavailable   = "E_VERSION_UNAVAILABLE"
	codePreconditionFailed   = "E_PRECONDITION_FAILED"
	codeRouteNotFound        = "E_ROUTE_NOT_FOUND"
	codeMethodNotAllowed     = "E_METHOD_NOT_ALLOWED"
	codeDatabaseUnavailable  = "E_DB_UNAVAILABLE"
	codeOverloaded           = "E_OVERLOADED"
	codeInternal             = "E_INTERNAL"
)

// httpError is an error that maps to one response.
type httpError struct {
	status  int
	code    string
	message string
}

func (e *httpError) Error() string { return e.code + ": " + e.message }

func fail(status int, code, message string) error {
	return &httpError{status: status, code: code, message: message}
}

// toHTTPError maps any error as the Node error middleware does.
func toHTTPError(err error) *httpError {
	var h *httpError
	var unavailable *cachelab.VersionUnavailableError
	switch {
	case errors.As(err, &h):
		return h
	case errors.Is(err, store.ErrUnavailable):
		return &httpError{503, codeDatabaseUnavailable, "the database is unavailable; retry shortly"}
	case errors.Is(err, store.ErrPreconditionFailed):
		return &httpError{412, codePreconditionFailed, "the user is not at a version If-Match names (changed or deleted meanwhile); read it again"}
	case errors.Is(err, cachelab.ErrOverloaded):
		return &httpError{503, codeOverloaded, "too many database loads in flight; retry shortly"}
	case errors.As(err, &unavailable):
		held := "no version"
		if unavailable.Version != 0 {
			held = "version " + itoa(unavailable.Version)
		}
		return &httpError{412, codeVersionUnavailable, "the database holds " + held + " of this user, below X-Min-Version " + itoa(unavailable.MinVersion)}
	case errors.Is(err, cachelab.ErrInvalidKey):
		return &httpError{400, codeBadRequest, err.Error()}
	}
	return &httpError{500, codeInternal, "internal error"}
}

// writeError answers err; a 503 says when to retry.
func writeError(w http.ResponseWriter, err error) *httpError {
	h := toHTTPError(err)
	if h.status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, h.status, map[string]map[string]string{"error": {"code": h.code, "message": h.message}})
	return h
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	raw, err := json.Marshal(body)
	if err != nil {
		status, raw = 500, []byte(`{"error":{"code":"E_INTERNAL","message":"internal error"}}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(raw)
}
