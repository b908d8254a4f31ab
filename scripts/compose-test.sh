#!/usr/bin/env bash
# `npm run test:compose`: builds docker-compose.yml's stack from this repository and checks it
# (scripts/compose/check-stack.ts says what is checked). Made for CI (root, no stdin, possibly a
# machine that has never run Docker); runs on a developer's machine with Docker as well.
#
#   1. the engine: installs Debian's docker.io and docker-compose when dockerd is missing (root,
#      apt-get), starts dockerd when none answers, and gives `docker compose` syntax to Compose v1
#      through docker/cli-plugins/docker-compose when no Compose v2 is installed;
#   2. the base images: the registry's when a pull succeeds, else the stand-ins of
#      docker/stand-ins/build.sh (COMPOSE_TEST_BASE_IMAGES=registry|stand-ins forces one);
#   3. the images: the app from ./Dockerfile, the Python instance from languages/python/Dockerfile
#      and the Go instance from languages/go/instance/Dockerfile; the stack with its `languages`
#      profile (three Node instances, app-python, app-go) on free host ports, the checks of
#      scripts/compose/check-stack.ts, `down -v`; then the `cluster` profile
#      (scripts/compose/check-cluster.ts) with the same images;
#   4. always, on success, failure or Ctrl-C: the stack taken down, and, if this script started
#      dockerd, dockerd stopped and the host's iptables rules, forwarding sysctls and links
#      restored as they were before it started.
#
# The last line printed is the verdict with what was measured.
set -euo pipefail
cd "$(dirname "$0")/.."

export COMPOSE_PROJECT_NAME=cachelab-compose-test
export DEBIAN_FRONTEND=noninteractive
t0=$(date +%s)
work=$(mktemp -d /tmp/cachelab-compose-test.XXXXXX)
measured=$work/measured # one "name: value" per line, in the order measured
: >"$measured"
started_dockerd=
dockerd_pid=
apt_updated=

elapsed() { echo $(($(date +%s) - t0)); }
say() { echo "[compose-test $(elapsed) s] $*"; }
measure() { echo "$1" >>"$measured"; }
fail() {
  echo "compose-test: $*" >&2
  exit 1
}

# --- teardown: runs once, whatever happened ----------------------------------------------------

# The host's network state, recorded just before this script starts dockerd.
net_saved=
save_network() {
  iptables-save >"$work/iptables.v4"
  if command -v ip6tables-save >/dev/null; then ip6tables-save >"$work/iptables.v6"; fi
  sysctl -e net.ipv4.ip_forward net.ipv6.conf.all.forwarding \
    net.bridge.bridge-nf-call-iptables net.bridge.bridge-nf-call-ip6tables \
    2>/dev/null | sed 's/ = /=/' >"$work/sysctl"
  ip -o link show | awk -F': ' '{print $2}' | cut -d@ -f1 | sort >"$work/links"
  net_saved=1
}

# iptables-restore replaces the tables the saved rules name; a table that was empty before (so not
# saved) is emptied instead: dockerd fills nat and filter from nothing on a fresh host.
restore_tables() {
  local tool=$1 saved=$2 table
  [ -f "$saved" ] || return 0
  "$tool-restore" <"$saved"
  for table in filter nat mangle raw; do
    grep -q "^\*$table\$" "$saved" && continue
    "$tool" -t "$table" -S >/dev/null 2>&1 || continue
    "$tool" -t "$table" -F && "$tool" -t "$table" -X
    "$tool" -t "$table" -S | awk '$1 == "-P" {print $2}' |
      while read -r chain; do "$tool" -t "$table" -P "$chain" ACCEPT; done
  done
}

restore_network() {
  [ -n "$net_saved" ] || return 0
  restore_tables iptables "$work/iptables.v4" || echo "compose-test: could not restore iptables" >&2
  restore_tables ip6tables "$work/iptables.v6" || echo "compose-test: could not restore ip6tables" >&2
  sysctl -q -w $(cat "$work/sysctl") >/dev/null || echo "compose-test: could not restore sysctls" >&2
  # Links dockerd made (docker0, bridges and veths of networks it did not get to remove).
  ip -o link show | awk -F': ' '{print $2}' | cut -d@ -f1 | sort |
    comm -13 "$work/links" - | while read -r link; do
      case $link in docker0 | br-* | veth*) ip link delete "$link" 2>/dev/null || true ;; esac
    done
}

