"""The ordered-steps API's workflows and steps (`/api/v1/workflows…`).

Compatible with the public ordered-steps workflow API: field names, `content`/`totalElements`/`totalPages`
pages, clone with the " (Copy)" suffix; a step is a node of the workflow's graph.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response, status

from app.api.access import PrincipalDep
from app.api.deps import ServicesDep, WorkflowsDep
from app.api.openapi import conflict, not_found
from app.api.schemas import PageNumber, PageOut, PageSize, page_out
from app.models.samples import SamplesUpdate, WorkflowInput
from app.models.workflows import (
    CallbackSecret,
    EdgeChangePublic,
    SettingChangePublic,
    StepChangePublic,
    StepCreate,
    StepPublic,
    VersionComparison,
    WorkflowAccess,
    WorkflowCreate,
    WorkflowDetail,
    WorkflowPublic,
    WorkflowUpdate,
)
from app.services.json_diff import MISSING
from app.services.version_diff import VersionDiff

__all__ = ["router"]

router = APIRouter(prefix="/api/v1")

WORKFLOW_NOT_FOUND = not_found("workflow")
Version = Annotated[int, Path(ge=1, le=2_000_000_000, description="A kept version's number.")]


@router.get("/workflows", response_model=PageOut[WorkflowPublic], tags=["workflows"])
async def list_workflows(
    workflows: WorkflowsDep,
    page: PageNumber = 0,
    size: PageSize = 20,
    search: Annotated[str | None, Query(max_length=200)] = None,
    tag: Annotated[str | None, Query(max_length=40, description="Only workflows filed under this tag.")] = None,
) -> dict[str, Any]:
    """List all workflows, newest first (paginated)."""
    return page_out(await workflows.list(page=page, size=size, search=search, tag=tag))


@router.post("/workflows", response_model=WorkflowPublic, status_code=status.HTTP_201_CREATED, tags=["workflows"])
async def create_workflow(body: WorkflowCreate, workflows: WorkflowsDep, principal: PrincipalDep) -> WorkflowPublic:
    """Create a new workflow."""
    return await workflows.create(name=body.name, description=body.description, tags=body.tags, by=principal)


@router.get("/workflows/{workflow_id}", response_model=WorkflowDetail, tags=["workflows"], responses=WORKFLOW_NOT_FOUND)
async def get_workflow(workflow_id: str, workflows: WorkflowsDep) -> WorkflowDetail:
    """Get a workflow by id, with its steps and the edges between them."""
    return await workflows.detail(workflow_id)


@router.patch(
    "/workflows/{workflow_id}", response_model=WorkflowPublic, tags=["workflows"], responses=WORKFLOW_NOT_FOUND
)
async def update_workflow(
    workflow_id: str, body: WorkflowUpdate, workflows: WorkflowsDep, principal: PrincipalDep
) -> WorkflowPublic:
    """Update a workflow's name, description, tags, or whether MCP clients find it as a tool at /mcp
    (`offerAsTool`)."""
    return await workflows.update(
        workflow_id,
        name=body.name,
        description=body.description,
        tags=body.tags,
        offer_as_tool=body.offer_as_tool,
        by=principal,
    )


@router.delete(
    "/workflows/{workflow_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    tags=["workflows"],
    responses=WORKFLOW_NOT_FOUND | conflict("The workflow has active runs: cancel them first."),
)
async def delete_workflow(workflow_id: str, workflows: WorkflowsDep, principal: PrincipalDep) -> Response:
    """Delete a workflow, its steps and its run history (refused while runs are active)."""
    await workflows.delete(workflow_id, by=principal)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/workflows/{workflow_id}/access", response_model=WorkflowAccess, tags=["workflows"], responses=WORKFLOW_NOT_FOUND
)
async def get_access(workflow_id: str, services: ServicesDep) -> WorkflowAccess:
    """Who decides the workflow's steps: its approvers (emails; none: whoever may approve) and whether the
    person who started a run may approve it."""
    return await services.approvers.get(workflow_id)


@router.put(
    "/workflows/{workflow_id}/access", response_model=WorkflowAccess, tags=["workflows"], responses=WORKFLOW_NOT_FOUND
)
async def set_access(
    workflow_id: str, body: WorkflowAccess, services: ServicesDep, principal: PrincipalDep
) -> WorkflowAccess:
    """Name the workflow's approvers (emails of users) and whether starters may approve their own runs."""
    return await services.approvers.set(workflow_id, body, by=principal)


@router.get(
    "/workflows/{workflow_id}/callback-secret",
    response_model=CallbackSecret,
    tags=["workflows"],
    responses=WORKFLOW_NOT_FOUND,
)
async def get_callback_secret(workflow_id: str, services: ServicesDep) -> CallbackSecret:
    """The secret that signs the callbacks of this workflow's runs (to verify them): its own, or the shared one."""
    return await services.callback_secrets.get(workflow_id)


