// Command cachelab-interop is the Go adapter of the interop harness (protocol/INTEROP.md): one
// cachelab.Cache driven by JSON lines on stdin, answered on stdout, every request handled as it
// arrives. Logs go to stderr only.
//
//	REDIS_URL=redis://127.0.0.1:6379 CACHELAB_NAMESPACE=t1 CACHELAB_ORIGIN=go-1 \
//	  go run ./cmd/cachelab-interop
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/cachelab/cachelab/languages/go/cachelab"
)

func main() {
	if err := run(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "cachelab-interop:", err)
		os.Exit(1)
	}
}

func run(stdin io.Reader, stdout io.Writer) error {
	env, err := readEnv(os.Getenv)
	if err != nil {
		return err
	}
	rdb, pubsub := env.client()
	defer func() { _ = rdb.Close() }()
	cache, err := cachelab.New[json.RawMessage](cachelab.Options{
		Redis: rdb, PubSub: pubsub, Namespace: env.namespace, Origin: env.origin,
		SigningSecrets: env.secrets, HeartbeatInterval: env.heartbeat,
		HeartbeatTimeout: env.heartbeatTimeout, L1TTL: env.l1TTL,
		OnError: func(err error) { fmt.Fprintln(os.Stderr, "cachelab-interop:", err) },
	})
	if err != nil {
		return err
	}
	// Ready once subscribed and trusted (an own heartbeat came back): bounded, then ready anyway.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	_ = cache.WaitSubscribed(ctx)
	_ = cache.WaitTrusted(ctx)
	cancel()

	a := &adapter{cache: cache, out: json.NewEncoder(stdout)}
	a.write(map[string]any{"event": "ready", "impl": "go", "version": cachelab.Version})
	lines := bufio.NewScanner(stdin)
	lines.Buffer(make([]byte, 1<<20), 16<<20)
	for lines.Scan() {
		line := append([]byte(nil), lines.Bytes()...)
		if isClose(line) {
			a.inFlight.Wait() // close is answered once every other request is
			a.answer(line)
			break
		}
		a.inFlight.Go(func() { a.answer(line) })
	}
	a.inFlight.Wait()
	return cache.Close()
}

// adapter answers requests; writes to stdout are one line each, never interleaved.
type adapter struct {
	cache    *cachelab.Cache[json.RawMessage]
	mu       sync.Mutex
	out      *json.Encoder
	inFlight sync.WaitGroup
}

func (a *adapter) write(line any) {
	a.mu.Lock()
	defer a.mu.Unlock()
	_ = a.out.Encode(line) // one JSON object and a newline
}

func (a *adapter) answer(line []byte) {
	req, err := parseRequest(line)
	if err != nil {
		a.write(map[string]any{"id": req.ID, "ok": false, "error": map[string]string{"code": "E_BAD_REQUEST", "message": err.Error()}})
		return
	}
	fields, err := a.handle(req)
	if err != nil {
		code := cachelab.Code(err)
		if code == "" {
			code = "E_FAILED"
		}
		a.write(map[string]any{"id": req.ID, "ok": false, "error": map[string]string{"code": code, "message": err.Error()}})
		return
	}
	fields["id"], fields["ok"] = req.ID, true
	a.write(fields)
}
