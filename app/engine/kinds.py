"""What the engine asks of an agent kind: a pydantic model whose fields are its config, with an ``async run``.

The engine declares this contract and never imports a kind: the kinds live in `app.agents`, and whoever
builds an `Executor` (or validates a definition) hands the engine a `Kinds` mapping of them by name.

A kind declares its input schema (JSON Schema; the entry node's is the workflow's) and, when it
chooses between outcomes, the names of its output handles. ``run`` gets an `AgentContext` and
returns the node's output, or an `AgentResult` when it needs to say more (which handles fire, a
proposal to approve, token usage).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Protocol

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

from app import clock
from app.engine.mapping import render_value
from app.engine.model import AgentStep, Approval

__all__ = [
    "AgentContext",
    "AgentKind",
    "AgentResult",
    "AgentServices",
    "Credential",
    "CredentialResolver",
    "Group",
    "Journal",
    "Kinds",
    "McpClient",
    "SessionMemory",
    "ToolCatalog",
    "WorkflowRunner",
    "build",
    "config_errors",
]


class Group:
    """Palette groups, in the user's words."""

    AI = "AI"
    INTEGRATIONS = "Integrations"
    LOGIC = "Logic"
    HUMAN = "Human"
    UTILITIES = "Utilities"


@dataclass
class AgentResult:
    """A node's outcome beyond its output value."""

    output: Any
    handles: list[str] | None = None
    """Outcome handles that fire; None means every plain edge fires."""
    wait_for_approval: bool = False
    """When true the node waits for a human, with `output` as the proposal."""
    usage: dict[str, Any] | None = None
    approval: dict[str, Any] | None = None
    """What the approval is about beyond the proposal (`Approval.extra`): with "resume" true, a decision sends
    the step back to work instead of ending it (an agent's tool call)."""
    approval_deadline_seconds: float | None = None
    """The approval's own deadline (and `on_deadline`), instead of the step's."""
    on_deadline: Literal["wait", "approve", "reject"] | None = None


@dataclass(frozen=True)
class Credential:
    """A named secret, decrypted for one use. Never logged, stored in a run or exported.

    `values` by type: api_key and bearer: {"token"}; basic: {"username", "password"}; header: {"name", "value"}.
    """

    name: str
    type: Literal["api_key", "bearer", "basic", "header"]
    values: dict[str, str]

    def __repr__(self) -> str:  # a stray log line shows the name, never the secret
        return f"Credential(name={self.name!r}, type={self.type!r})"


class CredentialResolver(Protocol):
    async def get(self, name: str) -> Credential:
        """The credential called `name`; raises AgentError (not retryable) naming it when there is none."""
        ...


class SessionMemory(Protocol):
    """Conversation memory shared by the llm steps of runs with the same session id."""

    async def history(self, session_id: str, *, limit: int | None = None) -> list[dict[str, Any]]:
        """The last `limit` messages ({"role", "content"}, and an agent's "tool_calls" / "tool_call_id" as the
        chat API has them), oldest first; None: the configured window."""
        ...

    async def append(self, session_id: str, messages: list[dict[str, Any]], *, run_id: str, node_key: str) -> None: ...


class WorkflowRunner(Protocol):
    async def run(
        self, workflow_id: str, input: Any, *, parent_run_id: str, node_key: str, chain: tuple[str, ...]
    ) -> Any:
        """Run another workflow to its end and return its output. Raises AgentError on failure.

        `parent_run_id` and `node_key` name the step that runs it: when that step runs again (recovery, retry,
        re-run) it waits on the run it started before instead of starting another. `chain` holds the workflow
        ids of the runs the new run is nested in, outermost first (the caller's own last): recursion is refused.
        """
        ...


class Journal(Protocol):
    """An agent step's stored loop (`app.engine.journal.StepJournal`): its entries and its decided approvals."""

    entries: list[AgentStep]
    approvals: list[Approval]

    async def save(self, *entries: AgentStep) -> None:
        """Store `entries` (new or changed) before going on; LeaseLost when the run moved to another process."""
        ...


class McpClient(Protocol):
    """The MCP servers Flowyard knows (`app.services.mcp`), as an agent calls them.

    `server` is a server's id (mcp-…) or its name. Connections are pooled and reconnect; every failure is an
    AgentError naming the server (and the tool): retryable when the server could not be reached, died or timed
    out, not when the server answered that the tool failed or does not exist.
    """

    async def tools(self, server: str) -> list[dict[str, Any]]:
        """The tools `server` offers now: {"name", "description", "inputSchema"} each, as the server lists them."""
        ...

    async def call(self, server: str, tool: str, arguments: dict[str, Any], *, timeout: float | None = None) -> Any:
        """Call `tool` with `arguments` and return its result as JSON: the structured content when the tool gives
        one, else its text content (one text: that text; several: a list). A result the server marks as an error
        raises AgentError (not retryable) with the server's text."""
        ...


