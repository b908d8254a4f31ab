// Package cachelab is the Go implementation of the cachelab coherence protocol
// (protocol/SPEC.md): a two-tier cache-aside cache with an in-process L1 in front of versioned
// Redis entries, kept coherent across processes — of any language that implements the protocol —
// by announcements on Redis Pub/Sub.
//
// The read path is L1 (trusted, not below the key's high-water mark) → one READ script for
// pointer and data → a single-flight load from the source of truth, which fills Redis (the
// pointer only moves forward) and, if still valid, L1. The write path, called after the database
// commit, fills Redis, announces the new version and updates the writer's own L1. Every call
// that can block takes a context.Context; Redis failing never fails a read or a write.
//
// L1 is served only while every announcement is known to arrive: an own heartbeat comes back
// on every channel, no sender's channel sequence number (cseq, sharded Pub/Sub) skipped one, and,
// on a single Redis, its run was checked against the namespace's fence after any drop, so that a
// Redis restored from an older snapshot is emptied of the namespace before it is read.
//
//	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
//	cache, err := cachelab.New[User](cachelab.Options{Redis: rdb, Namespace: "cl", Origin: "api-1"})
//	…
//	read, err := cache.Get(ctx, "user:42", loadUser)
package cachelab
