// Package tutorial holds the programs of the Go version of the cachelab tutorial
// (docs/tutorial/go): a slow data source, basic cache-aside over go-redis, invalidation with
// versioned keys and Pub/Sub, TTLs and eviction, and the counters that monitor it all. Every
// snippet of the chapters is a marked region of these files, and the tests run each of them
// against a real redis-server.
package tutorial
