"""Request validation, rule for rule as ``packages/app/src/validation.ts`` and ``conditional.ts``:
the same input gets the same 4xx answer from a Python instance as from a Node one."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from cachelab_instance.errors import INVALID_ID, HttpError, invalid_body, invalid_header

_USER_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
# JavaScript's \s, which Python's str \s matches too for these characters.
_EMAIL = re.compile(r"[^\s@]+@[^\s@]+\.[^\s@]+")
_FIELDS = ("name", "email", "age")
_ENTITY_TAG = re.compile(r'(W/)?"([\x21\x23-\x7e\x80-\xff]*)"')
_VERSION_TAG = re.compile(r"v(\d{1,16})")
_MIN_VERSION = re.compile(r"\d{1,16}")
#: Most entity tags one header may list.
MAX_ENTITY_TAGS = 64
_MAX_SAFE_INTEGER = 2**53 - 1


@dataclass(frozen=True, slots=True)
class UserInput:
    """A valid user body."""

    name: str
    email: str
    age: int


@dataclass(frozen=True, slots=True)
class ReadOptions:
    """``X-Min-Version`` and ``X-Consistency`` of a read."""

    min_version: int = 0
    consistency: Literal["eventual", "strict"] = "eventual"


def parse_user_id(raw: str) -> str:
    """``raw`` when it is a valid user id (``[A-Za-z0-9_-]``, 1-64 characters); 400 otherwise."""
    if _USER_ID.fullmatch(raw):
        return raw
    raise HttpError(400, INVALID_ID, "user ids are 1-64 characters of [A-Za-z0-9_-]")


def _js_length(text: str) -> int:
    """The length JavaScript reports: UTF-16 code units."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _storable(text: str) -> bool:
    """Text Postgres stores as sent: no NUL, no lone surrogate."""
    return "\0" not in text and not any("\ud800" <= ch <= "\udfff" for ch in text)


def parse_user_input(body: Any) -> UserInput:
    """Exactly ``name`` (1-100), ``email`` (an address, ≤ 254) and ``age`` (integer 0-150)."""
    if not isinstance(body, dict):
        raise invalid_body("the body must be a JSON object with name, email and age")
    unknown = [key for key in body if key not in _FIELDS]
    if unknown:
        raise invalid_body(f"unknown field(s): {', '.join(unknown[:5])}")
    name, email, age = body.get("name"), body.get("email"), body.get("age")
    if not isinstance(name, str) or not name.strip() or _js_length(name) > 100:
        raise invalid_body("`name` must be a non-empty string of at most 100 characters")
    if not isinstance(email, str) or _js_length(email) > 254 or not _EMAIL.fullmatch(email):
        raise invalid_body("`email` must be an e-mail address of at most 254 characters")
    if not _storable(name):
        raise invalid_body("`name` must not hold a NUL or an unpaired surrogate")
    if not _storable(email):
        raise invalid_body("`email` must not hold a NUL or an unpaired surrogate")
    # JSON's 30.0 is JavaScript's integer 30; a bool is never a number.
    if isinstance(age, float) and age.is_integer():
        age = int(age)
    if isinstance(age, bool) or not isinstance(age, int) or not 0 <= age <= 150:
        raise invalid_body("`age` must be an integer from 0 to 150")
    return UserInput(name, email, age)


def parse_read_options(min_version: str | None, consistency: str | None) -> ReadOptions:
    """``X-Min-Version`` (a version number) and ``X-Consistency`` (``eventual``/``strict``)."""
    if min_version is None and consistency is None:
        return ReadOptions()
    _reject_repeated("X-Min-Version", min_version)
    _reject_repeated("X-Consistency", consistency)
    version = 0
    if min_version is not None:
        if not _MIN_VERSION.fullmatch(min_version) or int(min_version) > _MAX_SAFE_INTEGER:
            raise invalid_header("`X-Min-Version` must be a version number")
        version = int(min_version)
    if consistency is not None and consistency not in ("eventual", "strict"):
        raise invalid_header("`X-Consistency` must be eventual or strict")
    return ReadOptions(version, "strict" if consistency == "strict" else "eventual")


def _reject_repeated(name: str, value: str | None) -> None:
    if value is not None and "," in value:
        raise invalid_header(
            f'`{name}` is a repeated header (got "{value[:100]}"): send it once, with one value'
        )


#: ``*`` or a list of (opaque, weak) entity tags.
EntityTags = Literal["*"] | list[tuple[str, bool]]


def parse_entity_tags(name: str, raw: str | None) -> EntityTags | None:
    """An ``If-Match`` / ``If-None-Match``: None when absent, 400 when malformed."""
    if raw is None:
        return None
    value = raw.strip()
    if value == "*":
        return "*"
    parts = [part.strip() for part in value.split(",")]
    tags: list[tuple[str, bool]] = []
    for part in parts:
        if part == "" and len(parts) > 1:
            continue
        match = _ENTITY_TAG.fullmatch(part)
        if match is None or len(tags) >= MAX_ENTITY_TAGS:
            raise _malformed(name)
        tags.append((match.group(2), match.group(1) is not None))
    if not tags:
        raise _malformed(name)
    return tags


def _malformed(name: str) -> HttpError:
    return invalid_header(
        f'`{name}` must be * or a list of at most {MAX_ENTITY_TAGS} entity tags such as "v7"'
    )


def _version_of(opaque: str) -> int | None:
    match = _VERSION_TAG.fullmatch(opaque)
    if match is None:
        return None
    version = int(match.group(1))
    return version if version <= _MAX_SAFE_INTEGER else None


def none_match_fails(condition: EntityTags, version: int) -> bool:
    """``If-None-Match`` by weak comparison: True when the client's copy is current (304)."""
    if condition == "*":
        return True
    return any(_version_of(opaque) == version for opaque, _ in condition)


def accepted_versions(condition: EntityTags) -> list[int] | None:
    """The versions an ``If-Match`` accepts by strong comparison; None for ``*`` (any)."""
    if condition == "*":
        return None
    versions = []
    for opaque, weak in condition:
        version = None if weak else _version_of(opaque)
        if version is not None:
            versions.append(version)
    return versions


def etag_of(version: int) -> str:
    """The ``ETag`` of a user at ``version``: ``"v7"``."""
    return f'"v{version}"'
