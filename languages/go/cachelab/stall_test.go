package cachelab

import (
	"testing"
	"time"
)

// The process stalled (its tick is long overdue, as after SIGSTOP or a long pause): L1 is not
// served until a heartbeat sent after the stall comes back, and it is not flushed (SHOULD-TRUST-7).
func TestAStallSuspendsL1WithoutFlushingIt(t *testing.T) {
	f := newFixture(t, nil)
	b := f.cache("b")
	mustGet(t, b, "k", &source{value: u("v1"), version: 1})
	if _, ok := b.Peek("k"); !ok {
		t.Fatal("no L1 entry to begin with")
	}
	flushes := b.Stats().L1Flushes
	// The tick last ran 10 s ago, as it would have for a process stopped that long.
	b.bus.lastTick.Store(int64(time.Since(b.bus.start) - 10*time.Second))
	if _, ok := b.Peek("k"); ok {
		t.Fatal("L1 served right after a stall")
	}
	if s := b.Stats(); s.Stalls != 1 {
		t.Fatalf("stalls %d, want 1", s.Stalls)
	}
	waitFor(t, "a heartbeat sent after the stall to come back", func() bool { _, ok := b.Peek("k"); return ok })
	if s := b.Stats(); s.L1Flushes != flushes || s.L1Size != 1 {
		t.Fatalf("the stall flushed L1: %+v", s)
	}
}
