package tutorial

import (
	"context"
	"slices"
	"time"
)

// #region tutorial:hit-ratio

// HitRatio is the share of reads that did not touch the database: hits / reads.
func (s *Stats) HitRatio() float64 {
	reads := s.Reads.Load()
	if reads == 0 {
		return 0
	}
	return float64(s.Hits.Load()) / float64(reads)
}

// #endregion tutorial:hit-ratio

// PassResult is one pass over a set of users: how many reads each tier answered, and the
// median time of a read.
type PassResult struct {
	Tiers  map[Tier]int
	Median time.Duration
}

// #region tutorial:pass

// Pass reads every id once through read (a cache's Get, or the database alone) and summarises
// which tier answered and the median time of a read.
func Pass(ctx context.Context, ids []string,
	read func(context.Context, string) (User, Tier, error)) (PassResult, error) {
	result := PassResult{Tiers: map[Tier]int{}}
	times := make([]time.Duration, 0, len(ids))
	for _, id := range ids {
		start := time.Now()
		_, tier, err := read(ctx, id)
		if err != nil {
			return PassResult{}, err
		}
		times = append(times, time.Since(start))
		result.Tiers[tier]++
	}
	slices.Sort(times)
	if len(times) > 0 {
		result.Median = times[(len(times)-1)/2]
	}
	return result, nil
}

// #endregion tutorial:pass

// WithoutCache reads straight from the database, for the "no cache" pass.
func WithoutCache(db *SlowDB) func(context.Context, string) (User, Tier, error) {
	return func(ctx context.Context, id string) (User, Tier, error) {
		user, found, err := db.Get(ctx, id)
		if err == nil && !found {
			err = ErrNotFound
		}
		return user, TierMiss, err
	}
}
