"""What a plugin imports to write an agent kind: the engine's kind contract, under the agents package.

`AgentKind` is the base class of every kind, `AgentContext` what its `run` receives, `AgentResult` what
it may return beyond a plain output (see `app.engine.kinds`).
"""

from __future__ import annotations

from app.engine.kinds import (
    AgentContext,
    AgentKind,
    AgentResult,
    AgentServices,
    Credential,
    CredentialResolver,
    Group,
    SessionMemory,
    WorkflowRunner,
)

__all__ = [
    "AgentContext",
    "AgentKind",
    "AgentResult",
    "AgentServices",
    "Credential",
    "CredentialResolver",
    "Group",
    "SessionMemory",
    "WorkflowRunner",
]
