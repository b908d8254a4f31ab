package cachelab

import (
	"strconv"
	"testing"
)

// TestCseqVectors runs protocol/vectors/cseq.json: for each message heard on one channel,
// whether it shows a lost one (MUST-TRUST-8).
func TestCseqVectors(t *testing.T) {
	var v struct {
		Sequences []struct {
			ID    string
			Input struct {
				Messages []struct {
					Origin string
					Cseq   int64
				}
			}
			Expected struct{ Gaps []bool }
		}
	}
	readVectors(t, "cseq.json", &v)
	if len(v.Sequences) == 0 {
		t.Fatal("no sequences in cseq.json")
	}
	for _, c := range v.Sequences {
		t.Run(c.ID, func(t *testing.T) {
			s := newSenderSequences(maxOriginsPerChannel)
			for i, m := range c.Input.Messages {
				if gap := !s.follows(m.Origin, m.Cseq); gap != c.Expected.Gaps[i] {
					t.Fatalf("message %d (%s, cseq %d): gap %v, want %v", i, m.Origin, m.Cseq, gap, c.Expected.Gaps[i])
				}
			}
		})
	}
}

func TestSenderSequences(t *testing.T) {
	tests := []struct {
		name string
		seqs []int64
		want []bool
	}{
		{"counted from 0", []int64{0, 1, 2, 3}, []bool{true, true, true, true}},
		{"first heard above 0 is a gap", []int64{5, 6}, []bool{false, true}},
		{"a skipped number", []int64{0, 1, 3, 4}, []bool{true, true, false, true}},
		{"a resend and an older one are no gap", []int64{0, 1, 2, 2, 1, 3}, []bool{true, true, true, true, true, true}},
		{"0 after higher is a restart", []int64{0, 1, 2, 0, 1, 2}, []bool{true, true, true, true, true, true}},
		{"a restart then a gap", []int64{0, 5, 0, 2}, []bool{true, false, true, false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSenderSequences(maxOriginsPerChannel)
			for i, cseq := range tt.seqs {
				if got := s.follows("a", cseq); got != tt.want[i] {
					t.Fatalf("cseq %d (#%d): in sequence %v, want %v", cseq, i, got, tt.want[i])
				}
			}
		})
	}
}

func TestSenderSequencesForgetTheLeastRecentlyHeard(t *testing.T) {
	s := newSenderSequences(3)
	for _, origin := range []string{"a", "b", "c"} {
		s.follows(origin, 0)
	}
	s.follows("a", 1) // a is now the most recently heard: b goes first
	s.follows("d", 0)
	if s.len() != 3 {
		t.Fatalf("%d senders remembered, want 3", s.len())
	}
	if !s.follows("a", 2) {
		t.Fatal("a was forgotten, though heard more recently than b")
	}
	if s.follows("b", 1) {
		t.Fatal("b, forgotten, was heard at 1 without a gap")
	}
	// A flood of origins never grows the table.
	for i := range 100 {
		s.follows("flood-"+strconv.Itoa(i), 0)
	}
	if s.len() != 3 {
		t.Fatalf("%d senders remembered after a flood, want 3", s.len())
	}
}
