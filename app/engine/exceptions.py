"""The engine's errors. Each carries the context needed to act on it.

FlowyardError
├── InvalidInput           a request field that cannot be accepted (`.field`)
│   └── InputInvalid       a run input that does not fit the workflow's input schema (`.problems`, each field)
├── WorkflowInvalid        a definition that cannot run; `.problems` lists every reason
├── NotFound               an id that names nothing (`.kind`, `.id`)
├── Conflict               the request does not fit the current state (e.g. resume a run that is not paused)
├── LeaseLost              this process no longer owns the run it was driving
├── StorageUnavailable     the database cannot save (read-only, disk full) or cannot be reached right now
└── NodeError              a node could not produce an output (`.run_id`, `.node`)
    ├── MappingError       a template failed to render (`.template`, `.reason`)
    ├── AgentError         the agent reported a failure
    └── NodeTimeout        the node ran past its timeout
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "AgentError",
    "Conflict",
    "FlowyardError",
    "Forbidden",
    "InputInvalid",
    "InvalidInput",
    "LeaseLost",
    "MappingError",
    "NodeError",
    "NodeTimeout",
    "NotFound",
    "Problem",
    "StorageUnavailable",
    "WorkflowInvalid",
]


class FlowyardError(Exception):
    """Base of every error Flowyard raises on purpose."""


@dataclass(frozen=True)
class Problem:
    """One reason a workflow cannot run, tied to the node (or edge) it concerns."""

    message: str
    node: str | None = None
    edge: str | None = None
    field: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        return {"message": self.message, "node": self.node, "edge": self.edge, "field": self.field}


class WorkflowInvalid(FlowyardError):
    def __init__(self, problems: list[Problem], *, workflow_id: str | None = None) -> None:
        self.problems = problems
        self.workflow_id = workflow_id
        summary = "; ".join(p.message for p in problems[:5])
        more = f" (+{len(problems) - 5} more)" if len(problems) > 5 else ""
        super().__init__(f"workflow cannot run: {summary}{more}")


class InvalidInput(FlowyardError):
    """A value the caller sent that cannot be accepted; `field` names it (dotted, as sent)."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


class InputInvalid(InvalidInput):
    """A run's input that does not fit the workflow's input schema; `problems` holds (field, message) for each."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        super().__init__(*problems[0])
        self.args = ("; ".join(f"{field}: {message}" for field, message in problems),)


class NotFound(FlowyardError):
    def __init__(self, kind: str, id: str) -> None:
        self.kind = kind
        self.id = id
        super().__init__(f"no {kind} with id '{id}'")


class Conflict(FlowyardError):
    """The request is well formed but does not fit the current state."""


class Forbidden(FlowyardError):
    """Whoever asks may not do this (their role, a workflow's approvers, or approving their own run)."""


class LeaseLost(FlowyardError):
    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        super().__init__(f"this process no longer owns run '{run_id}'")


class StorageUnavailable(FlowyardError):
    """The database refused to work: it is read-only, its disk is full, or it cannot be reached. Nothing of the
    request was saved; the message says which, in one line."""


class NodeError(FlowyardError):
    """A node failed. `retryable` says whether another attempt may succeed."""

    retryable = True

    def __init__(self, message: str, *, node: str | None = None, run_id: str | None = None) -> None:
        self.node = node
        self.run_id = run_id
        super().__init__(message)


class MappingError(NodeError):
    retryable = False

    def __init__(self, template: str, reason: str, *, node: str | None = None, run_id: str | None = None) -> None:
        self.template = template
        self.reason = reason
        super().__init__(f"template {template!r} failed: {reason}", node=node, run_id=run_id)


class AgentError(NodeError):
    def __init__(
        self,
        message: str,
        *,
        retryable: bool = True,
        node: str | None = None,
        run_id: str | None = None,
        usage: dict[str, Any] | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, node=node, run_id=run_id)
        self.retryable = retryable
        self.usage = usage
        """Tokens the failed attempt spent anyway (an llm answer refused as invalid): recorded on the node run."""
        self.retry_after = retry_after
        """Seconds the far end asked to wait before trying again (HTTP Retry-After); the executor waits at least
        that long (up to its longest backoff) before the node's next attempt."""


class NodeTimeout(NodeError):
    def __init__(self, seconds: float, *, node: str | None = None, run_id: str | None = None) -> None:
        self.seconds = seconds
        super().__init__(f"timed out after {seconds:g} s", node=node, run_id=run_id)