@router.post(
    "/workflows/{workflow_id}/callback-secret/rotate",
    response_model=CallbackSecret,
    tags=["workflows"],
    responses=WORKFLOW_NOT_FOUND,
)
async def rotate_callback_secret(workflow_id: str, services: ServicesDep, principal: PrincipalDep) -> CallbackSecret:
    """Give the workflow a new secret of its own: callbacks sent from now on are signed with it."""
    return await services.callback_secrets.rotate(workflow_id, by=principal)


@router.delete(
    "/workflows/{workflow_id}/callback-secret",
    response_model=CallbackSecret,
    tags=["workflows"],
    responses=WORKFLOW_NOT_FOUND,
)
async def shared_callback_secret(workflow_id: str, services: ServicesDep, principal: PrincipalDep) -> CallbackSecret:
    """Drop the workflow's own secret: its callbacks are signed with the shared one again."""
    return await services.callback_secrets.use_shared(workflow_id, by=principal)


@router.post(
    "/workflows/{workflow_id}/clone",
    response_model=WorkflowPublic,
    status_code=status.HTTP_201_CREATED,
    tags=["workflows"],
    responses=WORKFLOW_NOT_FOUND,
)
async def clone_workflow(workflow_id: str, workflows: WorkflowsDep, principal: PrincipalDep) -> WorkflowPublic:
    """Clone a workflow with all its steps; the copy's name ends in " (Copy)"."""
    return await workflows.clone(workflow_id, by=principal)


@router.get(
    "/workflows/{workflow_id}/steps", response_model=list[StepPublic], tags=["steps"], responses=WORKFLOW_NOT_FOUND
)
async def list_steps(workflow_id: str, workflows: WorkflowsDep) -> list[StepPublic]:
    """List a workflow's steps in step order."""
    return await workflows.steps(workflow_id)


@router.post(
    "/workflows/{workflow_id}/steps",
    response_model=StepPublic,
    status_code=status.HTTP_201_CREATED,
    tags=["steps"],
    responses=WORKFLOW_NOT_FOUND,
)
async def add_step(workflow_id: str, body: StepCreate, workflows: WorkflowsDep, principal: PrincipalDep) -> StepPublic:
    """Add a step. It runs after the previous step in `stepOrder` (default: appended at the end)."""
    return await workflows.add_step(workflow_id, body, by=principal)


@router.delete(
    "/workflows/{workflow_id}/steps/{step_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    tags=["steps"],
    responses=not_found("workflow, or no step of it,"),
)
async def delete_step(workflow_id: str, step_id: str, workflows: WorkflowsDep, principal: PrincipalDep) -> Response:
    """Remove a step; its neighbours are joined so the sequence stays connected."""
    await workflows.delete_step(workflow_id, step_id, by=principal)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/workflows/{workflow_id}/input", response_model=WorkflowInput, tags=["workflows"], responses=WORKFLOW_NOT_FOUND
)
async def get_input(workflow_id: str, services: ServicesDep) -> WorkflowInput:
    """What a run of the workflow takes: the input schema (declared by its first step, else inferred from the
    fields its templates read) and its named sample inputs."""
    return await services.inputs.input(workflow_id)


@router.put(
    "/workflows/{workflow_id}/samples",
    response_model=WorkflowInput,
    tags=["workflows"],
    responses=WORKFLOW_NOT_FOUND,
)
async def set_samples(
    workflow_id: str, body: SamplesUpdate, services: ServicesDep, principal: PrincipalDep
) -> WorkflowInput:
    """Replace the workflow's named sample inputs (each name once; at most 20, each up to 64 KiB of JSON)."""
    await services.inputs.save_samples(workflow_id, body.samples, by=principal)
    return await services.inputs.input(workflow_id)


def _comparison(diff: VersionDiff) -> VersionComparison:
    def value(found: Any) -> Any:
        return None if found is MISSING else found

    return VersionComparison(
        before=diff.before,
        after=diff.after,
        same=diff.same,
        steps=[
            StepChangePublic(
                key=step.key,
                title=step.title,
                change=step.change,
                fields=[
                    SettingChangePublic(path=f.path, kind=f.kind, before=value(f.before), after=value(f.after))
                    for f in step.fields
                ],
            )
            for step in diff.steps
        ],
        edges=[
            EdgeChangePublic(
                source=edge.source,
                target=edge.target,
                outcome=edge.outcome,
                change=edge.change,
                condition_before=edge.condition_before,
                condition_after=edge.condition_after,
            )
            for edge in diff.edges
        ],
    )


@router.get(
    "/workflows/{workflow_id}/versions/{before}/compare/{after}",
    response_model=VersionComparison,
    tags=["workflows"],
    responses=not_found("workflow, or no kept version of it,", key="number"),
)
async def compare_versions(
    workflow_id: str, before: Version, after: Version, workflows: WorkflowsDep
) -> VersionComparison:
    """What changed from version `before` to version `after`: steps added, removed, changed (setting by setting)
    or only moved, and edges added, removed or given another condition."""
    return _comparison(await workflows.compare_versions(workflow_id, before, after))
