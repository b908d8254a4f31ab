"""The request rules of the instance, rule for rule as packages/app/src/validation.ts."""

from __future__ import annotations

import pytest

from cachelab_instance.errors import HttpError
from cachelab_instance.validation import (
    accepted_versions,
    none_match_fails,
    parse_entity_tags,
    parse_read_options,
    parse_user_id,
    parse_user_input,
)

GOOD = {"name": "Ada", "email": "ada@example.com", "age": 36}


@pytest.mark.parametrize("raw", ["a:b", "a*b", "a?b", "a[b", "", "a" * 65, "a/b", "é"])
def test_refuses_ids_outside_the_alphabet_or_length(raw: str) -> None:
    with pytest.raises(HttpError) as caught:
        parse_user_id(raw)
    assert (caught.value.status, caught.value.code) == (400, "E_INVALID_ID")


def test_accepts_ids_of_the_url_safe_alphabet() -> None:
    assert parse_user_id("aZ0_-" + "x" * 59) == "aZ0_-" + "x" * 59


@pytest.mark.parametrize(
    "body",
    [
        [1],
        None,
        "text",
        {**GOOD, "admin": True},
        {**GOOD, "__proto__": {}},
        {**GOOD, "age": "36"},
        {**GOOD, "age": 36.5},
        {**GOOD, "age": True},
        {**GOOD, "age": 151},
        {**GOOD, "name": "   "},
        {**GOOD, "name": "x" * 101},
        {**GOOD, "name": "a\0"},
        {**GOOD, "name": "\ud800"},
        {**GOOD, "email": "nope"},
        {"name": "Ada", "email": "ada@example.com"},
    ],
)
def test_refuses_bodies_that_are_not_exactly_a_user(body: object) -> None:
    with pytest.raises(HttpError) as caught:
        parse_user_input(body)
    assert (caught.value.status, caught.value.code) == (400, "E_INVALID_BODY")


def test_counts_name_length_in_utf16_units_and_takes_integral_floats() -> None:
    assert parse_user_input({**GOOD, "name": "😀" * 50}).name == "😀" * 50
    with pytest.raises(HttpError):
        parse_user_input({**GOOD, "name": "😀" * 51})
    assert parse_user_input({**GOOD, "age": 100.0}).age == 100


def test_reads_min_version_and_consistency_and_refuses_repeats() -> None:
    assert parse_read_options("7", "strict").min_version == 7
    assert parse_read_options(None, None).consistency == "eventual"
    for min_version, consistency in [
        ("abc", None),
        ("1, 2", None),
        (None, "bogus"),
        ("9" * 17, None),
    ]:
        with pytest.raises(HttpError) as caught:
            parse_read_options(min_version, consistency)
        assert caught.value.code == "E_INVALID_HEADER"


def test_entity_tags_compare_weakly_for_if_none_match_and_strongly_for_if_match() -> None:
    tags = parse_entity_tags("If-Match", 'W/"v7", "v8", "other"')
    assert tags is not None
    assert accepted_versions(tags) == [8]
    assert none_match_fails(tags, 7)
    assert accepted_versions("*") is None
    assert parse_entity_tags("If-Match", None) is None
    for raw in ["v7", "", '"v7" junk', ", ".join(['"a"'] * 65)]:
        with pytest.raises(HttpError) as caught:
            parse_entity_tags("If-Match", raw)
        assert caught.value.code == "E_INVALID_HEADER"
