package tutorial

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// announcement is what a write publishes: a key and its new version, never the value.
type announcement struct {
	Type    string  `json:"type"`
	Key     string  `json:"key"`
	Version int64   `json:"version"`
	Origin  string  `json:"origin"`
	Seq     int64   `json:"seq"`
	TS      float64 `json:"ts"`
}

// #region tutorial:versioned-write

// Put writes the database first, then moves Redis forward, updates this process's own L1
// (read-your-writes) and announces the new version to every other process.
func (c *VersionedCache) Put(ctx context.Context, id, name, email string, age int) (User, error) {
	user, err := c.db.Put(ctx, id, name, email, age)
	if err != nil {
		return User{}, err
	}
	written := entry{V: user.Version, D: &user}
	c.raise(id, written.V) // first: an older read in flight here can no longer fill L1
	if c.fill(ctx, id, written) >= 0 {
		c.fillL1(id, written)
	}
	msg, _ := json.Marshal(announcement{Type: "inv", Key: "user:" + id, Version: written.V,
		Origin: c.origin, Seq: c.seq.Add(1), TS: float64(time.Now().UnixMicro()) / 1000})
	return user, c.rdb.Publish(ctx, invalidationChannel, msg).Err()
}

// #endregion tutorial:versioned-write

// #region tutorial:subscribe

// Listen receives announcements until ctx ends; run it in its own goroutine. L1 is trusted only
// while the subscription is confirmed, and flushed each time it is (re)confirmed: messages sent
// while it was down are lost for good.
func (c *VersionedCache) Listen(ctx context.Context) error {
	sub := c.rdb.Subscribe(ctx, invalidationChannel)
	defer func() { _ = sub.Close() }()
	defer c.trusted.Store(false)
	// The confirmation first: from here on, no announcement is missed.
	if _, err := sub.Receive(ctx); err != nil {
		return err
	}
	c.flushAndTrust()
	// go-redis reconnects and resubscribes by itself after a dropped connection; with
	// subscriptions in the channel, each resubscription is seen and L1 is flushed again.
	messages := sub.ChannelWithSubscriptions()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case m, ok := <-messages:
			if !ok {
				return errors.New("subscription closed")
			}
			switch m := m.(type) {
			case *redis.Subscription:
				c.flushAndTrust()
			case *redis.Message:
				c.onAnnouncement(m.Payload)
			}
		}
	}
}

// #endregion tutorial:subscribe

// #region tutorial:receiver

// onAnnouncement raises the id's high-water mark and drops an older L1 entry. Max is idempotent
// and commutative: duplicated and reordered messages change nothing.
func (c *VersionedCache) onAnnouncement(payload string) {
	var a announcement
	if json.Unmarshal([]byte(payload), &a) != nil || a.Type != "inv" || a.Origin == c.origin {
		return // not an announcement, or our own
	}
	id, ok := strings.CutPrefix(a.Key, "user:")
	if ok {
		c.raise(id, a.Version)
	}
}

func (c *VersionedCache) raise(id string, version int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if version > c.marks[id] {
		c.marks[id] = version
	}
	if local, ok := c.l1[id]; ok && local.V < version {
		delete(c.l1, id)
	}
}

// #endregion tutorial:receiver

func (c *VersionedCache) flushAndTrust() {
	c.mu.Lock()
	clear(c.l1)
	clear(c.marks)
	c.mu.Unlock()
	c.Flushes.Add(1)
	c.trusted.Store(true)
}

// Trusted reports whether L1 may serve: the subscription is confirmed.
func (c *VersionedCache) Trusted() bool { return c.trusted.Load() }
