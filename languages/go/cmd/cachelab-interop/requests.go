package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/cachelab/cachelab/languages/go/cachelab"
	"github.com/cachelab/cachelab/languages/go/cachelab/keys"
)

// request is one line of the harness (INTEROP.md, "Requests and responses").
type request struct {
	ID          json.RawMessage // a number or a string, echoed as it came; null when absent
	Op          string
	Key         string
	Value       json.RawMessage
	Version     int64
	Source      *source
	Strict      bool
	MinVersion  int64
	LoadDelayMs int64
}

type source struct {
	Value   json.RawMessage
	Version int64
}

var null = json.RawMessage("null")

func isClose(line []byte) bool {
	var r struct{ Op string }
	return json.Unmarshal(line, &r) == nil && r.Op == "close"
}

// parseRequest reads a line as the Node adapter does: E_BAD_REQUEST naming what is wrong.
func parseRequest(line []byte) (request, error) {
	req := request{ID: null}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(line, &raw); err != nil || raw == nil {
		return req, errors.New("a request is one JSON object per line")
	}
	if id := bytes.TrimSpace(raw["id"]); len(id) > 0 && (id[0] == '"' || id[0] == '-' || (id[0] >= '0' && id[0] <= '9')) {
		req.ID = id
	} else {
		return req, errors.New("a request needs an `id`")
	}
	_ = json.Unmarshal(raw["op"], &req.Op)
	bad := func(what string) error { return fmt.Errorf("%s: %s", req.Op, what) }
	key := func() error {
		if json.Unmarshal(raw["key"], &req.Key) != nil || len(raw["key"]) == 0 || raw["key"][0] != '"' {
			return bad("`key` must be a string")
		}
		return nil
	}
	switch req.Op {
	case "read":
		if err := key(); err != nil {
			return req, err
		}
		var consistency string
		_ = json.Unmarshal(raw["consistency"], &consistency)
		req.Strict = consistency == "strict"
		var err error
		if req.MinVersion, err = integer(raw, "minVersion", true); err != nil {
			return req, bad(err.Error())
		}
		if req.LoadDelayMs, err = integer(raw, "loadDelayMs", true); err != nil {
			return req, bad(err.Error())
		}
		if s := bytes.TrimSpace(raw["source"]); len(s) > 0 && !bytes.Equal(s, null) {
			var fields map[string]json.RawMessage
			if json.Unmarshal(s, &fields) != nil || fields == nil || len(fields["value"]) == 0 {
				return req, bad("`source` must be null or {\"value\": …, \"version\": n}")
			}
			v, err := integer(fields, "version", false)
			if err != nil {
				return req, bad("`source` must be null or {\"value\": …, \"version\": n}")
			}
			req.Source = &source{Value: fields["value"], Version: v}
		}
	case "set":
		if err := key(); err != nil {
			return req, err
		}
		if len(raw["value"]) == 0 {
			return req, bad("`value` is required")
		}
		req.Value = raw["value"]
		var err error
		if req.Version, err = integer(raw, "version", false); err != nil {
			return req, bad(err.Error())
		}
	case "delete", "announce":
		if err := key(); err != nil {
			return req, err
		}
		var err error
		if req.Version, err = integer(raw, "version", false); err != nil {
			return req, bad(err.Error())
		}
	case "peek":
		if err := key(); err != nil {
			return req, err
		}
	case "stats", "close":
	default:
		return req, bad("unknown op")
	}
	return req, nil
}

// integer reads a non-negative safe integer (optional: absent is 0).
func integer(raw map[string]json.RawMessage, name string, optional bool) (int64, error) {
	field, ok := raw[name]
	if !ok || bytes.Equal(bytes.TrimSpace(field), null) {
		if optional {
			return 0, nil
		}
	}
	var f float64
	if json.Unmarshal(field, &f) != nil || f < 0 || f > 1<<53-1 || f != math.Trunc(f) {
		return 0, fmt.Errorf("`%s` must be a non-negative integer", name)
	}
	return int64(f), nil
}

// valueOf is a JSON value as the cache holds it: nil for null.
func valueOf(raw json.RawMessage) *json.RawMessage {
	if len(bytes.TrimSpace(raw)) == 0 || bytes.Equal(bytes.TrimSpace(raw), null) {
		return nil
	}
	v := append(json.RawMessage(nil), raw...)
	return &v
}

func jsonOf(v *json.RawMessage) json.RawMessage {
	if v == nil {
		return null
	}
	return *v
}

func (a *adapter) handle(req request) (map[string]any, error) {
	ctx := context.Background()
	switch req.Op {
	case "read":
		loaded := false
		loader := func(ctx context.Context, _ string) (cachelab.Loaded[json.RawMessage], error) {
			loaded = true
			if req.LoadDelayMs > 0 {
				timer := time.NewTimer(time.Duration(req.LoadDelayMs) * time.Millisecond)
				defer timer.Stop()
				select {
				case <-timer.C:
				case <-ctx.Done():
					return cachelab.Loaded[json.RawMessage]{}, ctx.Err()
				}
			}
			if req.Source == nil {
				return cachelab.Loaded[json.RawMessage]{}, nil
			}
			return cachelab.Loaded[json.RawMessage]{Value: valueOf(req.Source.Value), Version: req.Source.Version}, nil
		}
		opts := []cachelab.ReadOption{cachelab.MinVersion(req.MinVersion)}
		if req.Strict {
			opts = append(opts, cachelab.Strict())
		}
		read, err := a.cache.Get(ctx, req.Key, loader, opts...)
		if err != nil {
			return nil, err
		}
		return map[string]any{"value": jsonOf(read.Value), "version": read.Version, "tier": read.Tier, "loaded": loaded}, nil
	case "set":
		return map[string]any{}, a.cache.Set(ctx, req.Key, cachelab.Loaded[json.RawMessage]{Value: valueOf(req.Value), Version: req.Version})
	case "delete":
		return map[string]any{}, a.cache.Delete(ctx, req.Key, req.Version)
	case "announce":
		return map[string]any{}, a.cache.Announce(ctx, req.Key, req.Version)
	case "peek":
		if !keys.Valid(req.Key) {
			return nil, cachelab.ErrInvalidKey
		}
		read, ok := a.cache.Peek(req.Key)
		if !ok {
			return map[string]any{"found": false}, nil
		}
		return map[string]any{"found": true, "value": jsonOf(read.Value), "version": read.Version}, nil
	case "stats":
		s := a.cache.Stats()
		return map[string]any{"trusted": s.Trusted, "l1Entries": s.L1Size,
			"rejected":          map[string]int64{"forged": s.MessagesRejected.Forged, "malformed": s.MessagesRejected.Malformed, "unsigned": s.MessagesRejected.Unsigned},
			"announcementsSent": s.InvalidationsSent, "trustLost": s.TrustLost,
			"invalidationsReceived": s.InvalidationsReceived}, nil
	case "close":
		return map[string]any{}, nil
	}
	return nil, fmt.Errorf("unknown op %q", req.Op)
}
