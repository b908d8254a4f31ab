package tutorial

import (
	"errors"
	"sync"
)

// errLoadPanicked is what callers waiting for a load get when that load panics.
var errLoadPanicked = errors.New("the shared load panicked")

// #region tutorial:single-flight

// flightGroup runs at most one call per key at a time: a caller that asks for a key whose call
// is under way waits for it and gets the same result and error. It is what
// golang.org/x/sync/singleflight's Group.Do does, in the standard library only. The zero value
// is ready to use.
type flightGroup[T any] struct {
	mu    sync.Mutex
	calls map[string]*flight[T] // the calls under way, by key
}

// flight is one call under way; done is closed once val and err are set.
type flight[T any] struct {
	done chan struct{}
	val  T
	err  error
}

// Do returns what fn returns, calling it only if no call for key is under way.
func (g *flightGroup[T]) Do(key string, fn func() (T, error)) (T, error) {
	g.mu.Lock()
	if f, ok := g.calls[key]; ok { // someone is loading it: wait and share
		g.mu.Unlock()
		<-f.done
		return f.val, f.err
	}
	if g.calls == nil {
		g.calls = map[string]*flight[T]{}
	}
	f := &flight[T]{done: make(chan struct{}), err: errLoadPanicked}
	g.calls[key] = f
	g.mu.Unlock()

	defer func() { // even if fn panics, so that no caller waits forever
		g.mu.Lock()
		delete(g.calls, key) // the next caller for key starts a new call
		g.mu.Unlock()
		close(f.done)
	}()
	f.val, f.err = fn()
	return f.val, f.err
}

// #endregion tutorial:single-flight