class ToolCatalog(Protocol):
    """Saved agents and workflows as the tools of an agent step (`app.services.agent_tools`)."""

    async def describe_agent(self, agent_id: str) -> dict[str, Any]:
        """{"name", "description", "parameters"} of a saved agent as a tool: its kind's input schema, or the
        fields its templates read from `input`. AgentError (not retryable) naming it when there is none."""
        ...

    async def describe_workflow(self, workflow_id: str) -> dict[str, Any]:
        """{"name", "description", "parameters"} of a workflow as a tool: its entry step's input schema."""
        ...

    async def run_agent(self, agent_id: str, input: Any, *, ctx: AgentContext, call_key: str) -> Any:
        """Run a saved agent once on `input` and return its output; AgentError when it fails. `call_key` is the
        tool call's stable key within the step (its idempotency key is the step's plus it)."""
        ...


@dataclass(frozen=True)
class AgentServices:
    """What the application lends agents; each is None where the application has none (tests, previews)."""

    credentials: CredentialResolver | None = None
    sessions: SessionMemory | None = None
    workflows: WorkflowRunner | None = None
    mcp: McpClient | None = None
    tools: ToolCatalog | None = None


@dataclass
class AgentContext:
    """Everything one execution of a node may use. Built by the executor (or a preview)."""

    run_id: str
    node_key: str
    action: str
    input: Any
    mapping_context: dict[str, Any]
    http: httpx.AsyncClient
    attempt: int = 1
    session_id: str | None = None
    workflow_id: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    services: AgentServices = field(default_factory=AgentServices)
    stream: Callable[[str], None] | None = None
    """Show a piece of the output as it is produced (an llm's tokens) on live pages; not stored."""
    chain: tuple[str, ...] = ()
    """Workflow ids of the runs this run is nested in (sub-workflow steps), outermost first."""
    run_tokens: int = 0
    """Tokens the run's other nodes used before this node started (for a per-run token budget)."""
    sleep: clock.Sleep = clock.sleep
    """How the agent waits before trying again within one attempt (the executor's: tests replace it)."""
    journal: Journal | None = None
    """For kinds that keep a journal (`AgentKind.journals`): the step's stored loop entries, to go on from."""

    @property
    def idempotency_key(self) -> str:
        """Stable across retries and recoveries of this node in this run: side effects pass it on."""
        return f"{self.run_id}:{self.node_key}"

    def render(self, value: Any) -> Any:
        """Render templates in `value` over this node's context (with ``input`` as mapped)."""
        return render_value(value, self.mapping_context, node=self.node_key)


class AgentKind(BaseModel):
    """Base of every kind. Subclasses add config fields and implement `run`."""

    model_config = ConfigDict(extra="forbid")

    kind: ClassVar[str]
    title: ClassVar[str]
    group: ClassVar[str] = Group.UTILITIES
    description: ClassVar[str] = ""
    icon: ClassVar[str] = "extension"
    input_schema: ClassVar[dict[str, Any]] = {}
    """JSON Schema of the node's input; empty means any JSON value."""
    pauses: ClassVar[bool] = False
    """True when the kind always waits for a human (the approval kind)."""
    uses_action: ClassVar[bool] = True
    """False for kinds that ignore the step's action (a branch: its outcomes decide); the editor hides it."""
    output_from: ClassVar[Literal["input", "action", ""]] = ""
    """What the output is, as far as the editor can tell before running: "input" (passed on unchanged),
    "action" (the rendered action, or the input without one); "" when only running tells."""
    journals: ClassVar[bool] = False
    """True for kinds whose work is a loop of stored entries (the agent kind): they get `ctx.journal`."""
    usage_is_total: ClassVar[bool] = False
    """True when the usage a run reports is the step's whole usage so far (every attempt, every resume), not
    only this attempt's: the step's record takes it as it is and the run's tally adds the difference."""
    holds_slot: ClassVar[bool] = True
    """False for kinds that mostly wait on other runs (workflow): they run outside the process's execution
    slots, or runs waiting on nested runs could take every slot and leave none for the runs they wait on."""

    def outcome_handles(self) -> list[str] | None:
        """Named output handles, for kinds that choose an outcome; None for a single output."""
        return None

    async def run(self, ctx: AgentContext) -> Any:
        raise NotImplementedError


Kinds = Mapping[str, type[AgentKind]]
"""The agent kinds known to this process, by name (`app.agents.registry.KINDS`)."""


def build(kinds: Kinds, kind: str, config: dict[str, Any]) -> AgentKind:
    """An agent of `kind` configured with `config`; raises KeyError or pydantic's ValidationError."""
    return kinds[kind].model_validate(config)


def config_errors(kinds: Kinds, kind: str, config: dict[str, Any]) -> list[str]:
    """What is wrong with `config` for `kind`, one line per field; empty when it is valid."""
    cls = kinds.get(kind)
    if cls is None:
        return [f"unknown agent kind '{kind}'"]
    try:
        cls.model_validate(config)
    except ValidationError as exc:
        return [
            f"{'.'.join(str(p) for p in err['loc']) or 'config'}: {str(err['msg']).removeprefix('Value error, ')}"
            for err in exc.errors()
        ]
    return []
