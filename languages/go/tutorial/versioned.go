package tutorial

import (
	"context"
	"encoding/json"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// The versioned keys of a user: a pointer to the current version, and one data entry per version.
func pointerKey(id string) string             { return "tut:{user:" + id + "}:ver" }
func dataPrefix(id string) string             { return "tut:{user:" + id + "}:v:" }
func dataKey(id string, version int64) string { return dataPrefix(id) + strconv.FormatInt(version, 10) }

// invalidationChannel carries announcements: {type, key, version, origin, seq, ts}.
const invalidationChannel = "tut:invalidations"

// #region tutorial:read-script

// readScript returns the pointer and the data entry it points to, in one round trip:
// nil (no pointer), {version} (no data) or {version, payload}.
var readScript = redis.NewScript(`
local version = redis.call('GET', KEYS[1])
if not version then return nil end
local payload = redis.call('GET', ARGV[1] .. version)
if not payload then return {version} end
return {version, payload}
`)

// #endregion tutorial:read-script

// #region tutorial:fill-script

// fillScript stores the data entry of a version and moves the pointer only forward. Versions
// are compared as decimal strings (longer is greater), so versions past 2^53 compare right.
// Returns 1 (moved), 0 (already current) or -1 (stale: a newer version is current).
var fillScript = redis.NewScript(`
local function gt(a, b) return #a > #b or (#a == #b and a > b) end
local current = redis.call('GET', KEYS[1])
if current and not gt(ARGV[2], current) then
  if current ~= ARGV[2] then return -1 end
  redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[4])
  return 0
end
redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[4])
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[5])
if current then redis.call('DEL', ARGV[1] .. current) end
return 1
`)

// #endregion tutorial:fill-script

// l1Entry is a user in this process's memory, until expires.
type l1Entry struct {
	entry
	expires time.Time
}

// VersionedCache is cache-aside with an in-process L1 in front of versioned Redis entries, kept
// coherent across processes by announcements on Pub/Sub.
type VersionedCache struct {
	rdb     *redis.Client
	db      *SlowDB
	cfg     Config
	origin  string
	l1TTL   time.Duration
	l1Max   int
	flights flightGroup[entry]
	seq     atomic.Int64
	trusted atomic.Bool

	mu    sync.Mutex
	l1    map[string]l1Entry
	marks map[string]int64 // high-water marks: the highest version announced per id

	// BeforeFill, when set, runs between the database read and the fill (chapter 4's race).
	BeforeFill func()
	Stats      Stats
	Flushes    atomic.Int64 // L1 flushed because the subscription (re)started
}

// NewVersionedCache returns a cache named origin; it serves from L1 only once Listen runs.
func NewVersionedCache(rdb *redis.Client, db *SlowDB, cfg Config, origin string) *VersionedCache {
	return &VersionedCache{rdb: rdb, db: db, cfg: cfg, origin: origin,
		l1TTL: 30 * time.Second, l1Max: 10_000,
		l1: map[string]l1Entry{}, marks: map[string]int64{}}
}

// #region tutorial:versioned-read

// Get reads L1 (if trusted and not below the id's high-water mark), then pointer and data from
// Redis in one round trip, then the database, once per id however many reads miss together.
func (c *VersionedCache) Get(ctx context.Context, id string) (User, Tier, error) {
	c.Stats.Reads.Add(1)
	if local, ok := c.fromL1(id); ok {
		c.Stats.Hits.Add(1)
		return local.answer(TierL1)
	}
	if remote, ok := c.fromRedis(ctx, id); ok {
		c.Stats.Hits.Add(1)
		c.fillL1(id, remote)
		return remote.answer(TierL2)
	}
	c.Stats.Misses.Add(1)
	loaded, err := c.flights.Do(id, func() (entry, error) {
		return c.load(context.WithoutCancel(ctx), id)
	})
	if err != nil {
		return User{}, TierMiss, err
	}
	return loaded.answer(TierMiss)
}

// #endregion tutorial:versioned-read

func (c *VersionedCache) fromRedis(ctx context.Context, id string) (entry, bool) {
	reply, err := readScript.Run(ctx, c.rdb, []string{pointerKey(id)}, dataPrefix(id)).StringSlice()
	if err != nil || len(reply) != 2 {
		return entry{}, false // no pointer, no data, or Redis failed: a miss
	}
	version, err := strconv.ParseInt(reply[0], 10, 64)
	var user *User
	if err != nil || json.Unmarshal([]byte(reply[1]), &user) != nil {
		return entry{}, false
	}
	found := entry{V: version, D: user}
	// Below an announced version: Redis is behind what this process heard of.
	return found, found.V >= c.mark(id)
}

// #region tutorial:versioned-load

func (c *VersionedCache) load(ctx context.Context, id string) (entry, error) {
	c.Stats.Loads.Add(1)
	user, found, err := c.db.Get(ctx, id)
	if err != nil {
		return entry{}, err
	}
	loaded := entry{}
	if found {
		loaded = entry{V: user.Version, D: &user}
	}
	if c.BeforeFill != nil {
		c.BeforeFill()
	}
	// A late reader's fill cannot move the pointer back: the script refuses it (-1).
	if c.fill(ctx, id, loaded) >= 0 {
		c.fillL1(id, loaded)
	}
	return loaded, nil
}

// #endregion tutorial:versioned-load

// fill runs fillScript: 1 moved, 0 current, -1 stale (and -1 when Redis failed: keep out of L1).
func (c *VersionedCache) fill(ctx context.Context, id string, e entry) int64 {
	ttl := c.cfg.TTL
	if e.D == nil {
		ttl = c.cfg.NegativeTTL
	}
	payload, _ := json.Marshal(e.D)
	pointerTTL := 2 * max(c.cfg.TTL, c.cfg.NegativeTTL) // the pointer outlives its data
	outcome, err := fillScript.Run(ctx, c.rdb, []string{pointerKey(id), dataKey(id, e.V)},
		dataPrefix(id), e.V, payload, ttl.Milliseconds(), pointerTTL.Milliseconds()).Int64()
	if err != nil {
		return -1
	}
	return outcome
}

func (c *VersionedCache) fromL1(id string) (entry, bool) {
	if !c.trusted.Load() {
		return entry{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	local, ok := c.l1[id]
	if !ok || time.Now().After(local.expires) || local.V < c.marks[id] {
		return entry{}, false
	}
	return local.entry, true
}

// #region tutorial:fill-l1

// fillL1 keeps e in memory unless a newer version of id was announced meanwhile, or this
// process cannot hear announcements right now.
func (c *VersionedCache) fillL1(id string, e entry) {
	if !c.trusted.Load() {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e.V < c.marks[id] {
		return
	}
	if _, ok := c.l1[id]; !ok && len(c.l1) >= c.l1Max {
		for victim := range c.l1 { // bounded: drop any one entry
			delete(c.l1, victim)
			break
		}
	}
	// Never longer than Redis keeps it: a "not found" goes after NEGATIVE_TTL_MS here too, so
	// that a create whose announcement was lost is not hidden for the whole L1 TTL.
	ttl := min(c.l1TTL, c.cfg.TTL)
	if e.D == nil {
		ttl = min(c.l1TTL, c.cfg.NegativeTTL)
	}
	c.l1[id] = l1Entry{entry: e, expires: time.Now().Add(ttl)}
}

// #endregion tutorial:fill-l1

func (c *VersionedCache) mark(id string) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.marks[id]
}

// L1Len is how many users this process holds in memory.
func (c *VersionedCache) L1Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.l1)
}
