"""Keys Flowyard generates for itself, once, into the data directory (readable by its owner only)."""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable
from pathlib import Path

from cryptography.fernet import Fernet

from app.settings import Settings

__all__ = ["callback_secret", "secret_key", "storage_secret"]

CALLBACK_SECRET_FILE = "callback_secret"
SECRET_KEY_FILE = "secret.key"
STORAGE_SECRET_FILE = "storage_secret"


def callback_secret(settings: Settings) -> str:
    """`FLOWYARD_CALLBACK_SECRET`, else the key in the data directory, generated on first use and kept."""
    if settings.callback_secret:
        return settings.callback_secret
    return _generated_key(settings.data_dir / CALLBACK_SECRET_FILE)


def storage_secret(settings: Settings) -> str:
    """`FLOWYARD_STORAGE_SECRET`, else a key generated once into the data directory (never a public default)."""
    if settings.storage_secret:
        return settings.storage_secret
    return _generated_key(settings.data_dir / STORAGE_SECRET_FILE)


def secret_key(settings: Settings) -> str:
    """The Fernet key that encrypts credentials: `FLOWYARD_SECRET_KEY`, else one generated into the data directory.

    Losing it makes every stored credential unreadable; replacing it means entering them again.
    """
    if settings.secret_key:
        return settings.secret_key
    path = settings.data_dir / SECRET_KEY_FILE
    key = _generated_key(path, make=lambda: Fernet.generate_key().decode())
    try:
        Fernet(key)
    except ValueError:
        raise RuntimeError(
            f"{path} does not hold a Fernet key: restore the right file, or set FLOWYARD_SECRET_KEY"
        ) from None
    return key


def _generated_key(path: Path, make: Callable[[], str] = lambda: secrets.token_hex(32)) -> str:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)  # the data directory: its owner's only
    try:
        # O_EXCL: of two processes starting together, one writes the key and the other reads it.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_key(path)
    key = make()
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
