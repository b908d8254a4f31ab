package tutorial

import (
	"context"
	"encoding/json"
	"errors"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

// ErrNotFound means there is no such user: in the database, or cached as "not found".
var ErrNotFound = errors.New("user not found")

// #region tutorial:tiers

// Tier says who answered a read, as the X-Cache header does.
type Tier string

// The tiers: L1 (this process's memory), L2 (Redis) or MISS (the database).
const (
	TierL1   Tier = "L1"
	TierL2   Tier = "L2"
	TierMiss Tier = "MISS"
)

// #endregion tutorial:tiers

// Stats counts what the cache did; chapter 6 reads them.
type Stats struct {
	Reads, Hits, Misses, Loads, NegativeHits atomic.Int64
}

// entry is how a user is stored in Redis: the version travels with the value, and a nil D is a
// cached "not found" (the JSON of Node's cache: {"v":1,"d":{…}}).
type entry struct {
	V int64 `json:"v"`
	D *User `json:"d"`
}

func (e entry) answer(tier Tier) (User, Tier, error) {
	if e.D == nil {
		return User{}, tier, ErrNotFound
	}
	return *e.D, tier, nil
}

// UserCache is basic cache-aside: Redis as the only cache tier, in front of a SlowDB.
type UserCache struct {
	rdb     *redis.Client
	db      *SlowDB
	cfg     Config
	flights flightGroup[entry]
	// BeforeFill, when set, runs between the database read and the SET (chapter 4's race).
	BeforeFill func()
	Stats      Stats
}

// NewUserCache returns a cache of db's users in rdb.
func NewUserCache(rdb *redis.Client, db *SlowDB, cfg Config) *UserCache {
	return &UserCache{rdb: rdb, db: db, cfg: cfg}
}

// userKey is where a user's entry lives: namespace, the id in a hash tag, a suffix.
func userKey(id string) string { return "tut:{user:" + id + "}:val" }

// #region tutorial:basic-read

// Get returns a user and the tier that answered: ErrNotFound for no user.
func (c *UserCache) Get(ctx context.Context, id string) (User, Tier, error) {
	c.Stats.Reads.Add(1)
	// 1. Check the cache. Redis down, slow or holding something else is a miss, not an error.
	raw, err := c.rdb.Get(ctx, userKey(id)).Bytes()
	var cached entry
	if err == nil && json.Unmarshal(raw, &cached) == nil {
		// 2. Hit: return it.
		c.Stats.Hits.Add(1)
		if cached.D == nil {
			c.Stats.NegativeHits.Add(1)
		}
		return cached.answer(TierL2)
	}
	c.Stats.Misses.Add(1)
	// 3. Miss: load it, once per key however many reads miss together. The load must not be
	// cancelled by the first caller leaving: others may be waiting for it.
	loaded, err := c.flights.Do(id, func() (entry, error) {
		return c.load(context.WithoutCancel(ctx), id)
	})
	if err != nil {
		return User{}, TierMiss, err
	}
	return loaded.answer(TierMiss)
}

// #endregion tutorial:basic-read

// #region tutorial:basic-load

func (c *UserCache) load(ctx context.Context, id string) (entry, error) {
	c.Stats.Loads.Add(1)
	user, found, err := c.db.Get(ctx, id)
	if err != nil {
		return entry{}, err
	}
	loaded, ttl := entry{}, c.cfg.NegativeTTL // "not found" is cached too, briefly
	if found {
		loaded, ttl = entry{V: user.Version, D: &user}, c.cfg.TTL
	}
	if c.BeforeFill != nil {
		c.BeforeFill()
	}
	// 4. Store it with a TTL. A failed SET only costs a later miss: what was loaded is the answer.
	raw, _ := json.Marshal(loaded)
	_ = c.rdb.Set(ctx, userKey(id), raw, ttl).Err()
	// 5. Return it.
	return loaded, nil
}

// #endregion tutorial:basic-load
