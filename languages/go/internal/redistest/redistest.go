// Package redistest starts a real redis-server for tests: on a free loopback port outside the
// kernel's ephemeral range, keeping nothing on disk, stopped by t.Cleanup (or Stop in TestMain).
package redistest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Ports are picked from this range: below the kernel's ephemeral range (32768-60999 here), so a
// port checked free is not taken a moment later by some outgoing connection.
const (
	portLow  = 20000
	portHigh = 32000
)

// ErrNoRedis means redis-server is not on the PATH (set REDIS_SERVER to its path).
var ErrNoRedis = errors.New("redistest: redis-server not found (install it, or set REDIS_SERVER)")

// Server is one redis-server process owned by the caller.
type Server struct {
	Port int
	Addr string
	bin  string
	args []string
	cmd  *exec.Cmd
	done chan struct{}
}

// Start launches redis-server with extra args (e.g. "--maxmemory", "2mb") and waits for PING.
func Start(ctx context.Context, args ...string) (*Server, error) {
	bin := os.Getenv("REDIS_SERVER")
	if bin == "" {
		path, err := exec.LookPath("redis-server")
		if err != nil {
			return nil, ErrNoRedis
		}
		bin = path
	}
	var lastErr error
	for range 20 {
		port, err := freePort()
		if err != nil {
			lastErr = err
			continue
		}
		s := &Server{Port: port, Addr: "127.0.0.1:" + strconv.Itoa(port), bin: bin}
		s.args = append([]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
			"--save", "", "--appendonly", "no"}, args...)
		if err := s.launch(ctx, bin); err != nil {
			lastErr = err
			continue // the port was taken between the check and the start: try another one
		}
		return s, nil
	}
	return nil, fmt.Errorf("redistest: could not start redis-server: %w", lastErr)
}

// ForTest starts a server for one test and stops it when the test ends. Fails the test when
// redis-server is missing, unless it is run with -short (then it skips).
func ForTest(t testing.TB, args ...string) *Server {
	t.Helper()
	s, err := Start(t.Context(), args...)
	if errors.Is(err, ErrNoRedis) && testing.Short() {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

// Client returns a go-redis client of this server, closed when the test ends.
func (s *Server) Client(t testing.TB) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: s.Addr})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// Restart kills the server and starts it again, empty, on the same port.
func (s *Server) Restart(ctx context.Context) error {
	s.Stop()
	return s.launch(ctx, s.bin)
}

// Stop kills the server (it keeps nothing) and waits for the process to exit.
func (s *Server) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.done
}

func (s *Server) launch(ctx context.Context, bin string) error {
	cmd := exec.Command(bin, s.args...)
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	s.cmd, s.done = cmd, done
	c := redis.NewClient(&redis.Options{Addr: s.Addr, MaxRetries: -1})
	defer func() { _ = c.Close() }()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-done:
			return fmt.Errorf("redis-server on port %d exited at start", s.Port)
		case <-ctx.Done():
			s.Stop()
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if c.Ping(ctx).Err() == nil {
			return nil
		}
	}
	s.Stop()
	return fmt.Errorf("redis-server on port %d did not answer PING within 10 s", s.Port)
}

// freePort returns a port in [portLow, portHigh) that binds on loopback right now.
func freePort() (int, error) {
	for range 50 {
		port := portLow + rand.IntN(portHigh-portLow)
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			continue
		}
		_ = l.Close()
		return port, nil
	}
	return 0, errors.New("redistest: no free port in 20000-32000")
}

// WaitFor polls cond every few milliseconds until it holds or timeout passes.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		<-tick.C
	}
}
