"""Node keys: identifiers usable in templates (`nodes.<key>.output`).

Letters, digits and `_`, starting with a letter or `_`, at most 64 characters. The same rules as
`src/keys.mjs`, which the browser uses for drops and pastes, so both sides derive the same keys.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection

__all__ = ["KEY_MAX", "copy_key", "is_valid_key", "key_base", "unique_key"]

KEY_MAX = 64
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


def is_valid_key(key: object) -> bool:
    """Whether `key` is a well-formed node key."""
    return isinstance(key, str) and _KEY.fullmatch(key) is not None


def key_base(text: str | None) -> str:
    """The key `text` (an agent id, a title) suggests: `HTTP request` → `http_request`, `3d` → `node_3d`."""
    ascii_text = unicodedata.normalize("NFKD", text or "").encode("ascii", "ignore").decode()
    base = re.sub(r"_+", "_", re.sub(r"[^a-z0-9_]+", "_", ascii_text.lower())).strip("_") or "node"
    if base[0].isdigit():
        base = f"node_{base}"
    return base[:KEY_MAX]


def unique_key(text: str | None, taken: Collection[str]) -> str:
    """The first key derived from `text` that is not in `taken`: `transform`, `transform_2`, `transform_3`…"""
    base = key_base(text)
    if base not in taken:
        return base
    index = 2
    while True:
        suffix = f"_{index}"
        key = base[: KEY_MAX - len(suffix)] + suffix
        if key not in taken:
            return key
        index += 1


def copy_key(key: str, taken: Collection[str]) -> str:
    """A fresh key for a copy of the node `key` (`transform_3` → `transform_4` when that is free)."""
    # ASCII digits at the very end only, as in JavaScript (`\d` would take any digit, `$` a final newline too)
    return unique_key(re.sub(r"_[0-9]+\Z", "", key), taken)
