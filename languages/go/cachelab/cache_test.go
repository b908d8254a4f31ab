package cachelab

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestWriteThenReadAcrossInstances(t *testing.T) {
	f := newFixture(t, nil)
	a, b := f.cache("a"), f.cache("b")
	src := &source{value: u("Ada"), version: 1}
	for _, want := range []Tier{TierMiss, TierL1} {
		if r := mustGet(t, b, "user:1", src); r.Tier != want || r.Version != 1 {
			t.Fatalf("b read v%d from %s, want v1 from %s", r.Version, r.Tier, want)
		}
	}
	if err := a.Set(t.Context(), "user:1", Loaded[user]{Value: u("Grace"), Version: 2}); err != nil {
		t.Fatal(err)
	}
	if r, ok := a.Peek("user:1"); !ok || r.Version != 2 {
		t.Fatalf("the writer does not read its own write from L1: %+v %v", r, ok)
	}
	waitFor(t, "b to drop v1", func() bool { _, ok := b.Peek("user:1"); return !ok })
	if r := mustGet(t, b, "user:1", src); r.Tier != TierL2 || r.Version != 2 || r.Value.Name != "Grace" {
		t.Fatalf("b read %+v, want Grace v2 from L2", r)
	}
	ctx := t.Context()
	if ptr := f.rdb.Get(ctx, f.ns+":{user:1}:ver").Val(); ptr != "2" {
		t.Fatalf("pointer %q, want 2", ptr)
	}
	if data := f.rdb.Get(ctx, f.ns+":{user:1}:v:2").Val(); data != `{"name":"Grace"}` {
		t.Fatalf("data entry %q", data)
	}
	if f.rdb.Exists(ctx, f.ns+":{user:1}:v:1").Val() != 0 {
		t.Fatal("the superseded data entry is still there")
	}
	if src.calls.Load() != 1 {
		t.Fatalf("the source was read %d times, want 1", src.calls.Load())
	}
}

func TestDeleteServesNullAtTheTombstone(t *testing.T) {
	f := newFixture(t, nil)
	a, b := f.cache("a"), f.cache("b")
	src := &source{value: u("Ada"), version: 1}
	mustGet(t, b, "user:1", src)
	if err := a.Delete(t.Context(), "user:1", 2); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "b to hear of the delete", func() bool { _, ok := b.Peek("user:1"); return !ok })
	if r := mustGet(t, b, "user:1", src); r.Value != nil || r.Version != 2 {
		t.Fatalf("after the delete b read %+v, want null at v2", r)
	}
	ttl := f.rdb.PTTL(t.Context(), f.ns+":{user:1}:v:2").Val()
	if ttl <= 0 || ttl > DefaultNegativeTTL {
		t.Fatalf("negative entry TTL %s", ttl)
	}
}

func TestAnOlderWriteChangesNothing(t *testing.T) {
	f := newFixture(t, nil)
	a, b := f.cache("a"), f.cache("b")
	ctx := t.Context()
	_ = a.Set(ctx, "k", Loaded[user]{Value: u("new"), Version: 5})
	_ = a.Set(ctx, "k", Loaded[user]{Value: u("old"), Version: 4})
	if r, _ := a.Peek("k"); r.Version != 5 {
		t.Fatalf("the writer's L1 holds v%d, want 5", r.Version)
	}
	if r := mustGet(t, b, "k", &source{}); r.Version != 5 || r.Value.Name != "new" {
		t.Fatalf("b read %+v, want v5", r)
	}
}

func TestAStaleFillNeverReachesL1(t *testing.T) {
	f := newFixture(t, nil)
	a, b := f.cache("a"), f.cache("b")
	src := &source{value: u("old"), version: 1, hold: make(chan struct{}), loaded: make(chan struct{})}
	done := make(chan Read[user])
	go func() { done <- mustGet(t, b, "k", src) }()
	<-src.loaded // b has read v1 from the source and is held before its fill
	_ = a.Set(t.Context(), "k", Loaded[user]{Value: u("new"), Version: 2})
	waitFor(t, "b to hear of v2", func() bool { return b.mark("k") == 2 })
	close(src.hold)
	if r := <-done; r.Version != 1 || r.Tier != TierMiss {
		t.Fatalf("the held read answered %+v; the source's answer (v1) is still the truth", r)
	}
	if r, ok := b.Peek("k"); ok {
		t.Fatalf("b's L1 took %+v after v2 was announced", r)
	}
	if r := mustGet(t, b, "k", src); r.Version != 2 {
		t.Fatalf("b then read v%d, want 2", r.Version)
	}
}

