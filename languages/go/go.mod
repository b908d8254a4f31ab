module github.com/cachelab/cachelab/languages/go

go 1.26.0

require (
	github.com/redis/go-redis/v9 v9.24.0
	golang.org/x/sync v0.25.0
)

require (
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	go.uber.org/atomic v1.12.0 // indirect
	golang.org/x/sys v0.50.0 // indirect
)
