package redistest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Cluster is a Redis Cluster of masters without replicas, each a redis-server of its own with
// its own directory (the cluster's node file lives there), owned by the caller.
type Cluster struct {
	Nodes []*Server
	dir   string
}

// totalSlots is the number of hash slots of a Redis Cluster.
const totalSlots = 16384

// StartCluster launches masters redis-servers with cluster-enabled, gives each an equal range
// of the 16384 slots, joins them (CLUSTER MEET) and waits until every node says cluster_state:ok
// and knows them all.
func StartCluster(ctx context.Context, masters int) (*Cluster, error) {
	if masters < 1 {
		return nil, errors.New("redistest: a cluster needs at least one master")
	}
	dir, err := os.MkdirTemp("", "redistest-cluster-")
	if err != nil {
		return nil, err
	}
	c := &Cluster{dir: dir}
	if err := c.start(ctx, masters); err != nil {
		c.Stop()
		return nil, err
	}
	return c, nil
}

func (c *Cluster) start(ctx context.Context, masters int) error {
	for range masters {
		s, err := Start(ctx, "--cluster-enabled", "yes", "--cluster-node-timeout", "2000",
			"--dir", c.dir, "--cluster-config-file", fmt.Sprintf("nodes-%d.conf", len(c.Nodes)))
		if err != nil {
			return err
		}
		c.Nodes = append(c.Nodes, s)
	}
	first := c.Nodes[0]
	for i, s := range c.Nodes {
		from, to := i*totalSlots/masters, (i+1)*totalSlots/masters-1
		if err := s.do(ctx, "CLUSTER", "ADDSLOTSRANGE", from, to); err != nil {
			return err
		}
		if i > 0 {
			if err := s.do(ctx, "CLUSTER", "MEET", "127.0.0.1", first.Port); err != nil {
				return err
			}
		}
	}
	return c.waitHealthy(ctx, masters)
}

// waitHealthy polls every node until it says cluster_state:ok with all masters known.
func (c *Cluster) waitHealthy(ctx context.Context, masters int) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		healthy := true
		for _, s := range c.Nodes {
			info, err := s.info(ctx)
			if err != nil || !strings.Contains(info, "cluster_state:ok") ||
				!strings.Contains(info, fmt.Sprintf("cluster_known_nodes:%d", masters)) {
				healthy = false
				break
			}
		}
		if healthy {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond): // a poll interval: the check above decides
		}
	}
	return errors.New("redistest: the cluster did not reach cluster_state:ok within 30 s")
}

func (s *Server) do(ctx context.Context, args ...any) error {
	c := redis.NewClient(&redis.Options{Addr: s.Addr})
	defer func() { _ = c.Close() }()
	return c.Do(ctx, args...).Err()
}

func (s *Server) info(ctx context.Context) (string, error) {
	c := redis.NewClient(&redis.Options{Addr: s.Addr})
	defer func() { _ = c.Close() }()
	return c.ClusterInfo(ctx).Result()
}

// ClusterForTest starts a cluster for one test and stops it when the test ends. Skips with
// -short when redis-server is missing, as ForTest does.
func ClusterForTest(t testing.TB, masters int) *Cluster {
	t.Helper()
	c, err := StartCluster(t.Context(), masters)
	if errors.Is(err, ErrNoRedis) && testing.Short() {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Stop)
	return c
}

// Client returns a cluster client seeded with every node, closed when the test ends.
func (c *Cluster) Client(t testing.TB) *redis.ClusterClient {
	t.Helper()
	addrs := make([]string, len(c.Nodes))
	for i, s := range c.Nodes {
		addrs[i] = s.Addr
	}
	client := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
	t.Cleanup(func() { _ = client.Close() })
	return client
}

// Stop kills every node and removes the cluster's directory.
func (c *Cluster) Stop() {
	for _, s := range c.Nodes {
		s.Stop()
	}
	_ = os.RemoveAll(c.dir)
}
