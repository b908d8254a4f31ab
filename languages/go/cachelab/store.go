package cachelab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachelab/cachelab/languages/go/cachelab/keys"
)

// outcome of a fill or an announcement (SPEC §4.2).
type outcome int

const (
	stale   outcome = -1 // the pointer is past this version: nothing written
	current outcome = 0  // the pointer was at this version: entry and TTL refreshed
	moved   outcome = 1  // the pointer moved forward to this version
)

// announcement is the message sent with a fill: published by the script on the global
// channel, or (sharded) by publish after it, which numbers it as it is sent (MUST-MSG-8).
type announcement struct {
	channel string
	payload string                          // global: the encoded message the script publishes
	always  bool                            // a write ("always"); false: a read's fill ("advanced")
	publish func(ctx context.Context) error // sharded: SPUBLISHes the message; nil: global
}

// found is what one READ returned for a key.
type found struct {
	pointer    int64 // -1: no (valid) pointer
	payload    []byte
	hasPayload bool
	corrupt    bool
}

// store is the Redis tier: a pointer per key, data entries per version, through the scripts.
type store struct {
	rdb     redis.UniversalClient
	keys    *keys.Builder
	scripts *scripts
	timeout time.Duration
	fence   *restartFence // nil: no fence (Redis Cluster, sharded Pub/Sub)
}

// readable waits for the first restart check and fails while a check is due (MUST-FENCE-1):
// what Redis holds may come from an older snapshot.
func (s *store) readable(ctx context.Context) error {
	if s.fence == nil {
		return nil
	}
	return s.fence.usable(ctx)
}

// bounded gives one Redis call its own deadline (RedisTimeout) within ctx.
func (s *store) bounded(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.timeout)
}

// read runs READ: pointer and data in one round trip (MUST-VER-4).
func (s *store) read(ctx context.Context, key string) (found, error) {
	ctx, cancel := s.bounded(ctx)
	defer cancel()
	if err := s.readable(ctx); err != nil {
		return found{}, err
	}
	reply, err := run(ctx, s.rdb, s.scripts.read, []string{s.keys.Pointer(key)}, s.keys.DataPrefix(key)).Slice()
	if errors.Is(err, redis.Nil) {
		return found{pointer: -1}, nil
	}
	if err != nil {
		return found{}, err
	}
	raw, _ := reply[0].(string)
	version, ok := parseVersion(raw)
	if !ok {
		return found{pointer: -1, corrupt: true}, nil
	}
	f := found{pointer: version}
	if len(reply) > 1 {
		payload, _ := reply[1].(string)
		if !json.Valid([]byte(payload)) {
			f.corrupt = true
			return f, nil
		}
		f.payload, f.hasPayload = []byte(payload), true
	}
	return f, nil
}

// fill runs FILL (SPEC §4.2) and, sharded, SPUBLISHes the announcement after it.
func (s *store) fill(ctx context.Context, key string, version int64, payload []byte, ttl, pointerTTL time.Duration, a announcement) (outcome, bool, error) {
	ctx, cancel := s.bounded(ctx)
	defer cancel()
	mode, channel := "advanced", a.channel
	if a.always {
		mode = "always"
	}
	if a.publish != nil {
		channel = "" // the script cannot publish on another slot's channel: the caller does
	}
	reply, err := run(ctx, s.rdb, s.scripts.fill,
		[]string{s.keys.Pointer(key), s.keys.Data(key, version)},
		s.keys.DataPrefix(key), strconv.FormatInt(version, 10), ttl.Milliseconds(), pointerTTL.Milliseconds(),
		payload, channel, a.payload, mode).Int64Slice()
	if err != nil {
		return stale, false, err
	}
	if len(reply) != 2 {
		return stale, false, fmt.Errorf("FILL answered %v", reply)
	}
	published := reply[1] == 1
	if published && a.publish != nil {
		// Fails the write attempt like a failed script: it is retried (MUST-CHAN-2).
		if err := a.publish(ctx); err != nil {
			return outcome(reply[0]), false, err
		}
	}
	return outcome(reply[0]), published, nil
}

// announce runs ANNOUNCE: the pointer forward without data, and the announcement (SPEC §12).
func (s *store) announce(ctx context.Context, key string, version int64, pointerTTL time.Duration, a announcement) (outcome, error) {
	ctx, cancel := s.bounded(ctx)
	defer cancel()
	channel := a.channel
	if a.publish != nil {
		channel = ""
	}
	reply, err := run(ctx, s.rdb, s.scripts.announce, []string{s.keys.Pointer(key)},
		s.keys.DataPrefix(key), strconv.FormatInt(version, 10), pointerTTL.Milliseconds(), channel, a.payload).Int64()
	if err != nil {
		return stale, err
	}
	if outcome(reply) != stale && a.publish != nil {
		if err := a.publish(ctx); err != nil {
			return outcome(reply), err
		}
	}
	return outcome(reply), nil
}

// takeLease takes the load lease of key for ttl as holder; false when another holds it.
func (s *store) takeLease(ctx context.Context, key, holder string, ttl time.Duration) (bool, error) {
	ctx, cancel := s.bounded(ctx)
	defer cancel()
	n, err := run(ctx, s.rdb, s.scripts.takeLease, []string{s.keys.Lease(key)}, holder, ttl.Milliseconds()).Int64()
	return n == 1, err
}

// releaseLease gives the lease back if holder still has it.
func (s *store) releaseLease(ctx context.Context, key, holder string) error {
	ctx, cancel := s.bounded(ctx)
	defer cancel()
	return run(ctx, s.rdb, s.scripts.releaseLease, []string{s.keys.Lease(key)}, holder).Err()
}

// leaseHeld reports whether anyone holds the lease of key.
func (s *store) leaseHeld(ctx context.Context, key string) (bool, error) {
	ctx, cancel := s.bounded(ctx)
	defer cancel()
	if err := s.readable(ctx); err != nil {
		return false, err
	}
	n, err := s.rdb.Exists(ctx, s.keys.Lease(key)).Result()
	return n == 1, err
}

// parseVersion reads a pointer as the Node library does (SPEC §13.2): 1-16 digits, at most
// 2^53−1; anything else is not a version this protocol could have written.
func parseVersion(raw string) (int64, bool) {
	if len(raw) == 0 || len(raw) > 16 {
		return 0, false
	}
	for i := 0; i < len(raw); i++ {
		if raw[i] < '0' || raw[i] > '9' {
			return 0, false
		}
	}
	v, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || v > maxVersion {
		return 0, false
	}
	return v, true
}

// maxVersion is the largest version the protocol carries (2^53−1).
const maxVersion = 1<<53 - 1
