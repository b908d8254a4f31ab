package cachelab

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachelab/cachelab/languages/go/cachelab/keys"
	"github.com/cachelab/cachelab/languages/go/cachelab/message"
	"github.com/cachelab/cachelab/languages/go/internal/redistest"
)

// clusterCache builds a cache with sharded Pub/Sub on rdb (a Redis Cluster client), closed at
// cleanup, and waits until it trusts its L1.
func clusterCache(t *testing.T, rdb redis.UniversalClient, ns, origin string) *Cache[user] {
	t.Helper()
	c, err := New[user](Options{Redis: rdb, PubSub: Sharded, Namespace: ns, Origin: origin,
		HeartbeatInterval: 50 * time.Millisecond, HeartbeatTimeout: time.Second, L1TTL: time.Minute,
		RedisTimeout: 2 * time.Second, OnError: func(err error) { t.Logf("%s: %v", origin, err) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := c.WaitTrusted(ctx); err != nil {
		t.Fatalf("%s never trusted its L1: %v", origin, err)
	}
	return c
}

// TestOwnShardedMessagesAreNumbered: every message an instance SPUBLISHes on a shard channel,
// heartbeats and announcements alike, carries its count of messages on that channel so far
// (MUST-MSG-8).
func TestOwnShardedMessagesAreNumbered(t *testing.T) {
	cluster := redistest.ClusterForTest(t, 3)
	rdb := cluster.Client(t)
	const ns, key = "numbered", "user:42"
	ctx := t.Context()
	channel := shardChannelOf(t, ns, key)
	// Subscribed before the cache exists, so that its first message on the channel is heard.
	ps := rdb.SSubscribe(ctx, channel)
	t.Cleanup(func() { _ = ps.Close() })
	if _, err := ps.Receive(ctx); err != nil { // the SSUBSCRIBE confirmation
		t.Fatal(err)
	}
	a := clusterCache(t, rdb, ns, "a")
	for version := int64(1); version <= 3; version++ {
		if err := a.Set(ctx, key, Loaded[user]{Value: u(fmt.Sprint("v", version)), Version: version}); err != nil {
			t.Fatal(err)
		}
	}
	var numbers []int64
	announced := 0
	for announced < 3 {
		raw, err := ps.ReceiveMessage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		m, ok := message.Decode(raw.Payload)
		if !ok || m.Origin != "a" {
			t.Fatalf("unexpected message %q", raw.Payload)
		}
		if !m.HasCseq {
			t.Fatalf("a sharded message without cseq: %s", raw.Payload)
		}
		numbers = append(numbers, m.Cseq)
		if m.Type == message.TypeInvalidation {
			announced++
		}
	}
	for i, n := range numbers {
		if n != int64(i) {
			t.Fatalf("cseq on %s: %v, want 0, 1, 2, … without a gap", channel, numbers)
		}
	}
}

// TestGlobalMessagesCarryNoCseq: a single Redis's channel is not numbered (MUST-MSG-8).
func TestGlobalMessagesCarryNoCseq(t *testing.T) {
	f := newFixture(t, nil)
	ctx := t.Context()
	ps := f.rdb.Subscribe(ctx, f.ns+":invalidations")
	t.Cleanup(func() { _ = ps.Close() })
	if _, err := ps.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	a := f.cache("a")
	_ = a.Set(ctx, "k", Loaded[user]{Value: u("v1"), Version: 1})
	for {
		raw, err := ps.ReceiveMessage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var fields map[string]any
		if err := json.Unmarshal([]byte(raw.Payload), &fields); err != nil {
			t.Fatal(err)
		}
		if _, ok := fields["cseq"]; ok {
			t.Fatalf("a global message with cseq: %s", raw.Payload)
		}
		if fields["type"] == "inv" {
			return
		}
	}
}

// TestACseqGapWithdrawsTrust: a sender's announcement lost on a shard channel (its slot moved
// while this reader was paused, say) shows as a gap in its cseq; the reader must stop serving
// the L1 entry that announcement was for (MUST-TRUST-8), and trust again only after a flush.
func TestACseqGapWithdrawsTrust(t *testing.T) {
	cluster := redistest.ClusterForTest(t, 3)
	rdb := cluster.Client(t)
	const ns, key = "gap", "user:7"
	ctx := t.Context()
	reader := clusterCache(t, rdb, ns, "reader")
	mustGet(t, reader, key, &source{value: u("v1"), version: 1})
	if r, ok := reader.Peek(key); !ok || r.Version != 1 {
		t.Fatalf("L1 of the reader: %+v %v, want v1", r, ok)
	}
	channel := shardChannelOf(t, ns, key)
	send := func(m message.Message) {
		t.Helper()
		received := reader.Stats().InvalidationsReceived
		raw, _ := m.MarshalJSON()
		if err := rdb.SPublish(ctx, channel, string(raw)).Err(); err != nil {
			t.Fatal(err)
		}
		waitFor(t, fmt.Sprintf("cseq %d to arrive", m.Cseq), func() bool {
			return reader.Stats().InvalidationsReceived > received
		})
	}
	other := func(cseq int64) message.Message {
		return message.Message{Type: message.TypeInvalidation, Key: "other", Version: cseq + 1,
			Origin: "writer", TS: wallClockMs(), Cseq: cseq, HasCseq: true}
	}
	// The writer's first messages, a resend and an older one: no gap.
	for _, cseq := range []int64{0, 1, 1, 0, 1} {
		send(other(cseq))
	}
	if s := reader.Stats(); s.TrustLost != 0 || !s.Trusted {
		t.Fatalf("trust lost without a gap: %+v", s)
	}
	if _, ok := reader.Peek(key); !ok {
		t.Fatal("L1 entry gone without a gap")
	}
	// cseq 2, "user:7 is now v2", is lost; the writer's next message is 3.
	send(other(3))
	if s := reader.Stats(); s.TrustLost != 1 {
		t.Fatalf("trustLost %d after a gap, want 1", s.TrustLost)
	}
	if r, ok := reader.Peek(key); ok {
		t.Fatalf("served %+v from L1 after a gap", r)
	}
	waitFor(t, "trust to come back", func() bool { return reader.Stats().Trusted })
	if r, ok := reader.Peek(key); ok {
		t.Fatalf("L1 kept %+v across the gap: trust came back without a flush", r)
	}
}

// TestANewcomerTrustsOnlyAfterHearingEveryone: a sender already running is heard first above 0
// (a gap, MUST-TRUST-8); a newcomer first trusts L1 only a stall threshold after it subscribed
// on every channel, so that this gap comes before trust rather than withdrawing it afterwards.
func TestANewcomerTrustsOnlyAfterHearingEveryone(t *testing.T) {
	cluster := redistest.ClusterForTest(t, 3)
	rdb := cluster.Client(t)
	const ns = "newcomer"
	first := clusterCache(t, rdb, ns, "first")
	if err := first.Set(t.Context(), "k", Loaded[user]{Value: u("v1"), Version: 1}); err != nil {
		t.Fatal(err)
	}
	late, err := New[user](Options{Redis: rdb, PubSub: Sharded, Namespace: ns, Origin: "late",
		HeartbeatInterval: 50 * time.Millisecond, HeartbeatTimeout: time.Second, RedisTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = late.Close() })
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := late.WaitSubscribed(ctx); err != nil {
		t.Fatal(err)
	}
	subscribed := time.Now()
	if err := late.WaitTrusted(ctx); err != nil {
		t.Fatal(err)
	}
	// 250 ms with a 50 ms interval; a little less measured from here (subscribed a moment before).
	if waited, least := time.Since(subscribed), stallThreshold(50*time.Millisecond)-50*time.Millisecond; waited < least {
		t.Fatalf("trusted %s after subscribing, want at least %s", waited, least)
	}
	// Both keep beating for a while: none of it may withdraw the newcomer's trust.
	deadline := time.Now().Add(500 * time.Millisecond)
	for time.Now().Before(deadline) {
		if s := late.Stats(); s.TrustLost != 0 || !s.Trusted {
			t.Fatalf("the newcomer lost trust after it first trusted: trustLost %d", s.TrustLost)
		}
		time.Sleep(10 * time.Millisecond) // a poll interval: the check above decides
	}
}

// shardChannelOf is the shard channel of key in namespace ns.
func shardChannelOf(t *testing.T, ns, key string) string {
	t.Helper()
	kb, err := keys.New(ns)
	if err != nil {
		t.Fatal(err)
	}
	return kb.ShardChannel(key)
}
