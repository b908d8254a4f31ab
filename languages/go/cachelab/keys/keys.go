// Package keys builds every Redis key and channel name of the cachelab protocol (SPEC §2): the
// pointer, data entries and lease of a cache key, the global channel and the 16 sharded
// channels. No other package builds a Redis key string.
package keys

import (
	"errors"
	"regexp"
	"strconv"
	"unicode/utf8"
)

// MaxKeyLength is the longest cache key, in UTF-16 code units (MUST-KEY-2).
const MaxKeyLength = 512

// ChannelShards is the number of sharded Pub/Sub channels per namespace (MUST-KEY-5).
const ChannelShards = 16

// Slots is the number of Redis Cluster slots.
const Slots = 16384

// ErrInvalidKey is the error of a cache key that is not 1-512 UTF-16 code units without braces,
// whitespace, control characters or unpaired surrogates.
var ErrInvalidKey = errors.New("cachelab: invalid cache key: keys are 1-512 characters without braces, spaces, control characters or unpaired surrogates")

// ErrInvalidNamespace is the error of a namespace that is not 1-32 characters of [A-Za-z0-9_.-].
var ErrInvalidNamespace = errors.New("cachelab: namespace must be 1-32 characters of [A-Za-z0-9_.-]")

var namespacePattern = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,32}$`)

// ValidNamespace reports whether ns can prefix the keys and channels of a cache (MUST-KEY-1).
func ValidNamespace(ns string) bool { return namespacePattern.MatchString(ns) }

// Builder builds the Redis names of one namespace. Its zero value is not usable: call New.
type Builder struct {
	ns     string
	shards [ChannelShards]string
}

// New returns the builder of namespace ns, or ErrInvalidNamespace.
func New(ns string) (*Builder, error) {
	if !ValidNamespace(ns) {
		return nil, ErrInvalidNamespace
	}
	b := &Builder{ns: ns}
	for shard := range ChannelShards {
		b.shards[shard] = ns + ":inv:{" + shardTag(shard) + "}"
	}
	return b, nil
}

// Namespace is the builder's namespace.
func (b *Builder) Namespace() string { return b.ns }

func (b *Builder) tag(key string) string { return b.ns + ":{" + key + "}" }

// Pointer is the version pointer of key, e.g. cl:{user:42}:ver.
func (b *Builder) Pointer(key string) string { return b.tag(key) + ":ver" }

// DataPrefix is the prefix of key's data entries, e.g. cl:{user:42}:v:.
func (b *Builder) DataPrefix(key string) string { return b.tag(key) + ":v:" }

// Data is the data entry of one version of key, e.g. cl:{user:42}:v:7.
func (b *Builder) Data(key string, version int64) string {
	return b.DataPrefix(key) + strconv.FormatInt(version, 10)
}

// Lease is the load lease of key, e.g. cl:{user:42}:lease.
func (b *Builder) Lease(key string) string { return b.tag(key) + ":lease" }

// Channel is the global invalidation channel, e.g. cl:invalidations. Signatures cover it, on
// whichever channel a message travels.
func (b *Builder) Channel() string { return b.ns + ":invalidations" }

// ShardChannels are the 16 sharded channels, in shard order, e.g. cl:inv:{s15-21}.
func (b *Builder) ShardChannels() []string { return b.shards[:] }

// ShardChannel is the sharded channel that announces key.
func (b *Builder) ShardChannel(key string) string { return b.shards[ShardOfSlot(Slot(key))] }

// Pattern matches every Redis key of the namespace in SCAN … MATCH, e.g. cl:{*.
func (b *Builder) Pattern() string { return b.ns + ":{*" }

// Fence is the namespace's record of the Redis run it was last checked on, e.g. cl:fence
// (outside Pattern, so that deleting the namespace keeps it): another run's means Redis
// restarted, perhaps from an older snapshot (MUST-FENCE-1).
func (b *Builder) Fence() string { return b.ns + ":fence" }

// ShardOfSlot is the shard (0-15) whose channel announces the keys of slot.
func ShardOfSlot(slot int) int { return slot * ChannelShards / Slots }

// shardTag is the first tag s<shard>-<n> whose slot lies in shard's range.
func shardTag(shard int) string {
	for n := 0; ; n++ {
		tag := "s" + strconv.Itoa(shard) + "-" + strconv.Itoa(n)
		if ShardOfSlot(Slot(tag)) == shard {
			return tag
		}
	}
}

// Valid reports whether key can be used as a cache key (MUST-KEY-2).
func Valid(key string) bool {
	if key == "" || !utf8.ValidString(key) {
		return false // invalid UTF-8 is how an unpaired surrogate reaches Go
	}
	units := 0
	for _, r := range key {
		if r > 0xFFFF {
			units += 2
		} else {
			units++
		}
		if units > MaxKeyLength || forbidden(r) {
			return false
		}
	}
	return true
}

// Check returns nil for a valid cache key, else ErrInvalidKey.
func Check(key string) error {
	if Valid(key) {
		return nil
	}
	return ErrInvalidKey
}

// forbidden: braces, the whitespace of JavaScript's \s, control characters (SPEC §2.2).
func forbidden(r rune) bool {
	switch {
	case r == '{' || r == '}':
		return true
	case r <= 0x20 || (r >= 0x7F && r <= 0x9F):
		return true // controls and the space (U+0009-U+000D are controls too)
	case r == 0xA0 || r == 0x1680 || (r >= 0x2000 && r <= 0x200A) || r == 0x2028 ||
		r == 0x2029 || r == 0x202F || r == 0x205F || r == 0x3000 || r == 0xFEFF:
		return true
	}
	return false
}

// UTF16Len is the length of s in UTF-16 code units, as JavaScript counts a string.
func UTF16Len(s string) int {
	n := 0
	for _, r := range s {
		if r > 0xFFFF {
			n += 2
		} else {
			n++
		}
	}
	return n
}
