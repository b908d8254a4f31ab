package cachelab

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func readVectors(t *testing.T, name string, into any) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "vectors", name))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, into); err != nil {
		t.Fatal(err)
	}
}

func TestVersionVectors(t *testing.T) {
	var v struct {
		Compare []struct {
			ID       string
			Input    struct{ A, B string }
			Expected string
		}
		Pointer []struct {
			ID       string
			Input    string
			Expected struct {
				Version *int64
				Corrupt bool
			}
		}
	}
	readVectors(t, "versions.json", &v)
	f := newFixture(t, nil)
	scripts := newScripts()
	for _, c := range v.Compare {
		t.Run(c.ID, func(t *testing.T) {
			// The scripts compare; FILL with the pointer at b and version a tells the outcome.
			ctx, ptr := t.Context(), f.ns+":{"+c.ID+"}:ver"
			f.rdb.Set(ctx, ptr, c.Input.B, time.Minute)
			got, err := run(ctx, f.rdb, scripts.fill, []string{ptr, f.ns + ":{" + c.ID + "}:v:" + c.Input.A},
				f.ns+":{"+c.ID+"}:v:", c.Input.A, 1000, 2000, "null", "", "m", "advanced").Int64Slice()
			want := map[string]int64{"gt": 1, "eq": 0, "lt": -1}[c.Expected]
			if err != nil || got[0] != want {
				t.Fatalf("FILL %s over %s: %v %v, want outcome %d", c.Input.A, c.Input.B, got, err, want)
			}
		})
	}
	for _, c := range v.Pointer {
		t.Run(c.ID, func(t *testing.T) {
			got, ok := parseVersion(c.Input)
			if ok == c.Expected.Corrupt || (ok && got != *c.Expected.Version) {
				t.Fatalf("parseVersion(%q) = %d, %v; want %+v", c.Input, got, ok, c.Expected)
			}
		})
	}
}

func TestScriptVectors(t *testing.T) {
	var v struct {
		Cases []struct {
			ID    string
			Input struct {
				Setup  [][]string
				Script string
				Keys   []string
				Argv   []string
			}
			Expected struct {
				Reply any
				After map[string]struct {
					Value *string
					PTTL  []int64
				}
				Published []struct{ Channel, Message string }
			}
		}
	}
	readVectors(t, "scripts.json", &v)
	s := newScripts()
	byName := map[string]*redis.Script{"read": s.read, "fill": s.fill, "announce": s.announce,
		"announce-many": s.announceMany, "take-lease": s.takeLease, "release-lease": s.releaseLease}
	f := newFixture(t, nil)
	for i, c := range v.Cases {
		t.Run(c.ID, func(t *testing.T) {
			ctx := t.Context()
			ns := fmt.Sprintf("%sv%d", f.ns, i)
			sub := func(s string) string { return strings.ReplaceAll(s, "$ns", ns) }
			for _, cmd := range c.Input.Setup {
				args := make([]any, len(cmd))
				for j, a := range cmd {
					args[j] = sub(a)
				}
				if err := f.rdb.Do(ctx, args...).Err(); err != nil {
					t.Fatalf("setup %v: %v", cmd, err)
				}
			}
			channels := []string{ns + ":invalidations"}
			for _, p := range c.Expected.Published {
				channels = append(channels, sub(p.Channel))
			}
			ps := f.rdb.Subscribe(ctx, channels...)
			defer func() { _ = ps.Close() }()
			for range channels {
				if _, err := ps.Receive(ctx); err != nil {
					t.Fatal(err)
				}
			}
			script, ok := byName[c.Input.Script]
			if !ok {
				t.Fatalf("no script %q", c.Input.Script)
			}
			keys, argv := make([]string, len(c.Input.Keys)), make([]any, len(c.Input.Argv))
			for j, k := range c.Input.Keys {
				keys[j] = sub(k)
			}
			for j, a := range c.Input.Argv {
				argv[j] = sub(a)
			}
			reply, err := run(ctx, f.rdb, script, keys, argv...).Result()
			if err == redis.Nil {
				reply, err = nil, nil
			}
			if err != nil {
				t.Fatal(err)
			}
			if got, want := normalize(reply), normalize(c.Expected.Reply); !reflect.DeepEqual(got, want) {
				t.Errorf("reply %#v, want %#v", got, want)
			}
			for key, want := range c.Expected.After {
				got, err := f.rdb.Get(ctx, sub(key)).Result()
				if (err == redis.Nil) != (want.Value == nil) || (want.Value != nil && got != sub(*want.Value)) {
					t.Errorf("GET %s = %q (%v), want %v", key, got, err, want.Value)
				}
				if len(want.PTTL) == 2 {
					ttl := f.rdb.PTTL(ctx, sub(key)).Val().Milliseconds()
					if ttl < want.PTTL[0] || ttl > want.PTTL[1] {
						t.Errorf("PTTL %s = %d, want within %v", key, ttl, want.PTTL)
					}
				}
			}
			// Exactly the expected messages, in order: a sentinel ends what the script published.
			f.rdb.Publish(ctx, channels[0], "sentinel")
			var got []string
			for {
				m, err := ps.ReceiveMessage(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if m.Payload == "sentinel" {
					break
				}
				got = append(got, m.Channel+" "+m.Payload)
			}
			var want []string
			for _, p := range c.Expected.Published {
				want = append(want, sub(p.Channel)+" "+sub(p.Message))
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("published %q, want %q", got, want)
			}
		})
	}
}

// normalize makes Redis replies and JSON expectations comparable: integers as float64.
func normalize(v any) any {
	switch x := v.(type) {
	case int64:
		return float64(x)
	case []any:
		out := make([]any, len(x))
		for i := range x {
			out[i] = normalize(x[i])
		}
		return out
	}
	return v
}

func TestNoScriptFallsBackToEval(t *testing.T) {
	f := newFixture(t, nil)
	c := f.cache("a")
	ctx := context.Background()
	for range 2 {
		f.rdb.ScriptFlush(ctx)
		if err := c.Set(ctx, "k", Loaded[user]{Value: u("x"), Version: 1}); err != nil {
			t.Fatal(err)
		}
		if r := mustGet(t, c, "k", &source{}, Strict()); r.Version != 1 {
			t.Fatalf("read %+v after SCRIPT FLUSH", r)
		}
	}
	if fails := c.Stats().PublishFailures; fails != 0 {
		t.Fatalf("%d writes failed after SCRIPT FLUSH", fails)
	}
}

func TestScriptSHA1s(t *testing.T) {
	var v struct{ SHA1 map[string]string }
	readVectors(t, "scripts.json", &v)
	s := newScripts()
	byFile := map[string]*redis.Script{"read.lua": s.read, "fill.lua": s.fill, "announce.lua": s.announce,
		"announce-many.lua": s.announceMany, "take-lease.lua": s.takeLease, "release-lease.lua": s.releaseLease}
	if len(v.SHA1) != len(byFile) {
		t.Fatalf("scripts.json lists %d scripts, the library embeds %d", len(v.SHA1), len(byFile))
	}
	for file, want := range v.SHA1 {
		if got := byFile[file].Hash(); got != want {
			t.Errorf("%s: SHA1 %s, want %s (MUST-SCRIPT-1: byte for byte)", file, got, want)
		}
	}
}
