#!/usr/bin/env bash
# CI of the Go implementation (languages/go): formatting, vet, staticcheck, the tests with the
# race detector (they start their own redis-server, and the instance's their own PostgreSQL), and
# the two-instance example built and run from a fresh module that requires the library.
# Idempotent; needs go (1.26+), redis-server, PostgreSQL's server binaries and the Go module
# proxy. Exits non-zero on any failure.
#
#   bash languages/go/ci.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
module_dir=$PWD
started=$SECONDS
STATICCHECK_VERSION=v0.8.2 # staticcheck 2026.2.2, which supports Go 1.26

step() { printf '\n== %s\n' "$*"; }
fail() {
  echo "ci.sh: $*" >&2
  exit 1
}

command -v go >/dev/null || fail "go is not on PATH (Go 1.26 or later)"
command -v redis-server >/dev/null || fail "redis-server is not on PATH (apt-get install redis-server)"
go version

step "gofmt -l"
unformatted=$(gofmt -l .)
if [ -n "$unformatted" ]; then
  echo "$unformatted"
  fail "these files need gofmt -w"
fi

# The library's module, the instance's (PostgreSQL and Prometheus stay out of the library's
# dependencies), and the example's.
modules=(. instance examples/two-instances)

step "go vet"
for module in "${modules[@]}"; do (cd "$module" && go vet ./...); done

step "staticcheck $STATICCHECK_VERSION"
staticcheck="$(go env GOPATH)/bin/staticcheck"
if ! "$staticcheck" -version 2>/dev/null | grep -q "(${STATICCHECK_VERSION#v})"; then
  go install "honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION"
fi
for module in "${modules[@]}"; do (cd "$module" && "$staticcheck" ./...); done

step "go test -race ./..."
go test -race -count=1 ./...
(cd instance && go test -race -count=1 ./...)

step "the two-instance example, from a fresh module"
work=$(mktemp -d)
redis_pid=""
cleanup() {
  if [ -n "$redis_pid" ]; then
    kill "$redis_pid" 2>/dev/null || true
    wait "$redis_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
cp examples/two-instances/main.go "$work/"
(
  cd "$work"
  go mod init example.com/two-instances >/dev/null 2>&1
  go mod edit -require=github.com/cachelab/cachelab/languages/go@v0.0.0 \
    -replace="github.com/cachelab/cachelab/languages/go=$module_dir"
  go mod tidy
  go build -o two-instances .
)

# A redis-server of its own, on a free port below the kernel's ephemeral range.
ping_redis() { # port → 0 when it answers PONG
  { exec 3<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null || return 1
  printf 'PING\r\n' >&3
  local reply=""
  read -r -t 1 reply <&3 || true
  exec 3<&- 3>&-
  [[ "$reply" == +PONG* ]]
}
for _ in $(seq 1 20); do
  port=$((20000 + RANDOM % 12000))
  if { exec 4<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null; then # taken
    exec 4<&- 4>&-
    continue
  fi
  redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no >"$work/redis.log" 2>&1 &
  redis_pid=$!
  for _ in $(seq 1 100); do
    if ping_redis "$port"; then break 2; fi
    if ! kill -0 "$redis_pid" 2>/dev/null; then break; fi
    sleep 0.05 # a poll interval: ping_redis decides
  done
  kill "$redis_pid" 2>/dev/null || true
  wait "$redis_pid" 2>/dev/null || true
  redis_pid=""
done
[ -n "$redis_pid" ] || fail "could not start redis-server on a free port in 20000-32000"
REDIS_URL="redis://127.0.0.1:$port" "$work/two-instances"

printf '\nci.sh: Go checks passed in %d s\n' "$((SECONDS - started))"
