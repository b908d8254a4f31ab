"""languages/python/README.md: the install command it gives, and its examples, which are regions
of examples/quickstart*.py (the repository's snippet rule, scripts/docs/snippets.ts) and print
what the README shows."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from redis_server import RedisServer

HERE = Path(__file__).parents[2]
README = (HERE / "README.md").read_text().splitlines()
REGION_MARKER = re.compile(r"^\s*#\s*#(region|endregion)\s+tutorial:([A-Za-z0-9_.-]+)\s*$")

# (file, region, the output the README shows, the first line of a second run)
EXAMPLES = [
    (
        "examples/quickstart.py",
        "readme",
        ["MISS 1 {'name': 'Ada'}", "L1 1 {'name': 'Ada'}", "L1 2 {'name': 'Grace'}"],
        "L2 2 {'name': 'Grace'}",
    ),
    (
        "examples/quickstart_asyncio.py",
        "readme-asyncio",
        ["MISS 1 {'name': 'Lin'}", "('L1', 1, {'name': 'Lin'})"],
        "L2 1 {'name': 'Lin'}",
    ),
]


def region(path: str, name: str) -> list[str]:
    """The region's lines, without nested markers, dedented and stripped of blank ends."""
    lines = (HERE / path).read_text().splitlines()
    start = lines.index(f"# #region tutorial:{name}")
    end = lines.index(f"# #endregion tutorial:{name}")
    body = [line.rstrip() for line in lines[start + 1 : end] if not REGION_MARKER.match(line)]
    while body and not body[0]:
        body.pop(0)
    while body and not body[-1]:
        body.pop()
    indent = min(len(line) - len(line.lstrip(" ")) for line in body if line)
    return [line[indent:] for line in body]


def fenced_after(index: int) -> list[str]:
    """The body of the fenced block that starts on the README's line after `index`."""
    assert README[index + 1].startswith("```"), README[index + 1]
    end = README.index("```", index + 2)
    return README[index + 2 : end]


def test_readme_says_how_to_install_the_library() -> None:
    assert "pip install ./languages/python" in README
    assert (HERE.parents[1] / "languages/python/pyproject.toml").is_file()


@pytest.mark.parametrize(("path", "name", "shown", "rerun"), EXAMPLES)
def test_readme_shows_the_example_and_its_output(
    path: str, name: str, shown: list[str], rerun: str
) -> None:
    marker = README.index(f"<!-- snippet: languages/python/{path}#{name} -->")
    assert fenced_after(marker) == region(path, name)
    command = README.index(f"$ REDIS_URL=redis://127.0.0.1:6379 python languages/python/{path}")
    assert README[command + 1 : command + 1 + len(shown) + 1] == [*shown, "```"]
    assert any(f"`{rerun}`" in line for line in README)


@pytest.mark.parametrize(("path", "shown", "rerun"), [(e[0], e[2], e[3]) for e in EXAMPLES])
def test_readme_example_prints_what_the_readme_shows(
    own_redis: RedisServer, tmp_path: Path, path: str, shown: list[str], rerun: str
) -> None:
    env = {**os.environ, "REDIS_URL": own_redis.url}

    def run() -> list[str]:
        done = subprocess.run(
            [sys.executable, str(HERE / path)],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        return done.stdout.splitlines()

    assert run() == shown
    assert run()[0] == rerun  # within the entry's TTL, the first read comes from Redis
