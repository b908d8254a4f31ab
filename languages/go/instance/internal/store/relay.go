package store

import (
	"context"
	"regexp"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/cachelab/cachelab/languages/go/cachelab/keys"
	"github.com/jackc/pgx/v5"
)

// The statements of packages/store/src/outbox-relay.ts (SPEC §12, MUST-OUTBOX-2).
const (
	claimBatch = `
UPDATE cache_outbox SET claimed_until = clock_timestamp() + $2 * interval '1 millisecond'
WHERE seq IN (
  SELECT seq FROM cache_outbox
  WHERE claimed_until IS NULL OR claimed_until < clock_timestamp()
  ORDER BY seq LIMIT $1
  FOR UPDATE SKIP LOCKED)
RETURNING seq::text, key, version::text`
	deleteRelayed = `DELETE FROM cache_outbox WHERE seq = ANY($1::bigint[])`
	releaseClaim  = `UPDATE cache_outbox SET claimed_until = NULL WHERE seq = ANY($1::bigint[])`
	setAside      = `
WITH moved AS (DELETE FROM cache_outbox WHERE seq = $1 RETURNING seq, key, version, created_at)
INSERT INTO cache_outbox_dead (seq, key, version, created_at, reason)
SELECT seq, key, version, created_at, $2 FROM moved ON CONFLICT (seq) DO NOTHING`
)

var positiveVersion = regexp.MustCompile(`^[1-9]\d{0,15}$`)

// Announcer announces a version committed elsewhere (cachelab.Cache.Announce).
type Announcer func(ctx context.Context, key string, version int64) error

// RelayStats are the relay's counters (/stats → outbox).
type RelayStats struct {
	Relayed       int64 `json:"relayed"`
	Batches       int64 `json:"batches"`
	SetAside      int64 `json:"setAside"`
	Failures      int64 `json:"failures"`
	Notifications int64 `json:"notifications"`
}

// Relay announces the rows of the outbox: writes that bypassed the instances, and writes whose
// instance died between its commit and its announcement.
type Relay struct {
	users                      *Users
	announce                   Announcer
	poll, lease                time.Duration
	batch                      int
	relayed, batches, setAside atomic.Int64
	failures                   atomic.Int64
	// OnError, when set, hears about failed batches.
	OnError func(error)
}

// NewRelay returns a relay of batch rows every poll, each batch claimed for lease.
func NewRelay(users *Users, announce Announcer, poll, lease time.Duration, batch int) *Relay {
	return &Relay{users: users, announce: announce, poll: poll, lease: lease, batch: batch}
}

// Run relays until ctx ends: every poll, batches until the outbox is empty.
func (r *Relay) Run(ctx context.Context) {
	ticker := time.NewTicker(r.poll)
	defer ticker.Stop()
	for {
		if err := r.Drain(ctx); err != nil {
			r.failures.Add(1)
			if r.OnError != nil && ctx.Err() == nil {
				r.OnError(err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// Drain relays batches until the outbox has no unclaimed row left.
func (r *Relay) Drain(ctx context.Context) error {
	for {
		more, err := r.relayBatch(ctx)
		if err != nil || !more {
			return err
		}
	}
}

// Stats returns the counters.
func (r *Relay) Stats() RelayStats {
	return RelayStats{Relayed: r.relayed.Load(), Batches: r.batches.Load(), SetAside: r.setAside.Load(),
		Failures: r.failures.Load()}
}

type outboxRow struct{ seq, key, version string }

// relayBatch claims a batch, sets aside what no cache may announce, announces the rest and
// deletes it only once announced (a failure releases the claim). It reports whether the batch
// was full (more may wait).
func (r *Relay) relayBatch(ctx context.Context) (bool, error) {
	rows, err := r.users.pool.Query(ctx, claimBatch, r.batch, r.lease.Milliseconds())
	if err != nil {
		return false, err
	}
	claimed, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (outboxRow, error) {
		var o outboxRow
		return o, row.Scan(&o.seq, &o.key, &o.version)
	})
	if err != nil || len(claimed) == 0 {
		return false, err
	}
	var seqs []int64
	for _, row := range claimed {
		version, reason := problemOf(row)
		if reason != "" {
			if _, err := r.users.pool.Exec(ctx, setAside, row.seq, reason); err != nil {
				return false, err
			}
			r.setAside.Add(1)
			continue
		}
		seq, _ := strconv.ParseInt(row.seq, 10, 64)
		if err := r.announce(ctx, row.key, version); err != nil {
			_, _ = r.users.pool.Exec(context.WithoutCancel(ctx), releaseClaim, append(seqs, seq))
			return false, err
		}
		seqs = append(seqs, seq)
	}
	if len(seqs) > 0 {
		if _, err := r.users.pool.Exec(ctx, deleteRelayed, seqs); err != nil {
			return false, err
		}
		r.relayed.Add(int64(len(seqs)))
		r.batches.Add(1)
	}
	return len(claimed) == r.batch, nil
}

func problemOf(row outboxRow) (int64, string) {
	version, err := strconv.ParseInt(row.version, 10, 64)
	if !positiveVersion.MatchString(row.version) || err != nil || version > 1<<53-1 {
		return 0, "version is not a positive safe integer"
	}
	// Every row of the database's outbox, of whichever table: the namespace belongs to the
	// database (SPEC MUST-OUTBOX-2).
	if !keys.Valid(row.key) {
		return 0, "key outside the key scheme"
	}
	return version, ""
}
