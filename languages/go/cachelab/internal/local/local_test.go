package local

import (
	"strconv"
	"testing"
	"time"
)

func ptr(s string) *string { return &s }

func TestL1(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name string
		run  func(l *L1[string]) (got, want any)
	}{
		{"serves a live entry", func(l *L1[string]) (any, any) {
			l.Set("k", ptr("a"), 1, now)
			e, ok := l.Get("k", now.Add(time.Second))
			return ok && *e.Value == "a" && e.Version == 1, true
		}},
		{"expires after its TTL", func(l *L1[string]) (any, any) {
			l.Set("k", ptr("a"), 1, now)
			_, ok := l.Get("k", now.Add(time.Minute))
			return ok, false
		}},
		{"keeps a newer version", func(l *L1[string]) (any, any) {
			l.Set("k", ptr("new"), 5, now)
			l.Set("k", ptr("old"), 4, now)
			e, _ := l.Get("k", now)
			return e.Version, int64(5)
		}},
		{"drops older than an announced version", func(l *L1[string]) (any, any) {
			l.Set("k", ptr("a"), 3, now)
			l.DropOlderThan("k", 3)
			l.DropOlderThan("k", 4)
			_, ok := l.Get("k", now)
			return ok, false
		}},
		{"caches not-found as nil", func(l *L1[string]) (any, any) {
			l.Set("k", nil, 0, now)
			e, ok := l.Get("k", now)
			return ok && e.Value == nil, true
		}},
		{"a used entry survives a flood", func(l *L1[string]) (any, any) {
			l.Set("hot", ptr("h"), 1, now)
			for i := range 100 {
				l.Get("hot", now)
				l.Set(strconv.Itoa(i), ptr("x"), 1, now)
			}
			_, ok := l.Get("hot", now)
			return ok && l.Len() == 3, true
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, want := tt.run(NewL1[string](3, 30*time.Second, 0.1))
			if got != want {
				t.Fatalf("got %v, want %v", got, want)
			}
		})
	}
}

func TestL1OfSizeZeroHoldsNothing(t *testing.T) {
	l := NewL1[string](0, time.Second, 0)
	l.Set("k", ptr("a"), 1, time.Now())
	if l.Len() != 0 {
		t.Fatal("an L1 of size 0 held an entry")
	}
}

func TestMarks(t *testing.T) {
	m := NewMarks(2)
	steps := []struct {
		key     string
		version int64
		rose    bool
		evicted int64
	}{
		{"a", 5, true, 0},
		{"a", 5, false, 0}, // a duplicate changes nothing
		{"a", 3, false, 0}, // nor does a reordered older one
		{"b", 1, true, 0},
		{"c", 1, true, 1}, // the bound: a, raised least recently, goes
	}
	for _, s := range steps {
		if rose := m.Raise(s.key, s.version); rose != s.rose || m.Evictions() != s.evicted {
			t.Fatalf("Raise(%s, %d) = %v with %d evictions; want %v, %d", s.key, s.version, rose, m.Evictions(), s.rose, s.evicted)
		}
	}
	if m.Get("a") != 0 || m.Get("b") != 1 || m.Get("c") != 1 || m.Len() != 2 {
		t.Fatalf("marks a=%d b=%d c=%d len=%d", m.Get("a"), m.Get("b"), m.Get("c"), m.Len())
	}
}
