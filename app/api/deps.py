"""The API's dependencies: the services a route needs, as `Annotated` aliases (who may call: `app.api.access`).

A route asks for what it uses (`workflows: WorkflowsDep`); the services come from the application's state,
where `app.main` puts the process's `Flowyard` (anything with `app.services.container.Services`' attributes).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app.services.agent_runs import AgentRunService
from app.services.agents import AgentService
from app.services.approvals import ApprovalService
from app.services.batches.batches import BatchService
from app.services.container import Services
from app.services.credentials import CredentialService
from app.services.runs import RunService
from app.services.schedules.schedules import ScheduleService
from app.services.sessions import SessionService
from app.services.webhooks import WebhookService
from app.services.workflows import WorkflowService
from app.settings import Settings

__all__ = [
    "AgentRunsDep",
    "AgentsDep",
    "ApprovalsDep",
    "BatchesDep",
    "CredentialsDep",
    "RunsDep",
    "SchedulesDep",
    "ServicesDep",
    "SessionsDep",
    "SettingsDep",
    "WebhooksDep",
    "WorkflowsDep",
]


def get_services(request: Request) -> Services:
    services: Services = request.app.state.flowyard
    return services


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _workflows(request: Request) -> WorkflowService:
    return get_services(request).workflows


def _approvals(request: Request) -> ApprovalService:
    return get_services(request).approvals


def _runs(request: Request) -> RunService:
    return get_services(request).runs


def _agents(request: Request) -> AgentService:
    return get_services(request).agents


def _agent_runs(request: Request) -> AgentRunService:
    return get_services(request).agent_runs


def _credentials(request: Request) -> CredentialService:
    return get_services(request).credentials


def _sessions(request: Request) -> SessionService:
    return get_services(request).sessions


def _schedules(request: Request) -> ScheduleService:
    return get_services(request).schedules


def _webhooks(request: Request) -> WebhookService:
    return get_services(request).webhooks


def _batches(request: Request) -> BatchService:
    return get_services(request).batches


ServicesDep = Annotated[Services, Depends(get_services)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
WorkflowsDep = Annotated[WorkflowService, Depends(_workflows)]
RunsDep = Annotated[RunService, Depends(_runs)]
ApprovalsDep = Annotated[ApprovalService, Depends(_approvals)]
AgentsDep = Annotated[AgentService, Depends(_agents)]
AgentRunsDep = Annotated[AgentRunService, Depends(_agent_runs)]
CredentialsDep = Annotated[CredentialService, Depends(_credentials)]
SessionsDep = Annotated[SessionService, Depends(_sessions)]
SchedulesDep = Annotated[ScheduleService, Depends(_schedules)]
WebhooksDep = Annotated[WebhookService, Depends(_webhooks)]
BatchesDep = Annotated[BatchService, Depends(_batches)]
