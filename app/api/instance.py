"""The instance's settings over the API (admins): retention, defaults, facts; prune now."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from app.api.access import PrincipalDep
from app.models.instance import InstanceSettingsPublic, InstanceSettingsUpdate, PruneReport
from app.services.container import Services

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["instance"])


def _services(request: Request) -> Services:
    services: Services = request.app.state.flowyard
    return services


ServicesDep = Annotated[Services, Depends(_services)]


@router.get("/settings", response_model=InstanceSettingsPublic)
async def get_settings(services: ServicesDep) -> InstanceSettingsPublic:
    """The instance's settings (run retention per status, the default time zone and theme), the last prune, and
    facts about the instance: its version, database (the URL's password hidden) and data directory."""
    return await services.instance.get()


@router.patch("/settings", response_model=InstanceSettingsPublic)
async def update_settings(
    body: InstanceSettingsUpdate, principal: PrincipalDep, services: ServicesDep
) -> InstanceSettingsPublic:
    """Change the instance's settings; what the body leaves out stays. `retention` is replaced whole: a status
    it leaves out (or sets to null) is kept forever. Queued, running and paused runs are never pruned."""
    return await services.instance.update(body, by=principal)


@router.post("/settings/prune", response_model=PruneReport)
async def prune_now(principal: PrincipalDep, services: ServicesDep) -> PruneReport:
    """Apply the retention now (it is also applied daily): delete finished runs older than their status's
    retention, with their step runs, approvals and callback deliveries. Answers how many of each went."""
    return await services.instance.prune(by=principal)
