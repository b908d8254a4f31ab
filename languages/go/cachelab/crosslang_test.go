package cachelab

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// repoRoot is the repository root, seen from this package.
const repoRoot = "../../.."

// nodePeer is a Node.js @cachelab/cache instance (testdata/node/peer.ts) driven over JSON lines.
type nodePeer struct {
	t      *testing.T
	stdin  io.WriteCloser
	out    *bufio.Scanner
	nextID int
}

// startNodePeer runs peer.ts with the repository's own Node library, or skips the test when
// node or the repository's node_modules (npm ci) are missing.
func startNodePeer(t *testing.T, ns, origin string, secrets string) *nodePeer {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not on PATH: the cross-language test needs Node.js >= 20.19 and `npm ci` at the repository root")
	}
	if _, err := os.Stat(filepath.Join(repoRoot, "node_modules", "tsx")); err != nil {
		t.Skip("no node_modules/tsx at the repository root: run `npm ci --no-audit --no-fund` there first")
	}
	cmd := exec.Command(node, "--import", "tsx", "languages/go/cachelab/testdata/node/peer.ts")
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), "REDIS_URL=redis://"+server.Addr, "CACHELAB_NAMESPACE="+ns,
		"CACHELAB_ORIGIN="+origin, "CACHELAB_SECRETS="+secrets)
	cmd.Stderr = os.Stderr
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	t.Cleanup(func() {
		_ = stdin.Close() // the peer closes its cache and exits at the end of stdin
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	p := &nodePeer{t: t, stdin: stdin, out: bufio.NewScanner(stdout)}
	p.out.Buffer(make([]byte, 1<<20), 1<<20)
	if ready := p.line(); ready["event"] != "ready" || ready["trusted"] != true {
		t.Fatalf("the Node peer did not start trusted: %v", ready)
	}
	return p
}

func (p *nodePeer) line() map[string]any {
	p.t.Helper()
	lines := make(chan bool, 1)
	go func() { lines <- p.out.Scan() }()
	select {
	case ok := <-lines:
		if !ok {
			p.t.Fatalf("the Node peer ended: %v", p.out.Err())
		}
	case <-time.After(20 * time.Second):
		p.t.Fatal("the Node peer did not answer within 20 s")
	}
	var m map[string]any
	if err := json.Unmarshal(p.out.Bytes(), &m); err != nil {
		p.t.Fatalf("the Node peer wrote %q", p.out.Text())
	}
	return m
}

// call sends one request and returns its answer.
func (p *nodePeer) call(request map[string]any) map[string]any {
	p.t.Helper()
	p.nextID++
	request["id"] = p.nextID
	raw, _ := json.Marshal(request)
	if _, err := fmt.Fprintf(p.stdin, "%s\n", raw); err != nil {
		p.t.Fatal(err)
	}
	answer := p.line()
	if answer["ok"] != true {
		p.t.Fatalf("%v → %v", request, answer)
	}
	return answer
}

func TestCoherentWithNode(t *testing.T) {
	tests := []struct {
		name    string
		secrets []string
	}{
		{"unsigned", nil},
		{"signed", []string{"a shared secret for both languages"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil)
			secrets := ""
			if tt.secrets != nil {
				secrets = tt.secrets[0]
			}
			node := startNodePeer(t, f.ns, "node-1", secrets)
			goCache := f.cache("go-1", func(o *Options) { o.SigningSecrets = tt.secrets })
			ctx := t.Context()
			src := &source{}

			// Node loads v1 and fills Redis; Go reads Node's entry from Redis.
			got := node.call(map[string]any{"op": "read", "key": "user:1",
				"source": map[string]any{"value": map[string]any{"name": "Ada"}, "version": 1}})
			if got["tier"] != "MISS" || got["version"] != 1.0 {
				t.Fatalf("node's first read: %v", got)
			}
			if r := mustGet(t, goCache, "user:1", src); r.Tier != TierL2 || r.Version != 1 || r.Value.Name != "Ada" {
				t.Fatalf("go read Node's entry as %+v", r)
			}

			// Go writes v2: Node drops v1 from its L1 and reads Go's entry from Redis.
			if got := node.call(map[string]any{"op": "peek", "key": "user:1"}); got["found"] != true {
				t.Fatalf("node's L1 does not hold v1: %v", got)
			}
			_ = goCache.Set(ctx, "user:1", Loaded[user]{Value: u("Grace"), Version: 2})
			waitFor(t, "node to drop v1", func() bool {
				return node.call(map[string]any{"op": "peek", "key": "user:1"})["found"] == false
			})
			got = node.call(map[string]any{"op": "read", "key": "user:1", "source": nil})
			if got["tier"] != "L2" || got["version"] != 2.0 || got["value"].(map[string]any)["name"] != "Grace" {
				t.Fatalf("node read %v, want Grace v2 from L2", got)
			}

			// Node writes v3: Go drops v2 from its L1 and reads Node's entry from Redis.
			node.call(map[string]any{"op": "set", "key": "user:1", "value": map[string]any{"name": "Hopper"}, "version": 3})
			waitFor(t, "go to drop v2", func() bool { _, ok := goCache.Peek("user:1"); return !ok })
			if r := mustGet(t, goCache, "user:1", src); r.Tier != TierL2 || r.Version != 3 || r.Value.Name != "Hopper" {
				t.Fatalf("go read %+v, want Hopper v3 from L2", r)
			}

			// Node deletes (a tombstone at v4): Go serves null at v4.
			node.call(map[string]any{"op": "set", "key": "user:1", "value": nil, "version": 4})
			waitFor(t, "go to drop v3", func() bool { _, ok := goCache.Peek("user:1"); return !ok })
			if r := mustGet(t, goCache, "user:1", src); r.Value != nil || r.Version != 4 {
				t.Fatalf("go read %+v after Node's delete, want null at v4", r)
			}

			// Neither refused anything the other sent.
			stats := node.call(map[string]any{"op": "stats"})
			rejected := stats["rejected"].(map[string]any)
			if stats["received"].(float64) < 1 || rejected["forged"] != 0.0 || rejected["unsigned"] != 0.0 || rejected["malformed"] != 0.0 {
				t.Fatalf("node's stats: %v", stats)
			}
			if s := goCache.Stats(); s.InvalidationsReceived < 2 || s.MessagesRejected.Forged+s.MessagesRejected.Unsigned+s.MessagesRejected.Malformed != 0 {
				t.Fatalf("go's stats: received %d, rejected %+v", s.InvalidationsReceived, s.MessagesRejected)
			}
		})
	}
}
