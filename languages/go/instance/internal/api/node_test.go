package api

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cachelab/cachelab/languages/go/internal/redistest"
)

// repoRoot is the repository root, seen from this package.
const repoRoot = "../../../../.."

// nodeInstance starts the Node instance (packages/app, from its sources) on the shared database
// and Redis in namespace ns, or skips when node or the repository's node_modules are missing.
func nodeInstance(t *testing.T, ns string) *instance {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not on PATH: comparing with the Node instance needs Node.js and `npm ci` at the repository root")
	}
	if _, err := os.Stat(filepath.Join(repoRoot, "node_modules", "tsx")); err != nil {
		t.Skip("no node_modules/tsx at the repository root: run `npm ci --no-audit --no-fund` there first")
	}
	port := 0
	for range 50 {
		p := 20000 + rand.IntN(12000)
		if l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p)); err == nil {
			_ = l.Close()
			port = p
			break
		}
	}
	cmd := exec.Command(node, "--import", "tsx", "packages/app/src/main.ts")
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), "PORT="+strconv.Itoa(port), "INSTANCE_NAME=node-1", "DATABASE_URL="+pg.URL,
		"REDIS_URL=redis://"+redisServer.Addr, "CACHE_NAMESPACE="+ns, "DB_LATENCY_MS=0", "SEED_USERS=100",
		"LOG_LEVEL=warn", "HEARTBEAT_INTERVAL_MS=50", "HEARTBEAT_TIMEOUT_MS=400", "REDIS_TIMEOUT_MS=1000")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	in := &instance{t: t, url: fmt.Sprintf("http://127.0.0.1:%d", port)}
	redistest.WaitFor(t, 60*time.Second, "the Node instance to be ready", func() bool {
		res, err := http.Get(in.url + "/readyz")
		if err != nil {
			return false
		}
		_ = res.Body.Close()
		var stats struct{ Cache struct{ Trusted bool } }
		r := in.do("GET", "/stats", "")
		return res.StatusCode == 200 && json.Unmarshal([]byte(r.body), &stats) == nil && stats.Cache.Trusted
	})
	return in
}

