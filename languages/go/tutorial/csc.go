package tutorial

import (
	"time"

	"github.com/redis/go-redis/v9"
)

// #region tutorial:client-side-caching

// NewCachingClient returns a go-redis client with its own client-side cache: Redis tracks the
// keys this client read (CLIENT TRACKING) and pushes an invalidation when one changes, and
// go-redis then drops its copy. It needs RESP3, for the pushes. (Experimental in go-redis 9.24.)
func NewCachingClient(addr string) *redis.Client {
	return redis.NewClient(&redis.Options{
		Addr:     addr,
		Protocol: 3,
		ClientSideCacheConfig: &redis.ClientSideCacheConfig{
			MaxEntries:   10_000,
			MaxStaleness: 30 * time.Second, // the TTL of a local copy, should an invalidation be lost
		},
	})
}

// #endregion tutorial:client-side-caching
