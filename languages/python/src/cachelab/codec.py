"""Values and versions as they travel through Redis, exactly as the Node library encodes them."""

from __future__ import annotations

import json
import math
import re
from typing import Any

from cachelab.errors import InvalidEntryError, VersionUnavailableError
from cachelab.types import Loaded

#: Largest integer a JavaScript number holds exactly: versions stay at or below it.
MAX_SAFE_INTEGER = 2**53 - 1
_VERSION = re.compile(r"\d{1,16}")


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def loads(raw: str | bytes) -> Any:
    """``JSON.parse``: strict JSON (no NaN or Infinity, which JavaScript would refuse)."""
    return json.loads(raw, parse_constant=_no_constants)


def dumps(value: Any) -> str:
    """``JSON.stringify`` for plain data: compact, and NaN or Infinity refused."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def encode_value(value: object) -> str:
    """The payload of a data entry: the value as JSON (``null`` for "not found")."""
    return dumps(value)


def is_count(value: object) -> bool:
    """A non-negative integer JavaScript holds exactly (``1.0`` counts, as in JSON it is 1)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, float):
        return value.is_integer() and 0 <= value <= MAX_SAFE_INTEGER
    return isinstance(value, int) and 0 <= value <= MAX_SAFE_INTEGER


def is_finite_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def parse_version(raw: object) -> int | None:
    """A version read from Redis, or None when it is not one this cache could have written."""
    if isinstance(raw, bytes):
        raw = raw.decode("ascii", "replace")
    if not isinstance(raw, str) or _VERSION.fullmatch(raw) is None:
        return None
    version = int(raw)
    return version if version <= MAX_SAFE_INTEGER else None


def check_entry(entry: Loaded[Any], source: str) -> Loaded[Any]:
    """Returns ``entry`` when it is a value and a version in 0 … 2^53-1; raises otherwise."""
    if not isinstance(entry, Loaded) or not is_count(entry.version):
        raise InvalidEntryError(
            f"{source} must give Loaded(value, version): a value (None for not found) "
            "and a non-negative integer version"
        )
    return entry


def check_min_version(min_version: int) -> int:
    if not is_count(min_version):
        raise InvalidEntryError("`min_version` must be a non-negative integer")
    return int(min_version)


def at_least(key: str, loaded: Loaded[Any], min_version: int) -> Loaded[Any]:
    """``loaded`` if at ``min_version`` or above; no read answers below its token."""
    if loaded.version < min_version:
        raise VersionUnavailableError(key, min_version, loaded.version)
    return loaded
