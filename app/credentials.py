"""Credentials: named secrets that agents use by name, encrypted at rest with Fernet.

The plaintext exists only in memory: between a request that sets it and the encryption, and between
the decryption for one agent call and the end of that call. The API, the UI, run records, exports and
logs see a credential's name and type, never its values.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal, cast, get_args

from cryptography.fernet import Fernet, InvalidToken
from sqlmodel import Session

from app.agents.base import Credential
from app.engine.exceptions import AgentError, InvalidInput
from storage import credentials as repo
from storage.db import Database
from storage.models import CredentialRow

__all__ = [
    "CREDENTIAL_TYPES",
    "VALUE_FIELDS",
    "CredentialInfo",
    "CredentialType",
    "StoredCredentials",
    "Vault",
    "check_name",
    "check_type",
    "check_values",
]

CredentialType = Literal["api_key", "bearer", "basic", "header"]
CREDENTIAL_TYPES: Final[tuple[str, ...]] = get_args(CredentialType)
VALUE_FIELDS: Final[dict[str, tuple[str, ...]]] = {
    "api_key": ("token",),
    "bearer": ("token",),
    "basic": ("username", "password"),
    "header": ("name", "value"),
}
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


@dataclass(frozen=True)
class CredentialInfo:
    """What anyone may see of a credential: everything but its values."""

    name: str
    type: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: CredentialRow) -> CredentialInfo:
        return cls(name=row.name, type=row.type, created_at=row.created_at, updated_at=row.updated_at)


def check_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise InvalidInput("name", "use 1 to 100 letters, digits, '_', '-' or '.', starting with a letter or digit")
    return name


def check_type(type: str) -> CredentialType:
    if type not in CREDENTIAL_TYPES:
        raise InvalidInput("type", f"unknown credential type '{type}'; one of {', '.join(CREDENTIAL_TYPES)}")
    return cast(CredentialType, type)


def check_values(type: str, values: Any) -> dict[str, str]:
    """The values a credential of `type` needs, exactly; InvalidInput names the first missing or wrong field."""
    if not isinstance(values, dict):
        raise InvalidInput("values", "must be an object")
    fields = VALUE_FIELDS[check_type(type)]
    for key in values:
        if key not in fields:
            raise InvalidInput(f"values.{key}", f"not a field of a {type} credential (it has {', '.join(fields)})")
    for key in fields:
        value = values.get(key)
        if not isinstance(value, str) or not value:
            raise InvalidInput(f"values.{key}", "required: a non-empty string")
        if "\n" in value or "\r" in value:
            raise InvalidInput(f"values.{key}", "must be on one line")
    if type == "header" and not _HEADER_NAME.fullmatch(values["name"]):
        raise InvalidInput("values.name", "not a valid HTTP header name")
    return {key: values[key] for key in fields}


class Vault:
    """Encrypts and decrypts credential values with one Fernet key."""

    def __init__(self, key: str) -> None:
        self._fernet = Fernet(key)

    def __repr__(self) -> str:
        return "Vault()"

    def seal(self, values: dict[str, str]) -> bytes:
        return self._fernet.encrypt(json.dumps(values).encode())

    def open(self, name: str, token: bytes) -> dict[str, str]:
        try:
            return cast(dict[str, str], json.loads(self._fernet.decrypt(token)))
        except InvalidToken:
            raise AgentError(
                f"credential '{name}' cannot be decrypted with this secret key: was FLOWYARD_SECRET_KEY or "
                "the data directory's secret.key changed? Restore it, or enter the credential again",
                retryable=False,
            ) from None


class StoredCredentials:
    """The `CredentialResolver` agents get: credentials from the database, decrypted for one use."""

    def __init__(self, db: Database, vault: Vault) -> None:
        self._db = db
        self._vault = vault

    def _read(self, name: str) -> CredentialRow | None:
        with Session(self._db.engine, expire_on_commit=False) as session:
            return repo.get_credential(session, name=name)

    async def get(self, name: str) -> Credential:
        row = await self._db.run(self._read, name)
        if row is None:
            raise AgentError(f"credential '{name}' does not exist: add it under Credentials", retryable=False)
        return Credential(name=row.name, type=check_type(row.type), values=self._vault.open(name, row.secret))
