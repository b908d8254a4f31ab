package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachelab/cachelab/languages/go/cachelab"
)

// env is the adapter's environment (INTEROP.md, "Environment").
type env struct {
	redisURL                    string
	clusterNodes                []string
	namespace, origin           string
	secrets                     []string
	heartbeat, heartbeatTimeout time.Duration
	l1TTL                       time.Duration
}

func readEnv(getenv func(string) string) (env, error) {
	var e env
	list := func(raw string) []string {
		var out []string
		for s := range strings.SplitSeq(raw, ",") {
			if s != "" {
				out = append(out, s)
			}
		}
		return out
	}
	ms := func(name string) (time.Duration, error) {
		raw := getenv(name)
		if raw == "" {
			return 0, nil
		}
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 {
			return 0, fmt.Errorf("%s must be a positive integer (ms)", name)
		}
		return time.Duration(n) * time.Millisecond, nil
	}
	e.redisURL, e.clusterNodes = getenv("REDIS_URL"), list(getenv("REDIS_CLUSTER_NODES"))
	if (e.redisURL == "") == (len(e.clusterNodes) == 0) {
		return e, errors.New("exactly one of REDIS_URL and REDIS_CLUSTER_NODES must be set")
	}
	if e.namespace = getenv("CACHELAB_NAMESPACE"); e.namespace == "" {
		return e, errors.New("CACHELAB_NAMESPACE must be set")
	}
	if e.origin = getenv("CACHELAB_ORIGIN"); e.origin == "" {
		return e, errors.New("CACHELAB_ORIGIN must be set")
	}
	e.secrets = list(getenv("CACHELAB_SECRETS"))
	var err error
	if e.heartbeat, err = ms("CACHELAB_HEARTBEAT_MS"); err != nil {
		return e, err
	}
	if e.heartbeatTimeout, err = ms("CACHELAB_HEARTBEAT_TIMEOUT_MS"); err != nil {
		return e, err
	}
	if e.heartbeatTimeout == 0 && e.heartbeat > 0 {
		e.heartbeatTimeout = 4 * e.heartbeat
	}
	if e.l1TTL, err = ms("CACHELAB_L1_TTL_MS"); err != nil {
		return e, err
	}
	return e, nil
}

// client connects to the single Redis (global Pub/Sub) or the cluster (sharded Pub/Sub).
func (e env) client() (redis.UniversalClient, cachelab.PubSub) {
	if len(e.clusterNodes) > 0 {
		addrs := make([]string, len(e.clusterNodes))
		for i, url := range e.clusterNodes {
			addrs[i] = strings.TrimPrefix(url, "redis://")
		}
		return redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, DialTimeout: 2 * time.Second}), cachelab.Sharded
	}
	opts, err := redis.ParseURL(e.redisURL)
	if err != nil {
		opts = &redis.Options{Addr: strings.TrimPrefix(e.redisURL, "redis://")}
	}
	opts.DialTimeout = 2 * time.Second
	return redis.NewClient(opts), cachelab.Global
}
