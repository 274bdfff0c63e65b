"""Saved agents, the kinds they are made from, and credentials."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final, Literal, get_args

import sqlalchemy as sa
from pydantic import Field as PydanticField
from pydantic import field_validator
from sqlmodel import Field, SQLModel

from app.models.base import Input, Name, Public

__all__ = [
    "CREDENTIAL_TYPES",
    "RESERVED_AGENT_IDS",
    "VALUE_FIELDS",
    "AgentBase",
    "AgentCreate",
    "AgentPublic",
    "AgentSummary",
    "AgentUpdate",
    "CredentialBase",
    "CredentialCreate",
    "CredentialPublic",
    "CredentialType",
    "CredentialUpdate",
    "KindPublic",
]

RESERVED_AGENT_IDS = frozenset({"kinds", ".", ".."})
"""Ids /api/v1/agents/<id> cannot address: a route of its own, or a path segment clients resolve away."""


class AgentBase(SQLModel):
    name: str = Field(max_length=200)
    kind: str = Field(max_length=64)
    description: str = Field(default="", max_length=5000)
    config: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)


class AgentCreate(AgentBase, Input):
    id: str | None = PydanticField(
        None, pattern=r"^[A-Za-z0-9_.-]{1,100}$", description="Stable id; generated when omitted."
    )
    name: Name = Field(min_length=1, max_length=200)
    kind: str = Field(min_length=1, max_length=64)

    @field_validator("id")
    @classmethod
    def _not_a_route(cls, value: str | None) -> str | None:
        if value in RESERVED_AGENT_IDS:
            raise ValueError(f"'{value}' cannot be an agent id: /api/v1/agents/{value} would not address the agent")
        return value


class AgentUpdate(Input):
    name: Name | None = Field(None, min_length=1, max_length=200)
    description: str | None = Field(None, max_length=5000)
    config: dict[str, Any] | None = None


class AgentPublic(AgentBase, Public):
    id: str
    created_at: datetime
    updated_at: datetime


class AgentSummary(AgentPublic):
    """A saved agent as the Agents page lists it, with the workflows that use it."""

    used_by: list[tuple[str, str]] = Field(default_factory=list, exclude=True)
    """(workflow id, name) of the workflows with a step using this agent."""


class KindPublic(Public):
    kind: str
    title: str
    group: str
    description: str
    icon: str = Field(default="extension", exclude=True)
    config_schema: dict[str, Any]
    input_schema: dict[str, Any]


# --- credentials ------------------------------------------------------------------------------------------------

CredentialType = Literal["api_key", "bearer", "basic", "header"]
CREDENTIAL_TYPES: Final[tuple[str, ...]] = get_args(CredentialType)
VALUE_FIELDS: Final[dict[str, tuple[str, ...]]] = {
    "api_key": ("token",),
    "bearer": ("token",),
    "basic": ("username", "password"),
    "header": ("name", "value"),
}


class CredentialBase(SQLModel):
    name: str = Field(max_length=100, unique=True, description="How agent configs refer to it ('credential').")
    type: str = Field(max_length=16, description="One of api_key, bearer, basic, header.")


class CredentialCreate(CredentialBase, Input):
    name: Name = Field(min_length=1, max_length=100, description="How agent configs refer to it ('credential').")
    values: dict[str, str] = Field(
        description="api_key, bearer: {token}; basic: {username, password}; header: {name, value}. Write-only."
    )


class CredentialUpdate(Input):
    values: dict[str, str] = Field(description="The new values, replacing the old ones. Write-only.")


class CredentialPublic(CredentialBase, Public):
    """A credential as anyone may see it: never its values."""

    created_at: datetime
    updated_at: datetime