func TestAnnounceWithoutValue(t *testing.T) {
	f := newFixture(t, nil)
	a, b := f.cache("a"), f.cache("b")
	src := &source{value: u("v1"), version: 1}
	mustGet(t, b, "k", src)
	if err := a.Announce(t.Context(), "k", 2); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "b to drop v1", func() bool { _, ok := b.Peek("k"); return !ok })
	src.value, src.version = u("v2"), 2
	if r := mustGet(t, b, "k", src); r.Version != 2 || r.Tier != TierMiss {
		t.Fatalf("b read %+v, want v2 loaded (the pointer has no data)", r)
	}
}

func TestStrictReadsConfirmL1(t *testing.T) {
	f := newFixture(t, nil)
	b := f.cache("b")
	src := &source{value: u("v1"), version: 1}
	mustGet(t, b, "k", src)
	if r := mustGet(t, b, "k", src, Strict()); r.Tier != TierL1 {
		t.Fatalf("a confirmed strict read came from %s", r.Tier)
	}
	// The pointer moves behind b's back: no message.
	f.rdb.Set(t.Context(), f.ns+":{k}:ver", "2", time.Minute)
	if r := mustGet(t, b, "k", src); r.Tier != TierL1 || r.Version != 1 {
		t.Fatalf("an eventual read: %+v, want v1 from L1", r)
	}
	src.value, src.version = u("v2"), 2
	if r := mustGet(t, b, "k", src, Strict()); r.Tier == TierL1 || r.Version != 2 {
		t.Fatalf("a strict read served %+v, want v2 not from L1", r)
	}
}

func TestMinVersionTokens(t *testing.T) {
	f := newFixture(t, nil)
	b := f.cache("b")
	src := &source{value: u("v1"), version: 1}
	mustGet(t, b, "k", src)
	src.value, src.version = u("v3"), 3
	if r := mustGet(t, b, "k", src, MinVersion(3)); r.Version != 3 || r.Tier != TierMiss {
		t.Fatalf("a token above L1 read %+v, want v3 from the source", r)
	}
	_, err := b.Get(t.Context(), "k", src.load, MinVersion(9))
	var unavailable *VersionUnavailableError
	if !errors.Is(err, ErrVersionUnavailable) || !errors.As(err, &unavailable) || unavailable.Version != 3 ||
		Code(err) != "E_VERSION_UNAVAILABLE" {
		t.Fatalf("a token above the source gave %v", err)
	}
}

func TestConcurrentMissesShareOneLoad(t *testing.T) {
	f := newFixture(t, nil)
	b := f.cache("b")
	src := &source{value: u("v1"), version: 1, hold: make(chan struct{}), loaded: make(chan struct{})}
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() { mustGet(t, b, "k", src) })
	}
	<-src.loaded
	waitFor(t, "every read to miss", func() bool { return b.Stats().Misses == 20 })
	close(src.hold)
	wg.Wait()
	if src.calls.Load() != 1 {
		t.Fatalf("20 concurrent misses made %d loads", src.calls.Load())
	}
}

func TestInvalidInputIsRefusedBeforeRedis(t *testing.T) {
	f := newFixture(t, nil)
	b := f.cache("b")
	ctx := t.Context()
	tests := []struct {
		name string
		err  error
		want error
	}{
		{"a key with a brace", first(b.Get(ctx, "user:{1}", (&source{}).load)), ErrInvalidKey},
		{"a key of 513 characters", first(b.Get(ctx, strings.Repeat("k", 513), (&source{}).load)), ErrInvalidKey},
		{"a key with a space", b.Set(ctx, "user 1", Loaded[user]{Version: 1}), ErrInvalidKey},
		{"a negative version", b.Set(ctx, "k", Loaded[user]{Version: -1}), ErrInvalidEntry},
		{"a version past 2^53-1", b.Set(ctx, "k", Loaded[user]{Version: 1 << 53}), ErrInvalidEntry},
		{"a loader's version past 2^53-1", first(b.Get(ctx, "k", func(context.Context, string) (Loaded[user], error) {
			return Loaded[user]{Version: 1 << 60}, nil
		})), ErrInvalidEntry},
	}
	for _, tt := range tests {
		if !errors.Is(tt.err, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, tt.err, tt.want)
		}
	}
	if n := f.rdb.Keys(ctx, f.ns+":{*").Val(); len(n) != 0 {
		t.Fatalf("refused calls reached Redis: %v", n)
	}
}

func first[T any](_ T, err error) error { return err }
