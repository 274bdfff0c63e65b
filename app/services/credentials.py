"""Credentials: named secrets that agents use by name, encrypted at rest with Fernet.

The plaintext exists only in memory: between a request that sets it and the encryption, and between
the decryption for one agent call and the end of that call. The API, the UI, run records, exports and
logs see a credential's name and type, never its values.
"""

from __future__ import annotations

import builtins
import json
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any, cast

from cryptography.fernet import Fernet, InvalidToken
from sqlmodel import Session

from app.engine.exceptions import AgentError, Conflict, InvalidInput, NotFound
from app.engine.kinds import Credential
from app.models.agents import CREDENTIAL_TYPES, VALUE_FIELDS, CredentialPublic, CredentialType
from app.models.people import SYSTEM, Principal
from app.services.audit import AuditService
from storage import credentials as repo
from storage.db import Database
from storage.models import CredentialRow

__all__ = ["CredentialService", "StoredCredentials", "Vault", "check_name", "check_type", "check_values"]

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


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

    async def get(self, name: str) -> Credential:
        row = await self._db.tx(lambda s: repo.get_credential(s, name=name))
        if row is None:
            raise AgentError(f"credential '{name}' does not exist: add it under Credentials", retryable=False)
        return Credential(name=row.name, type=check_type(row.type), values=self._vault.open(name, row.secret))


class CredentialService:
    """Credentials as people manage them: names and types to see, values to set, never to read back."""

    def __init__(self, db: Database, vault: Vault, audit: AuditService, *, now: Callable[[], datetime]) -> None:
        self._db = db
        self._audit = audit
        self.vault = vault
        self._now = now

    async def list(self) -> builtins.list[CredentialPublic]:
        """Every credential's name, type and timestamps, by name; never its values."""
        rows = await self._db.tx(repo.list_credentials)
        return [CredentialPublic.model_validate(row) for row in rows]

    async def create(self, name: str, type: str, values: dict[str, str], *, by: Principal = SYSTEM) -> CredentialPublic:
        """Store a new credential, encrypted; Conflict when the name is taken."""
        check_name(name)
        sealed = self.vault.seal(check_values(check_type(type), values))

        def create(session: Session) -> CredentialRow:
            if repo.get_credential(session, name=name) is not None:
                raise Conflict(f"a credential named '{name}' exists already")
            now = self._now()
            row = CredentialRow(name=name, type=type, secret=sealed, created_at=now, updated_at=now)
            session.add(row)
            self._audit.add(session, by, "credential.create", target=name, detail=type)
            return row

        return CredentialPublic.model_validate(await self._db.tx(create))

    async def update(self, name: str, values: dict[str, str], *, by: Principal = SYSTEM) -> CredentialPublic:
        """Replace a credential's values (its name and type stay); the old values cannot be read back."""

        def update(session: Session) -> CredentialRow:
            row = repo.get_credential(session, name=name)
            if row is None:
                raise NotFound("credential", name)
            row.secret = self.vault.seal(check_values(row.type, values))
            row.updated_at = self._now()
            session.add(row)
            self._audit.add(session, by, "credential.replace", target=name)
            return row

        return CredentialPublic.model_validate(await self._db.tx(update))

    async def delete(self, name: str, *, by: Principal = SYSTEM) -> None:
        """Delete a credential; Conflict, listing them, while saved agents or workflow steps refer to it."""

        def delete(session: Session) -> None:
            row = repo.get_credential(session, name=name)
            if row is None:
                raise NotFound("credential", name)
            agents = repo.agents_using_credential(session, name=name)
            workflows = repo.workflows_using_credential(session, name=name)
            if agents or workflows:
                users = [f"agent '{agent_name}' ({agent_id})" for agent_id, agent_name in agents]
                users += [f"workflow '{wf_name}' ({wf_id})" for wf_id, wf_name in workflows]
                raise Conflict(
                    f"credential '{name}' is used by {', '.join(users[:10])}; point them at another credential first"
                )
            session.delete(row)
            self._audit.add(session, by, "credential.delete", target=name)

        await self._db.tx(delete)
