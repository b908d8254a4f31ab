// Package local holds the in-process parts of an instance: the L1 store and the high-water
// marks, both bounded (MUST-L1-1). Neither is safe for concurrent use: the cache guards them.
package local

import (
	"container/list"
	"math/rand/v2"
	"time"
)

// Entry is an L1 entry: a decoded value (nil: "not found") and its version.
type Entry[V any] struct {
	Value    *V
	Version  int64
	Expires  time.Time
	StoredAt time.Time
	used     bool // set on a hit; eviction gives such entries a second chance (CLOCK)
}

// L1 is a map of entries, each with a TTL, of at most max entries. When full, the oldest entry
// not used since the last sweep goes, so a hot set survives a flood of one-off keys.
type L1[V any] struct {
	max       int
	ttl       time.Duration
	jitter    float64
	entries   map[string]*list.Element
	order     *list.List // of *item, oldest first
	evictions int64
}

type item[V any] struct {
	key   string
	entry Entry[V]
}

// NewL1 returns an L1 of at most max entries living ttl, each shortened by a random part of up
// to jitter of it. With max 0 it holds nothing.
func NewL1[V any](max int, ttl time.Duration, jitter float64) *L1[V] {
	return &L1[V]{max: max, ttl: ttl, jitter: jitter, entries: map[string]*list.Element{}, order: list.New()}
}

// Get returns the live entry of key at now.
func (l *L1[V]) Get(key string, now time.Time) (Entry[V], bool) {
	el, ok := l.entries[key]
	if !ok {
		return Entry[V]{}, false
	}
	it := el.Value.(*item[V])
	if !now.Before(it.entry.Expires) {
		l.remove(el)
		return Entry[V]{}, false
	}
	it.entry.used = true
	return it.entry, true
}

// Set stores value at version unless a newer version is held; evicts one entry when full.
func (l *L1[V]) Set(key string, value *V, version int64, now time.Time) {
	if l.max == 0 {
		return
	}
	if el, ok := l.entries[key]; ok {
		it := el.Value.(*item[V])
		if it.entry.Version > version {
			return
		}
		it.entry = l.entry(value, version, now)
		return
	}
	if len(l.entries) >= l.max {
		l.evictOne()
	}
	l.entries[key] = l.order.PushBack(&item[V]{key: key, entry: l.entry(value, version, now)})
}

func (l *L1[V]) entry(value *V, version int64, now time.Time) Entry[V] {
	ttl := l.ttl - time.Duration(rand.Float64()*l.jitter*float64(l.ttl))
	return Entry[V]{Value: value, Version: version, Expires: now.Add(ttl), StoredAt: now}
}

func (l *L1[V]) evictOne() {
	// Bounded: after one full pass every entry has had its used bit cleared.
	for range l.order.Len() + 1 {
		front := l.order.Front()
		if front == nil {
			return
		}
		it := front.Value.(*item[V])
		if !it.entry.used {
			l.remove(front)
			l.evictions++
			return
		}
		it.entry.used = false
		l.order.MoveToBack(front)
	}
}

func (l *L1[V]) remove(el *list.Element) {
	delete(l.entries, el.Value.(*item[V]).key)
	l.order.Remove(el)
}

// DropOlderThan drops the entry of key when its version is below version.
func (l *L1[V]) DropOlderThan(key string, version int64) {
	if el, ok := l.entries[key]; ok && el.Value.(*item[V]).entry.Version < version {
		l.remove(el)
	}
}

// Clear drops every entry.
func (l *L1[V]) Clear() {
	clear(l.entries)
	l.order.Init()
}

// Len is the number of entries held (expired ones not yet dropped included).
func (l *L1[V]) Len() int { return len(l.entries) }

// Evictions counts entries evicted to respect the size bound.
func (l *L1[V]) Evictions() int64 { return l.evictions }