# NAT rules that a dockerd killed without a clean stop left behind, for a bridge that no longer
# exists. `-s <subnet> ! -o br-<gone> -j MASQUERADE` also masquerades the traffic between the
# containers of the next network given that subnet: a Redis Cluster node then sees its peers at
# the gateway's address and never completes their handshake. Removed before this script starts a
# dockerd of its own (and so not restored afterwards), as that dockerd would have removed them.
drop_stale_docker_rules() {
  local rule bridge
  iptables -t nat -S POSTROUTING 2>/dev/null | while read -r rule; do
    bridge=$(sed -n 's/.* ! -o \(br-[0-9a-f]*\) -j MASQUERADE$/\1/p' <<<"$rule")
    [ -n "$bridge" ] || continue
    ip link show "$bridge" >/dev/null 2>&1 && continue
    say "removing a NAT rule left for bridge $bridge, which no longer exists: ${rule#-A }"
    # shellcheck disable=SC2086 # the rule's words, as iptables printed them
    iptables -t nat ${rule/#-A/-D}
  done
}

stop_dockerd() {
  [ -n "$started_dockerd" ] || return 0
  say "stopping the dockerd this test started (pid $dockerd_pid)"
  kill -TERM "$dockerd_pid" 2>/dev/null || true
  for _ in $(seq 150); do
    kill -0 "$dockerd_pid" 2>/dev/null || break
    sleep 0.2
  done
  if kill -0 "$dockerd_pid" 2>/dev/null; then
    echo "compose-test: dockerd did not stop within 30 s: SIGKILL" >&2
    kill -KILL "$dockerd_pid" 2>/dev/null || true
  fi
}

stack_up=
step_pid=
# Runs a long step in a process group of its own and waits for it: bash runs a trap only once the
# foreground command has ended, while `wait` returns at once on a signal, so a TERM (a CI timeout)
# reaches finish() at once, and finish() ends the step's whole group.
step() {
  setsid "$@" &
  step_pid=$!
  local code=0
  wait "$step_pid" || code=$?
  step_pid=
  return "$code"
}

finish() {
  local code=$?
  trap - EXIT INT TERM
  set +e
  if [ -n "$step_pid" ]; then
    kill -TERM -- "-$step_pid" 2>/dev/null
    wait "$step_pid" 2>/dev/null
  fi
  if [ -n "$stack_up" ]; then
    # With the profile: its services too (a profile's services are not taken down without it).
    docker compose --profile cluster --profile languages down -v --remove-orphans --timeout 5 >>"$work/down.log" 2>&1
  fi
  stop_dockerd
  restore_network
  local facts
  facts=$(paste -sd ';' "$measured" | sed 's/;/; /g')
  rm -rf "$work"
  if [ "$code" = 0 ]; then
    echo "compose test: passed in $(elapsed) s; ${facts}"
  else
    echo "compose test: FAILED (exit $code) after $(elapsed) s; ${facts:-nothing measured}"
  fi
  exit "$code"
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- 1. the engine -----------------------------------------------------------------------------

apt_install() {
  [ "$(id -u)" = 0 ] || fail "needs root to install $* (or install them yourself)"
  if [ -z "$apt_updated" ]; then
    apt-get update -q >"$work/apt.log" 2>&1 || { tail -5 "$work/apt.log"; fail "apt-get update failed"; }
    apt_updated=1
  fi
  # No service starts at install time: this script starts dockerd itself and knows it did.
  local policy=
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    policy=1
  fi
  apt-get install -y -q --no-install-recommends "$@" >>"$work/apt.log" 2>&1 ||
    { [ -z "$policy" ] || rm -f /usr/sbin/policy-rc.d; tail -20 "$work/apt.log"; fail "apt-get install $* failed"; }
  [ -z "$policy" ] || rm -f /usr/sbin/policy-rc.d
  say "installed $*"
}

if ! docker info >/dev/null 2>&1; then
  packages=()
  command -v dockerd >/dev/null || packages+=(docker.io)
  command -v iptables >/dev/null || packages+=(iptables)
  command -v docker-compose >/dev/null || docker compose version >/dev/null 2>&1 || packages+=(docker-compose)
  [ ${#packages[@]} = 0 ] || apt_install "${packages[@]}"
  [ "$(id -u)" = 0 ] || fail "no Docker engine answers, and starting dockerd needs root"
  drop_stale_docker_rules
  save_network
  say "starting dockerd (log: $work/dockerd.log while the test runs)"
  # In a session of its own, so that Ctrl-C reaches this script, which then stops it in order.
  setsid dockerd >"$work/dockerd.log" 2>&1 </dev/null &
  dockerd_pid=$!
  started_dockerd=1
  for _ in $(seq 150); do
    docker info >/dev/null 2>&1 && break
    kill -0 "$dockerd_pid" 2>/dev/null || { tail -20 "$work/dockerd.log"; fail "dockerd exited"; }
    sleep 0.2
  done
  docker info >/dev/null 2>&1 || { tail -20 "$work/dockerd.log"; fail "dockerd did not answer within 30 s"; }
elif ! command -v docker-compose >/dev/null && ! docker compose version >/dev/null 2>&1; then
  apt_install docker-compose
fi
if ! docker compose version >/dev/null 2>&1; then
  # Compose v1 only: the CLI plugin that forwards `docker compose` to it, in a config of our own.
  mkdir -p "$work/docker-config/cli-plugins"
  cp docker/cli-plugins/docker-compose "$work/docker-config/cli-plugins/"
  [ ! -f "${DOCKER_CONFIG:-$HOME/.docker}/config.json" ] ||
    cp "${DOCKER_CONFIG:-$HOME/.docker}/config.json" "$work/docker-config/"
  export DOCKER_CONFIG=$work/docker-config
fi
say "engine: $(docker version -f 'dockerd {{.Server.Version}}'), $(docker compose version --short 2>/dev/null | head -n 1 | sed 's/^/compose /')"
measure "engine ready: $(elapsed) s$([ -n "$started_dockerd" ] && echo ' (dockerd started by the test)')"

# A stack left by an interrupted run of this test goes first.
if [ -n "$(docker ps -aq --filter "label=com.docker.compose.project=$COMPOSE_PROJECT_NAME")" ]; then
  docker compose --profile cluster --profile languages down -v --remove-orphans --timeout 5 >/dev/null 2>&1 || true
fi

# --- 2. the base images ------------------------------------------------------------------------

base_images=(node:20-bookworm-slim redis:7 postgres:16 python:3.11-slim-bookworm golang:1.26-bookworm)
mode=${COMPOSE_TEST_BASE_IMAGES:-auto}
if [ "$mode" = auto ]; then
  # One pull tells whether a registry answers; a network without one fails it within seconds.
  if timeout 30 docker pull -q redis:7 >"$work/pull.log" 2>&1; then mode=registry; else mode=stand-ins; fi
  say "registry probe: $(tail -n 1 "$work/pull.log")"
fi
case $mode in
  registry)
    for image in "${base_images[@]}"; do docker pull -q "$image" >/dev/null; done
    ;;
  stand-ins)
    command -v debootstrap >/dev/null || apt_install debootstrap
    step docker/stand-ins/build.sh
    ;;
  *) fail "COMPOSE_TEST_BASE_IMAGES must be auto, registry or stand-ins, not $mode" ;;
esac
measure "base images ($mode) ready: $(elapsed) s"

# --- 3. the stack ------------------------------------------------------------------------------

# Free loopback ports for the ten published ports (never those of npm start or this host's
# Redis and PostgreSQL).
read -r REDIS_HOST_PORT POSTGRES_HOST_PORT APP_1_HOST_PORT APP_2_HOST_PORT APP_3_HOST_PORT \
  APP_PYTHON_HOST_PORT APP_GO_HOST_PORT \
  CLUSTER_APP_1_HOST_PORT CLUSTER_APP_2_HOST_PORT CLUSTER_APP_3_HOST_PORT < <(
  node -e '
    const net = require("node:net");
    const avoid = new Set([3001, 3002, 3003, 3004, 3005, 5432, 6379, 25432]);
    const ports = [];
    const next = () => {
      if (ports.length === 10) return console.log(ports.join(" "));
      const server = net.createServer().listen(0, "127.0.0.1", () => {
        const { port } = server.address();
        server.close(() => { if (!avoid.has(port) && !ports.includes(port)) ports.push(port); next(); });
      });
    };
    next();'
)
export REDIS_HOST_PORT POSTGRES_HOST_PORT APP_1_HOST_PORT APP_2_HOST_PORT APP_3_HOST_PORT \
  APP_PYTHON_HOST_PORT APP_GO_HOST_PORT CLUSTER_APP_1_HOST_PORT CLUSTER_APP_2_HOST_PORT CLUSTER_APP_3_HOST_PORT

# One image at a time (two cores): each build's time is its own. An image whose context did not
# change since the last run comes from the engine's cache in a few seconds.
build_image() {
  local service=$1 what=$2 started
  started=$(date +%s)
  say "building the $what"
  step docker compose --profile languages build "$service" >"$work/build-$service.log" 2>&1 ||
    { tail -40 "$work/build-$service.log"; fail "the $what did not build"; }
  measure "$what built in $(($(date +%s) - started)) s"
}
build_image app-1 "app image (./Dockerfile)"
build_image app-python "Python instance image (languages/python/Dockerfile)"
build_image app-go "Go instance image (languages/go/instance/Dockerfile)"

stack_up=1
# The one-Redis stack with the `languages` profile: Node, Python and Go instances together.
step node --import tsx scripts/compose/check-stack.ts "$measured"
# The `cluster` profile: the same app image, six Redis nodes of the same redis:7 image.
step node --import tsx scripts/compose/check-cluster.ts "$measured"
stack_up=
# What stays cached in the engine for the next run.
say "images kept: $(docker images --format '{{.Repository}}:{{.Tag}} {{.Size}}' | paste -sd ',' | sed 's/,/, /g')"
