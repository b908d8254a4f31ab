package store

import "testing"

// TestProblemOf: the relay announces a row of any tracked table whose key is a cache key, and sets
// aside only what no cache could announce (SPEC MUST-OUTBOX-2).
func TestProblemOf(t *testing.T) {
	for _, tc := range []struct {
		key, version string
		wantVersion  int64
		wantProblem  bool
	}{
		{"user:7", "3", 3, false},
		{"product:eu:sku%201", "1", 1, false}, // a row of a table tracked by sql/track-table.sql
		{"not a key", "1", 0, true},
		{"user:{7}", "1", 0, true},
		{"user:7", "0", 0, true},
		{"user:7", "9007199254740992", 0, true}, // 2^53
	} {
		version, problem := problemOf(outboxRow{seq: "1", key: tc.key, version: tc.version})
		if version != tc.wantVersion || (problem != "") != tc.wantProblem {
			t.Errorf("problemOf(%q, %s) = %d, %q", tc.key, tc.version, version, problem)
		}
	}
}
