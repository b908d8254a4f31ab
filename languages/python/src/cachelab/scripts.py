"""The protocol's Lua scripts, read from the files the package carries (``cachelab/lua/``)."""

from __future__ import annotations

from functools import cache
from importlib import resources

#: The scripts of the protocol, by file name.
SCRIPT_NAMES = (
    "read.lua",
    "fill.lua",
    "announce.lua",
    "announce-many.lua",
    "take-lease.lua",
    "release-lease.lua",
)


@cache
def script_text(name: str) -> str:
    """The text of the protocol's script ``name`` (``read.lua``)."""
    if name not in SCRIPT_NAMES:
        raise KeyError(name)
    return resources.files("cachelab").joinpath("lua", name).read_text("utf-8")
