#!/usr/bin/env bash
# CI for languages/python: lint, format check, mypy --strict, pytest against real redis-servers
# and a PostgreSQL (the tests start and stop their own; the instance's tests need PostgreSQL's
# binaries, /usr/lib/postgresql/15/bin or PG_BIN), then the wheel built and installed into a fresh virtual
# environment that runs the two-instance example. Idempotent; exits non-zero on any failure.
#
#   bash languages/python/ci.sh            (PYTHON=python3.12 to pick the interpreter)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$HERE"
PYTHON="${PYTHON:-python3}"
VENV="$HERE/.venv"
started=$(date +%s)
step() { printf '\n== python: %s (%ss)\n' "$1" "$(($(date +%s) - started))"; }

step "virtual environment and dev dependencies"
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e '.[dev,instance]'

step "ruff check, ruff format --check"
"$VENV/bin/ruff" check .
"$VENV/bin/ruff" format --check .

step "mypy --strict"
"$VENV/bin/mypy"

step "pytest"
# The Node.js interop tests need the repository's node_modules (npm ci at the root); without
# them they are skipped, and CI=true makes that an error rather than a silent skip.
if [ "${CI:-}" = "true" ] && [ ! -d "$HERE/../../node_modules/tsx" ]; then
  echo "python: node_modules missing at the repository root: run npm ci first" >&2
  exit 1
fi
"$VENV/bin/pytest" -p no:cacheprovider

step "wheel"
rm -rf "$HERE/dist"
"$VENV/bin/python" -m build --wheel --no-isolation --outdir "$HERE/dist" . >/dev/null
wheel=$(ls "$HERE"/dist/cachelab-*.whl)
"$VENV/bin/python" - "$wheel" <<'PY'
import sys, zipfile
names = set(zipfile.ZipFile(sys.argv[1]).namelist())
needed = {f"cachelab/lua/{n}.lua" for n in ("read", "fill", "announce", "announce-many", "take-lease", "release-lease")}
needed |= {"cachelab/py.typed", "cachelab/asyncio/__init__.py", "cachelab_instance/main.py"}
missing = needed - names
if missing:
    sys.exit(f"python: the wheel lacks {sorted(missing)}")
print(f"python: {sys.argv[1].rsplit('/', 1)[-1]} has {len(names)} files, the Lua scripts among them")
PY

step "the wheel in a fresh virtual environment: the two-instance example"
fresh="$(mktemp -d)"
redis_pid=""
cleanup() {
  if [ -n "$redis_pid" ]; then kill "$redis_pid" 2>/dev/null || true; wait "$redis_pid" 2>/dev/null || true; fi
  rm -rf "$fresh"
}
trap cleanup EXIT
"$PYTHON" -m venv "$fresh/venv"
"$fresh/venv/bin/python" -m pip install --quiet --disable-pip-version-check "$wheel"
port=$(PYTHONPATH="$HERE/tests" "$VENV/bin/python" -c 'from redis_server import free_port; print(free_port())')
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$fresh" >/dev/null &
redis_pid=$!
"$fresh/venv/bin/python" - "$port" <<'PY'
import sys, time, redis
deadline = time.monotonic() + 10
while True:
    try:
        redis.Redis(port=int(sys.argv[1])).ping()
        break
    except redis.ConnectionError:
        if time.monotonic() > deadline:
            sys.exit("python: redis-server did not start")
        time.sleep(0.02)
PY
cp "$HERE/examples/two_instances.py" "$fresh/"
# Run from the fresh directory, so that `import cachelab` can only find the installed wheel.
output=$(cd "$fresh" && REDIS_URL="redis://127.0.0.1:$port" "$fresh/venv/bin/python" -I two_instances.py)
echo "$output"
expected='{"value": {"name": "Ada"}, "version": 1, "tier": "MISS"}
{"value": {"name": "Grace"}, "version": 2, "tier": "L2"}'
if [ "$output" != "$expected" ]; then
  echo "python: the two-instance example printed something else" >&2
  exit 1
fi
step "done"
