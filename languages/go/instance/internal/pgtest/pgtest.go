// Package pgtest starts a PostgreSQL server of its own for tests (initdb in a temporary
// directory, a free loopback port in 20000-32000, trust authentication), as root through the
// postgres user (PostgreSQL refuses to run as root), and stops it when the test ends.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrNoPostgres: no PostgreSQL server binaries were found (set PG_BIN to their directory).
var ErrNoPostgres = errors.New("pgtest: no PostgreSQL binaries (initdb, postgres): install postgresql or set PG_BIN")

// Server is one running PostgreSQL.
type Server struct {
	URL  string
	dir  string
	cmd  *exec.Cmd
	done chan struct{}
}

func binDir() (string, error) {
	if dir := os.Getenv("PG_BIN"); dir != "" {
		return dir, nil
	}
	if path, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(path), nil
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(matches) == 0 {
		return "", ErrNoPostgres
	}
	return filepath.Dir(matches[len(matches)-1]), nil
}

// ForTest starts a server for t, stopped at its cleanup; skips under -short when none is installed.
func ForTest(t testing.TB) *Server {
	t.Helper()
	s, err := Start(t.Context())
	if errors.Is(err, ErrNoPostgres) && testing.Short() {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

// Start starts a server; Stop stops it and removes its data.
func Start(ctx context.Context) (*Server, error) {
	bin, err := binDir()
	if err != nil {
		return nil, err
	}
	// Not t.TempDir(): its parent is private to root, and the postgres user must reach it.
	dir, err := os.MkdirTemp("", "pgtest-")
	if err != nil {
		return nil, err
	}
	cred, err := credential(dir)
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	data := filepath.Join(dir, "data")
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %w\n%s", err, out)
	}
	for range 20 {
		port := 20000 + rand.IntN(12000)
		if l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port)); err != nil {
			continue
		} else {
			_ = l.Close()
		}
		s := &Server{URL: fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port),
			done: make(chan struct{}), dir: dir}
		s.cmd = exec.Command(filepath.Join(bin, "postgres"), "-D", data, "-p", strconv.Itoa(port), "-h", "127.0.0.1",
			"-k", dir, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
		s.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		if err := s.cmd.Start(); err != nil {
			_ = os.RemoveAll(dir)
			return nil, err
		}
		go func() {
			_ = s.cmd.Wait()
			close(s.done)
		}()
		if s.wait(ctx) {
			return s, nil
		}
		s.stopProcess()
	}
	_ = os.RemoveAll(dir)
	return nil, errors.New("pgtest: could not start postgres on a free port")
}

// wait polls SELECT 1 until the server answers (true) or exits or 20 s pass (false).
func (s *Server) wait(ctx context.Context) bool {
	deadline := time.Now().Add(20 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			return false
		case <-tick.C:
		}
		attempt, cancel := context.WithTimeout(ctx, time.Second)
		conn, err := pgx.Connect(attempt, s.URL)
		if err == nil {
			err = conn.QueryRow(attempt, "SELECT 1").Scan(new(int))
			_ = conn.Close(attempt)
		}
		cancel()
		if err == nil {
			return true
		}
	}
	return false
}

// Stop stops the server and removes its data directory.
func (s *Server) Stop() {
	s.stopProcess()
	_ = os.RemoveAll(s.dir)
}

// stopProcess stops the server (SIGQUIT: immediate shutdown) and waits for it.
func (s *Server) stopProcess() {
	if s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

// credential: as root, run as postgres and give it dir; otherwise as ourselves.
func credential(dir string) (*syscall.Credential, error) {
	if os.Getuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("pgtest: running as root needs a postgres user: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(dir, uid, gid); err != nil {
		return nil, err
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}
