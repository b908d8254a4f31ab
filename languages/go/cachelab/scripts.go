package cachelab

import (
	"context"
	_ "embed" // the protocol's Lua scripts, byte for byte
	"errors"
	"strings"

	"github.com/redis/go-redis/v9"
)

//go:generate go run ../internal/copyprotocol ../../../protocol .

// The scripts of SPEC §4.2, copied from protocol/scripts by go generate. Run byte for byte, so
// that their SHA1 is the same for every implementation (MUST-SCRIPT-1).
var (
	//go:embed scripts/read.lua
	readLua string
	//go:embed scripts/fill.lua
	fillLua string
	//go:embed scripts/announce.lua
	announceLua string
	//go:embed scripts/announce-many.lua
	announceManyLua string
	//go:embed scripts/take-lease.lua
	takeLeaseLua string
	//go:embed scripts/release-lease.lua
	releaseLeaseLua string
)

// scripts are the protocol's scripts as go-redis Scripts (each knows its SHA1).
type scripts struct {
	read, fill, announce, announceMany, takeLease, releaseLease *redis.Script
}

func newScripts() *scripts {
	return &scripts{
		read:         redis.NewScript(readLua),
		fill:         redis.NewScript(fillLua),
		announce:     redis.NewScript(announceLua),
		announceMany: redis.NewScript(announceManyLua),
		takeLease:    redis.NewScript(takeLeaseLua),
		releaseLease: redis.NewScript(releaseLeaseLua),
	}
}

// run sends EVALSHA, and on NOSCRIPT (first use, a restarted Redis, SCRIPT FLUSH) the same call
// with the script's text (MUST-SCRIPT-1). go-redis's Script.Run does the same; this is it,
// spelled out, because every protocol call must go through it.
func run(ctx context.Context, c redis.Scripter, s *redis.Script, keys []string, args ...any) *redis.Cmd {
	cmd := s.EvalSha(ctx, c, keys, args...)
	if err := cmd.Err(); err != nil && isNoScript(err) {
		return s.Eval(ctx, c, keys, args...)
	}
	return cmd
}

func isNoScript(err error) bool {
	var redisErr redis.Error
	return errors.As(err, &redisErr) && strings.HasPrefix(redisErr.Error(), "NOSCRIPT")
}
