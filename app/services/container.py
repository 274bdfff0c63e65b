"""What the pages, the API and the CLI are given: every service of the process, by feature.

The composition root (`app.root.Flowyard`) satisfies this protocol; the layers above the services depend on
the protocol, never on the root, so they can be handed anything that has these services (a test's too).
"""

from __future__ import annotations

from typing import Protocol

from app.engine.events import EventBus
from app.services.agent_runs import AgentRunService
from app.services.agents import AgentService
from app.services.approvals import ApprovalService
from app.services.approvers import ApproverRules
from app.services.audit import AuditService
from app.services.batches.batches import BatchService
from app.services.callback_secrets import CallbackSecrets
from app.services.credentials import CredentialService
from app.services.drafts import DraftService
from app.services.examples import ExampleService
from app.services.inputs import InputService
from app.services.instance import InstanceService
from app.services.logins import LoginService
from app.services.mcp import McpService
from app.services.people import UserService
from app.services.runs import RunService
from app.services.schedules.schedules import ScheduleService
from app.services.sessions import SessionService
from app.services.tokens import TokenService
from app.services.webhooks import WebhookService
from app.services.workflow_tools import WorkflowToolService
from app.services.workflows import WorkflowService
from app.settings import Settings

__all__ = ["Services"]


class Services(Protocol):
    settings: Settings
    bus: EventBus
    """Live events: what pages follow to update as runs go."""
    workflows: WorkflowService
    drafts: DraftService
    runs: RunService
    approvals: ApprovalService
    agents: AgentService
    agent_runs: AgentRunService
    """Saved agents called directly: one-step runs of their own workflows."""
    credentials: CredentialService
    mcp: McpService
    """MCP servers: kept, listed, test-called; also what agent steps call them through."""
    sessions: SessionService
    examples: ExampleService
    inputs: InputService
    schedules: ScheduleService
    webhooks: WebhookService
    workflow_tools: WorkflowToolService
    """The workflows offered to MCP clients as tools (`/mcp`), and the runs their calls start."""
    batches: BatchService
    users: UserService
    logins: LoginService
    tokens: TokenService
    audit: AuditService
    approvers: ApproverRules
    callback_secrets: CallbackSecrets
    instance: InstanceService
    """The instance's settings (retention, defaults) and facts."""
