package tutorial

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"strconv"
)

// Reader is what the HTTP handler needs from a cache: UserCache (chapter 3) and VersionedCache
// (chapter 4) both are one.
type Reader interface {
	Get(ctx context.Context, id string) (User, Tier, error)
}

var validID = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// #region tutorial:handler

// NewHandler serves GET /users/{id} from the cache, saying in X-Cache which tier answered.
func NewHandler(cache Reader) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /users/{id}", func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		if !validID.MatchString(id) {
			writeError(w, http.StatusBadRequest, "INVALID_ID", "ids are 1-64 characters of [A-Za-z0-9_-]")
			return
		}
		user, tier, err := cache.Get(r.Context(), id)
		w.Header().Set("X-Cache", string(tier))
		switch {
		case errors.Is(err, ErrNotFound):
			writeError(w, http.StatusNotFound, "USER_NOT_FOUND", "no user "+id)
		case err != nil:
			writeError(w, http.StatusServiceUnavailable, "UNAVAILABLE", "the database did not answer")
		default:
			w.Header().Set("X-Version", strconv.FormatInt(user.Version, 10))
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(user)
		}
	})
	return mux
}

// #endregion tutorial:handler

// writeError answers {"error": {"code", "message"}}, the shape of every cachelab error.
func writeError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	body := map[string]map[string]string{"error": {"code": code, "message": message}}
	_ = json.NewEncoder(w).Encode(body)
}
