package cachelab

import (
	"errors"
	"fmt"

	"github.com/cachelab/cachelab/languages/go/cachelab/keys"
)

// The errors a call can return, each matched with errors.Is. Code gives their stable codes.
var (
	// ErrInvalidKey: a key that is not 1-512 characters without braces, whitespace, control
	// characters or unpaired surrogates (E_INVALID_KEY). Refused before any Redis call.
	ErrInvalidKey = keys.ErrInvalidKey
	// ErrInvalidEntry: a loader answer or written entry with a version outside 0…2^53−1
	// (E_INVALID_ENTRY).
	ErrInvalidEntry = errors.New("cachelab: entries need a version from 0 to 2^53-1")
	// ErrVersionUnavailable: a read's MinVersion is above what the source of truth holds, even
	// after a fresh load (E_VERSION_UNAVAILABLE). The error is a *VersionUnavailableError.
	ErrVersionUnavailable = errors.New("cachelab: version unavailable")
	// ErrOverloaded: a miss while MaxConcurrentLoads keys are loading (E_OVERLOADED).
	ErrOverloaded = errors.New("cachelab: too many loads in flight")
	// ErrClosed: a call after Close.
	ErrClosed = errors.New("cachelab: cache closed")
)

// VersionUnavailableError says which version a read asked for and what the source holds.
type VersionUnavailableError struct {
	Key        string
	MinVersion int64
	Version    int64 // what the source of truth holds (0: the key does not exist)
}

func (e *VersionUnavailableError) Error() string {
	return fmt.Sprintf("cachelab: %s is at version %d in the source of truth, below the minVersion %d asked for", e.Key, e.Version, e.MinVersion)
}

// Is makes errors.Is(err, ErrVersionUnavailable) true.
func (e *VersionUnavailableError) Is(target error) bool { return target == ErrVersionUnavailable }

// Code is the protocol's stable code of err (E_INVALID_KEY, …), or "" for an error that is not
// the cache's own (a loader's, a context's).
func Code(err error) string {
	switch {
	case errors.Is(err, ErrInvalidKey):
		return "E_INVALID_KEY"
	case errors.Is(err, ErrInvalidEntry):
		return "E_INVALID_ENTRY"
	case errors.Is(err, ErrVersionUnavailable):
		return "E_VERSION_UNAVAILABLE"
	case errors.Is(err, ErrOverloaded):
		return "E_OVERLOADED"
	case errors.Is(err, ErrClosed):
		return "E_CLOSED"
	}
	return ""
}

// ErrRedis wraps what the cache reports to OnError about Redis; never returned to a caller.
var ErrRedis = errors.New("cachelab: redis")

// ErrCorruptEntry is reported to OnError for a pointer or payload this protocol cannot have written.
var ErrCorruptEntry = errors.New("cachelab: corrupt entry")

// ErrInvalidationFailed is reported to OnError when an announcement is given up.
var ErrInvalidationFailed = errors.New("cachelab: invalidation failed")
