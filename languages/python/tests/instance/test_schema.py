"""The schema's SQL is packages/store/src/schema.ts's, so that instances of both languages prepare
one database alike (and none undoes what another installed)."""

from __future__ import annotations

import re
from pathlib import Path

from cachelab_instance import schema

SCHEMA_TS = Path(__file__).parents[4] / "packages" / "store" / "src" / "schema.ts"
SUBSTITUTIONS = {
    "${USER_KEY_PREFIX}": "user:",
    "${WAKE_RELAY_SETTING}": "cachelab.wake_relay",
    "${OUTBOX_CHANNEL}": "cachelab_outbox",
}


def _constant(source: str, pattern: str) -> str:
    match = re.search(pattern, source, re.S)
    assert match is not None, pattern
    text = match.group(1)
    for placeholder, value in SUBSTITUTIONS.items():
        text = text.replace(placeholder, value)
    return text


def test_the_statements_are_those_of_the_node_store() -> None:
    source = SCHEMA_TS.read_text()
    assert _constant(source, r"const CREATE_TABLE = `(.*?)`;") == schema.CREATE_TABLE
    assert _constant(source, r"const MIGRATE = `(.*?)`;") == schema.MIGRATE
    seed = _constant(source, r"const seed = \(count: number\) => `(.*?)`;")
    assert seed.replace("${count}", "{count}") == schema.SEED
    for placeholder, value in SUBSTITUTIONS.items():
        assert f"const {placeholder[2:-1]} = '{value}'" in source
