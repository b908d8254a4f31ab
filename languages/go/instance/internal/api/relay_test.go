package api

import (
	"context"
	"time"

	"github.com/cachelab/cachelab/languages/go/instance/internal/store"
)

// storeRelay returns a function that runs one relay pass for in (a poll of the outbox).
func storeRelay(in *instance) func() {
	relay := store.NewRelay(in.users, in.cache.Announce, time.Hour, 5*time.Second, 500)
	return func() {
		if err := relay.Drain(context.Background()); err != nil {
			in.t.Error(err)
		}
	}
}
