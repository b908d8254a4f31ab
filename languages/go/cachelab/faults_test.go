package cachelab

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/cachelab/cachelab/languages/go/cachelab/message"
	"github.com/cachelab/cachelab/languages/go/internal/redistest"
)

func TestSubscriberKilledWithdrawsTrustAndFlushes(t *testing.T) {
	srv := redistest.ForTest(t)
	f := newFixture(t, srv)
	b := f.cache("b")
	mustGet(t, b, "k", &source{value: u("v1"), version: 1})
	before := b.Stats()
	if err := f.rdb.ClientKillByFilter(t.Context(), "TYPE", "pubsub").Err(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "trust to be lost", func() bool { return b.Stats().TrustLost > before.TrustLost })
	waitFor(t, "trust to come back", func() bool { return b.Stats().Trusted })
	after := b.Stats()
	if after.L1Flushes <= before.L1Flushes || after.L1Size != 0 {
		t.Fatalf("trust came back without a flush: %+v", after)
	}
}

func TestRedisRestartedEmpty(t *testing.T) {
	srv := redistest.ForTest(t)
	f := newFixture(t, srv)
	a, b := f.cache("a"), f.cache("b")
	src := &source{value: u("v1"), version: 1}
	mustGet(t, b, "k", src)
	lost := b.Stats().TrustLost
	if err := srv.Restart(t.Context()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "trust to be lost", func() bool { return b.Stats().TrustLost > lost })
	waitFor(t, "both to trust again", func() bool { return a.Stats().Trusted && b.Stats().Trusted })
	if _, ok := b.Peek("k"); ok {
		t.Fatal("L1 survived a Redis restart")
	}
	// The scripts are gone with the restart: EVALSHA → NOSCRIPT → EVAL.
	_ = a.Set(t.Context(), "k", Loaded[user]{Value: u("v2"), Version: 2})
	if r := mustGet(t, b, "k", src); r.Version != 2 || r.Tier != TierL2 {
		t.Fatalf("after the restart b read %+v, want v2 from L2", r)
	}
}

func TestSilentSubscriptionLosesTrust(t *testing.T) {
	srv := redistest.ForTest(t)
	f := newFixture(t, srv)
	b := f.cache("b")
	// Writes (PUBLISH included) wait while Redis is paused: no heartbeat comes back.
	if err := f.rdb.Do(t.Context(), "CLIENT", "PAUSE", "1500", "WRITE").Err(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "trust to be lost", func() bool { return !b.Stats().Trusted })
	waitFor(t, "trust to come back after the pause", func() bool { return b.Stats().Trusted })
}

func TestHostileMessagesAreRefusedAndCounted(t *testing.T) {
	f := newFixture(t, nil)
	secrets := func(o *Options) { o.SigningSecrets = []string{"a secret of sixteen+"} }
	a, b := f.cache("a", secrets), f.cache("b", secrets)
	src := &source{value: u("v1"), version: 1}
	mustGet(t, b, "k", src)
	ctx := t.Context()
	channel := f.ns + ":invalidations"
	plain := `{"type":"inv","key":"k","version":9,"origin":"mallory","seq":1,"ts":1}`
	forged := message.Sign(channel, []byte("another secret of 16+"), plain)
	for _, raw := range []string{plain, forged, "not json", strings.Repeat("x", 3000),
		message.Sign(f.ns+"x:invalidations", []byte("a secret of sixteen+"), plain)} {
		f.rdb.Publish(ctx, channel, raw)
	}
	// A valid message after them: once it is in, every one before it was handled.
	_ = a.Set(ctx, "other", Loaded[user]{Value: u("x"), Version: 1})
	waitFor(t, "b to receive the valid message", func() bool { return b.Stats().InvalidationsReceived >= 1 })
	s := b.Stats()
	if s.MessagesRejected.Unsigned != 2 || s.MessagesRejected.Forged != 2 || s.MessagesRejected.Malformed != 1 {
		t.Fatalf("rejected %+v, want 2 unsigned (plain JSON, plain text), 2 forged, 1 malformed (oversized)", s.MessagesRejected)
	}
	if r, ok := b.Peek("k"); !ok || r.Version != 1 || b.mark("k") != 0 {
		t.Fatalf("a refused message changed L1 or the marks: %+v %v mark %d", r, ok, b.mark("k"))
	}
}

func TestShardedPubSub(t *testing.T) {
	f := newFixture(t, nil)
	sharded := func(o *Options) { o.PubSub = Sharded }
	a, b := f.cache("a", sharded), f.cache("b", sharded)
	src := &source{value: u("v1"), version: 1}
	keys := []string{"user:1", "user:2", "user:42", "order:7"}
	for _, k := range keys {
		mustGet(t, b, k, src)
	}
	ctx := context.Background()
	for _, k := range keys {
		_ = a.Set(ctx, k, Loaded[user]{Value: u("v2"), Version: 2})
	}
	for _, k := range keys {
		waitFor(t, "b to drop "+k, func() bool { _, ok := b.Peek(k); return !ok })
	}
	if got := b.Stats().InvalidationsReceived; got != int64(len(keys)) {
		t.Fatalf("b received %d invalidations, want %d", got, len(keys))
	}
}

func TestPendingWritesAreRetried(t *testing.T) {
	srv := redistest.ForTest(t)
	f := newFixture(t, srv)
	a := f.cache("a", func(o *Options) { o.RedisTimeout = 100 * time.Millisecond; o.InvalidateAttempts = 1 })
	srv.Stop()
	if err := a.Set(t.Context(), "k", Loaded[user]{Value: u("v2"), Version: 2}); err != nil {
		t.Fatalf("Set failed because of Redis: %v", err)
	}
	if a.Stats().PendingInvalidations != 1 {
		t.Fatalf("pending %d, want 1", a.Stats().PendingInvalidations)
	}
	if err := srv.Restart(t.Context()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the write to reach Redis", func() bool { return a.Stats().PendingInvalidations == 0 })
	if ptr := f.rdb.Get(t.Context(), f.ns+":{k}:ver").Val(); ptr != "2" {
		t.Fatalf("pointer %q after the retry, want 2", ptr)
	}
}
