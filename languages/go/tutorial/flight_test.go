package tutorial

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
)

// callers call g.Do(key, fn) n times at once, while fn is held until every caller is in Do, and
// returns what each got.
func callers[T any](t *testing.T, n int, g *flightGroup[T], key string, fn func() (T, error)) ([]T, []error) {
	t.Helper()
	vals, errs := make([]T, n), make([]error, n)
	release := make(chan struct{})
	held := func() (T, error) { <-release; return fn() }
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { vals[i], errs[i] = g.Do(key, held) })
	}
	synctest.Wait() // every goroutine is blocked: one in fn, the others waiting for it
	close(release)
	wg.Wait()
	return vals, errs
}

func TestFlightGroupCallsOncePerKeyAndSharesTheResult(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var g flightGroup[int]
		var calls atomic.Int64
		vals, errs := callers(t, 10, &g, "42", func() (int, error) { return int(calls.Add(1)), nil })
		if calls.Load() != 1 {
			t.Fatalf("10 concurrent callers made %d calls, want 1", calls.Load())
		}
		for i := range vals {
			if vals[i] != 1 || errs[i] != nil {
				t.Fatalf("caller %d got %d, %v; want 1, nil", i, vals[i], errs[i])
			}
		}
		// Once the call is over, the key is free: the next caller calls again.
		if v, _ := g.Do("42", func() (int, error) { return int(calls.Add(1)), nil }); v != 2 {
			t.Fatalf("a later call got %d, want 2 (a new call)", v)
		}
	})
}

func TestFlightGroupSharesTheError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var g flightGroup[string]
		var calls atomic.Int64
		boom := errors.New("database down")
		_, errs := callers(t, 5, &g, "42", func() (string, error) { calls.Add(1); return "", boom })
		if calls.Load() != 1 {
			t.Fatalf("5 concurrent callers made %d calls, want 1", calls.Load())
		}
		for i, err := range errs {
			if !errors.Is(err, boom) {
				t.Fatalf("caller %d got %v, want %v", i, err, boom)
			}
		}
	})
}

func TestFlightGroupKeysAreIndependent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var g flightGroup[string]
		release := make(chan struct{})
		var wg sync.WaitGroup
		got := make([]string, 2)
		for i, key := range []string{"1", "2"} {
			wg.Go(func() { got[i], _ = g.Do(key, func() (string, error) { <-release; return key, nil }) })
		}
		synctest.Wait() // both calls are under way at once: one key does not wait for the other
		close(release)
		wg.Wait()
		if got[0] != "1" || got[1] != "2" {
			t.Fatalf("got %q, want [1 2]", got)
		}
	})
}
