"""The protocol's Lua scripts: the one copy in ``protocol/scripts/`` of the repository, which
the wheel carries as ``cachelab/lua/`` and a source checkout reads where it is. Loaded byte for
byte, so every language's instances run the same script (the same SHA1)."""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path

#: protocol/scripts, seen from src/cachelab/ in a source checkout (an editable install, the tests).
_CHECKOUT_SCRIPTS = Path(__file__).resolve().parents[4] / "protocol" / "scripts"

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
    packaged = resources.files("cachelab").joinpath("lua", name)
    if packaged.is_file():
        return packaged.read_text("utf-8")
    return (_CHECKOUT_SCRIPTS / name).read_text("utf-8")