// TestSameAnswersAsNode sends the same requests to a Node and a Go instance of one cluster: the
// same status, error code, headers and bodies, and each serves what the other wrote.
func TestSameAnswersAsNode(t *testing.T) {
	goInstance := newInstances(t, 1)[0]
	ns := goInstance.cache.Namespace()
	nodeInst := nodeInstance(t, ns)
	valid := `{"name":"Ada","email":"ada@example.com","age":36}`
	long := strings.Repeat("x", 20000)
	tests := []struct {
		method, path, body string
		headers            []string
	}{
		{"GET", "/users/a:b", "", nil},
		{"GET", "/users/" + strings.Repeat("x", 65), "", nil},
		{"GET", "/users/a%2Fb", "", nil},
		{"GET", "/users/1?x=1&y=2", "", nil},
		{"GET", "/users/1?", "", nil},
		{"GET", "/USERS/1/", "", nil},
		{"GET", "/users/1", "", []string{"X-Min-Version", "abc"}},
		{"GET", "/users/1", "", []string{"X-Min-Version", "1", "X-Min-Version", "2"}},
		{"GET", "/users/1", "", []string{"X-Min-Version", "99"}},
		{"GET", "/users/1", "", []string{"X-Consistency", "linear"}},
		{"GET", "/users/1", "", []string{"X-Consistency", "strict"}},
		{"GET", "/users/1", "", []string{"If-None-Match", "v1"}},
		{"GET", "/users/1", "", []string{"If-None-Match", `"v1", W/"v2"`}},
		{"GET", "/users/1", "", []string{"If-None-Match", "*"}},
		{"HEAD", "/users/1", "", nil},
		{"GET", "/users/nobody", "", nil},
		{"PUT", "/users/1", `{"name":"Ada"`, nil},
		{"PUT", "/users/1", `[1]`, nil},
		{"PUT", "/users/1", `null`, nil},
		{"PUT", "/users/1", `{"name":"Ada","email":"ada@example.com","age":36,"__proto__":1}`, nil},
		{"PUT", "/users/1", `{"name":"","email":"ada@example.com","age":36}`, nil},
		{"PUT", "/users/1", `{"name":"Ada","email":"nope","age":36}`, nil},
		{"PUT", "/users/1", `{"name":"Ada","email":"ada@example.com","age":36.5}`, nil},
		{"PUT", "/users/1", `{"name":"Ada","email":"ada@example.com","age":"36"}`, nil},
		{"PUT", "/users/1", `{"name":"A\u0000","email":"ada@example.com","age":36}`, nil},
		{"PUT", "/users/1", `{"name":"A\ud800","email":"ada@example.com","age":36}`, nil},
		{"PUT", "/users/1", `{"name":"` + long + `"}`, nil},
		{"PUT", "/users/1", valid, []string{"Content-Type", "text/plain"}},
		{"PUT", "/users/1", valid, []string{"Content-Type", "application/json; charset=latin1"}},
		{"PUT", "/users/1", valid, []string{"If-Match", "nope"}},
		{"PUT", "/users/1", valid, []string{"If-Match", `"v999"`}},
		{"PUT", "/users/1?x", valid, nil},
		{"PUT", "/users/a:b", valid, nil},
		{"POST", "/users", `{}`, nil},
		{"POST", "/users/1", valid, nil},
		{"DELETE", "/users/1", "", []string{"If-Match", `"v99"`}},
		{"DELETE", "/users/nobody", "", nil},
		{"PATCH", "/users/1", "", nil},
		{"OPTIONS", "/users/1", "", nil},
		{"OPTIONS", "/users", "", nil},
		{"GET", "/users", "", nil},
		{"POST", "/healthz", "", nil},
		{"GET", "/nothing", "", nil},
		{"GET", "/healthz", "", nil},
	}
	for _, tt := range tests {
		fromNode := nodeInst.do(tt.method, tt.path, tt.body, tt.headers...)
		fromGo := goInstance.do(tt.method, tt.path, tt.body, tt.headers...)
		if testing.Verbose() {
			t.Logf("%s %s %v → %s", tt.method, tt.path, tt.headers, summary(fromNode))
		}
		if got, want := summary(fromGo), summary(fromNode); got != want {
			t.Errorf("%s %s %v\n  go:   %s\n  node: %s", tt.method, tt.path, tt.headers, got, want)
		}
	}

	// The same /stats names (top level and cache) as a Node instance.
	var goStats, nodeStats map[string]json.RawMessage
	_ = json.Unmarshal([]byte(goInstance.do("GET", "/stats", "").body), &goStats)
	_ = json.Unmarshal([]byte(nodeInst.do("GET", "/stats", "").body), &nodeStats)
	if got, want := keysOf(goStats), keysOf(nodeStats); got != want {
		t.Errorf("/stats keys: go %s, node %s", got, want)
	}
	var goCache, nodeCache map[string]json.RawMessage
	_ = json.Unmarshal(goStats["cache"], &goCache)
	_ = json.Unmarshal(nodeStats["cache"], &nodeCache)
	if got, want := keysOf(goCache), keysOf(nodeCache); got != want {
		t.Errorf("/stats cache keys:\n  go   %s\n  node %s", got, want)
	}

	// Each serves the other's writes, with the same bodies.
	put := nodeInst.do("PUT", "/users/50", valid)
	waitFor(t, "go to hear of node's write", func() bool { return goInstance.cache.Stats().InvalidationsReceived >= 1 })
	if got := goInstance.do("GET", "/users/50", ""); got.body != put.body || got.header.Get("X-Version") != put.header.Get("X-Version") {
		t.Errorf("go read %s %v after node wrote %s", got.body, got.header, put.body)
	}
	nodeInst.do("GET", "/users/51", "")
	put = goInstance.do("PUT", "/users/51", valid)
	if got := nodeInst.do("GET", "/users/51", ""); got.body != put.body || got.header.Get("X-Cache") == "L1" && got.header.Get("X-Version") != "2" {
		t.Errorf("node read %s %v after go wrote %s", got.body, got.header, put.body)
	}
}

// summary is what must match between the two languages: status, error code, the headers of the
// contract (not X-Instance, X-Request-Id, dates) and, for successful reads, the body.
func summary(r response) string {
	var e struct {
		Error struct{ Code string } `json:"error"`
	}
	_ = json.Unmarshal([]byte(r.body), &e)
	parts := []string{strconv.Itoa(r.status), "code=" + e.Error.Code}
	for _, h := range []string{"X-Version", "ETag", "Allow", "Retry-After", "Content-Type"} {
		if v := r.header.Get(h); v != "" {
			parts = append(parts, h+"="+v)
		}
	}
	if r.status == 200 && e.Error.Code == "" {
		parts = append(parts, "body="+r.body)
	}
	return strings.Join(parts, " ")
}

func keysOf(m map[string]json.RawMessage) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return strings.Join(keys, ",")
}
