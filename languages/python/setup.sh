#!/usr/bin/env bash
# Prepares languages/python/.venv for the Python instance (`cachelab-instance`): creates the
# virtual environment when missing and installs this package with its `instance` extra. Idempotent
# and quick when nothing changed; `npm start` and the lab run it once before starting Python
# instances (the `prepare` command of packages/lab/src/instance-languages.ts).
#
#   bash languages/python/setup.sh            (PYTHON=python3.12 to pick the interpreter)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PYTHON="${PYTHON:-python3}"
VENV="$HERE/.venv"
STAMP="$VENV/.instance-installed"

[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
# Reinstalled only when pyproject.toml changed since the last install.
if [ ! -f "$STAMP" ] || [ "$HERE/pyproject.toml" -nt "$STAMP" ] || [ ! -x "$VENV/bin/cachelab-instance" ]; then
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e "$HERE[instance]"
  touch "$STAMP"
fi
