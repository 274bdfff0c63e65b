"""Keys Flowyard generates for itself, once, into the data directory (readable by its owner only)."""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path

from app.settings import Settings

__all__ = ["callback_secret"]

CALLBACK_SECRET_FILE = "callback_secret"


def callback_secret(settings: Settings) -> str:
    """`FLOWYARD_CALLBACK_SECRET`, else the key in the data directory, generated on first use and kept."""
    if settings.callback_secret:
        return settings.callback_secret
    return _generated_key(settings.data_dir / CALLBACK_SECRET_FILE)


def _generated_key(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # O_EXCL: of two processes starting together, one writes the key and the other reads it.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_key(path)
    key = secrets.token_hex(32)
    with os.fdopen(fd, "w") as file:
        file.write(key + "\n")
    return key


def _read_key(path: Path) -> str:
    for _ in range(50):  # the process that created the file may still be writing it
        key = path.read_text().strip()
        if key:
            return key
        time.sleep(0.01)
    raise RuntimeError(f"{path} is empty: delete it to have a new key generated, or set FLOWYARD_CALLBACK_SECRET")
