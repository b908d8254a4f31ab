package main

import (
	"bufio"
	"encoding/json"
	"io"
	"testing"
	"time"

	"github.com/cachelab/cachelab/languages/go/internal/redistest"
)

// TestAdapterLines drives the adapter as the harness does: ready, then one answer per request.
func TestAdapterLines(t *testing.T) {
	srv := redistest.ForTest(t)
	t.Setenv("REDIS_URL", "redis://"+srv.Addr)
	t.Setenv("CACHELAB_NAMESPACE", "t1")
	t.Setenv("CACHELAB_ORIGIN", "go-1")
	t.Setenv("CACHELAB_HEARTBEAT_MS", "50")
	stdinR, stdinW := io.Pipe()
	stdoutR, stdoutW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(stdinR, stdoutW)
		_ = stdoutW.Close()
	}()
	out := bufio.NewScanner(stdoutR)
	next := func() map[string]any {
		t.Helper()
		if !out.Scan() {
			t.Fatal("the adapter ended")
		}
		var m map[string]any
		if err := json.Unmarshal(out.Bytes(), &m); err != nil {
			t.Fatalf("not JSON: %q", out.Text())
		}
		return m
	}
	if ready := next(); ready["event"] != "ready" || ready["impl"] != "go" {
		t.Fatalf("first line %v", ready)
	}
	send := func(line string) { _, _ = io.WriteString(stdinW, line+"\n") }
	tests := []struct {
		line string
		want string // fields of the answer, as JSON
	}{
		{`{"id":1,"op":"read","key":"user:1","source":{"value":{"name":"Ada"},"version":3}}`,
			`{"id":1,"loaded":true,"ok":true,"tier":"MISS","value":{"name":"Ada"},"version":3}`},
		{`{"id":2,"op":"set","key":"user:1","value":{"name":"Grace"},"version":4}`, `{"id":2,"ok":true}`},
		{`{"id":3,"op":"peek","key":"user:1"}`, `{"found":true,"id":3,"ok":true,"value":{"name":"Grace"},"version":4}`},
		{`{"id":"s","op":"read","key":"user:1","source":null,"minVersion":9}`,
			`{"error":{"code":"E_VERSION_UNAVAILABLE"},"id":"s","ok":false}`},
		{`{"id":5,"op":"read","key":"a b","source":null}`, `{"error":{"code":"E_INVALID_KEY"},"id":5,"ok":false}`},
		{`{"id":6,"op":"delete","key":"user:1","version":5}`, `{"id":6,"ok":true}`},
		{`{"id":7,"op":"read","key":"user:1","source":null}`, `{"id":7,"loaded":false,"ok":true,"tier":"L1","value":null,"version":5}`},
		{`{"id":8,"op":"jump"}`, `{"error":{"code":"E_BAD_REQUEST"},"id":8,"ok":false}`},
		{`not json`, `{"error":{"code":"E_BAD_REQUEST"},"id":null,"ok":false}`},
		{`{"id":9,"op":"set","key":"k","value":1,"version":-1}`, `{"error":{"code":"E_BAD_REQUEST"},"id":9,"ok":false}`},
	}
	for _, tt := range tests {
		send(tt.line)
		got := next()
		if e, ok := got["error"].(map[string]any); ok {
			delete(e, "message")
		}
		raw, _ := json.Marshal(got)
		if string(raw) != tt.want {
			t.Errorf("%s\n got %s\nwant %s", tt.line, raw, tt.want)
		}
	}
	send(`{"id":10,"op":"stats"}`)
	if stats := next(); stats["trusted"] != true || stats["l1Entries"] != 1.0 {
		t.Errorf("stats %v", stats)
	}
	send(`{"id":11,"op":"close"}`)
	if got := next(); got["id"] != 11.0 || got["ok"] != true {
		t.Errorf("close answered %v", got)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the adapter did not exit after close")
	}
}
