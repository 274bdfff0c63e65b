"""Webhook triggers over HTTP: the public URLs that start runs (`hooks`) and their management (`router`).

`hooks` (`/api/hooks/{secret}`) is not behind the bearer token: the secret in the URL is the
credential. `router` (`/api/v1/workflows/{id}/webhook`) is, like the rest of `/api/v1`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request, Response, status
from fastapi.responses import JSONResponse

from app.api.deps import WebhooksDep
from app.api.openapi import UNAVAILABLE, not_found
from app.api.schemas import ValidationErrorOut, WorkflowInvalidOut
from app.engine.exceptions import NotFound
from app.engine.model import RunStatus
from app.models.webhooks import HookAccepted, HookError, HookResult, WebhookPublic, WebhookUpdate
from app.services.webhooks import HOOKS_PATH, BodyNotJson, BodyTooLarge, NoWebhook, WebhookCall

__all__ = ["hooks", "router"]

router = APIRouter(prefix="/api/v1", tags=["webhooks"])
hooks = APIRouter(prefix=HOOKS_PATH, tags=["webhooks"])

_JSON = ("application/json", "text/json")


# --- management (behind the bearer token) ---------------------------------------------------------------


def _webhook_out(info: WebhookPublic, request: Request) -> WebhookPublic:
    base = str(request.base_url).rstrip("/")
    return info.model_copy(update={"url": None if info.path is None else base + info.path})


@router.get(
    "/workflows/{workflow_id}/webhook",
    response_model=WebhookPublic,
    responses=not_found("workflow, or no webhook of it,"),
)
async def get_webhook(workflow_id: str, request: Request, webhooks: WebhooksDep) -> WebhookPublic | JSONResponse:
    """The workflow's webhook with its URL (404 when the workflow has none)."""
    info = await webhooks.get(workflow_id)
    if info is None:
        return JSONResponse({"detail": str(NotFound("webhook for workflow", workflow_id))}, status_code=404)
    return _webhook_out(info, request)


@router.put(
    "/workflows/{workflow_id}/webhook",
    response_model=WebhookPublic,
    responses=not_found("workflow") | {201: {"model": WebhookPublic, "description": "Created, with a new secret URL."}},
)
async def put_webhook(
    workflow_id: str,
    request: Request,
    response: Response,
    webhooks: WebhooksDep,
    body: Annotated[WebhookUpdate | None, Body()] = None,
) -> WebhookPublic:
    """Create the workflow's webhook (201, with a new secret URL) or change its settings (200, same URL).

    The body is optional: without one, a webhook is created with the defaults (or an existing one kept as it is).
    """
    current = await webhooks.get(workflow_id)
    settings: dict[str, Any] = {}
    if current is not None:
        settings = {
            "enabled": current.enabled,
            "mode": current.mode,
            "sync_timeout_seconds": current.sync_timeout_seconds,
            "max_body_bytes": current.max_body_bytes,
        }
    if body is not None:
        settings.update(body.model_dump(exclude_none=True))
    info = await webhooks.save(workflow_id, **settings)
    if current is None:
        response.status_code = status.HTTP_201_CREATED
    return _webhook_out(info, request)


@router.post(
    "/workflows/{workflow_id}/webhook/rotate",
    response_model=WebhookPublic,
    responses=not_found("workflow, or no webhook of it,"),
)
async def rotate_webhook(workflow_id: str, request: Request, webhooks: WebhooksDep) -> WebhookPublic:
    """Give the webhook a new secret URL; the old one stops working at once."""
    return _webhook_out(await webhooks.rotate(workflow_id), request)


@router.delete(
    "/workflows/{workflow_id}/webhook",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=not_found("workflow, or no webhook of it,"),
)
async def delete_webhook(workflow_id: str, webhooks: WebhooksDep) -> Response:
    """Delete the workflow's webhook; its URL stops working."""
    await webhooks.delete(workflow_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- the public URL (the secret is the credential) ------------------------------------------------------

_NOT_FOUND = {"detail": NoWebhook().args[0]}


def _accepted(call: WebhookCall, secret: str, request: Request) -> JSONResponse:
    url = str(request.url_for("webhook_run_status", secret=secret, run_id=call.run_id))
    body = HookAccepted(run_id=call.run_id, session_id=call.session_id, status=call.status.value, status_url=url)
    return JSONResponse(body.model_dump(mode="json", by_alias=True), status_code=status.HTTP_202_ACCEPTED)


def _result(call: WebhookCall) -> JSONResponse:
    body = HookResult(
        run_id=call.run_id, session_id=call.session_id, status=call.status.value, output=call.output, error=call.error
    )
    code = status.HTTP_200_OK if call.status is RunStatus.COMPLETED else status.HTTP_502_BAD_GATEWAY
    return JSONResponse(body.model_dump(mode="json", by_alias=True), status_code=code)


def _refused(exc: BodyTooLarge | BodyNotJson, code: int) -> JSONResponse:
    return JSONResponse(
        {"detail": str(exc), "errors": [{"field": exc.field, "message": exc.message}]}, status_code=code
    )


@hooks.post(
    "/{secret}",
    responses=UNAVAILABLE
    | {
        200: {"model": HookResult, "description": "sync: the run completed; `output` is its output."},
        202: {"model": HookAccepted, "description": "async, or sync still running / paused: poll `statusUrl`."},
        400: {"model": HookError, "description": "The body is not valid JSON."},
        404: {"model": HookError, "description": "No enabled webhook at this address; no run started."},
        413: {"model": HookError, "description": "The body is over the webhook's limit; no run started."},
        415: {"model": HookError, "description": "The body is not JSON and was not sent as JSON."},
        422: {
            "model": ValidationErrorOut | WorkflowInvalidOut,
            "description": "The body does not fit the workflow's input, or the workflow cannot run; no run started.",
        },
        502: {"model": HookResult, "description": "sync: the run failed or was cancelled; `error` says why."},
    },
    openapi_extra={
        "requestBody": {
            "required": False,
            "description": "Any JSON value: the run's input. An empty body is the input null.",
            "content": {"application/json": {"schema": {}, "example": {"email": "ada@example.com"}}},
        }
    },
)
async def call_webhook(
    secret: str,
    request: Request,
    webhooks: WebhooksDep,
    session_id: Annotated[
        str | None,
        Query(alias="sessionId", min_length=1, max_length=200, description="Session for context continuity."),
    ] = None,
) -> JSONResponse:
    """Start a run of the webhook's workflow with the request's JSON body as its input.

    No bearer token: the secret in the URL is the credential. The body is the run's input (any JSON
    value; an empty body is `null`) and must fit the workflow's input schema.

    - **async** webhook: **202** `{runId, sessionId, status, statusUrl}` at once.
    - **sync** webhook: waits up to its `syncTimeoutSeconds` for the run to end.
      - completed: **200** `{runId, sessionId, status: "COMPLETED", output}`;
      - failed or cancelled: **502** `{runId, sessionId, status, error}`. A run that fails is a failed call
        (non-2xx), as n8n documents for its webhooks (and its users file bugs when a failure answers 200), so
        `curl --fail`, retrying senders and monitors notice it; 502 rather than 500 because Flowyard itself
        worked: the workflow behind it failed;
      - still running at the timeout, or paused for an approval: **202** as for async; poll `statusUrl`.

    Refused without starting a run: an unknown, rotated-away or disabled address (**404**, the same answer
    for each), a body over the webhook's limit (**413**), a body that is not JSON (**400**; **415** when it
    was not sent as JSON either), a body that does not fit the workflow's input, or a workflow that cannot
    run (**422**, naming the fields).
    """
    try:
        body = await request.body()
        call = await webhooks.call(secret, body, session_id=session_id)
    except NoWebhook:
        return JSONResponse(_NOT_FOUND, status_code=status.HTTP_404_NOT_FOUND)
    except BodyTooLarge as exc:
        return _refused(exc, status.HTTP_413_CONTENT_TOO_LARGE)
    except BodyNotJson as exc:
        declared = request.headers.get("content-type", "").split(";")[0].strip().lower()
        as_json = not declared or declared in _JSON or declared.endswith("+json")
        return _refused(exc, status.HTTP_400_BAD_REQUEST if as_json else status.HTTP_415_UNSUPPORTED_MEDIA_TYPE)
    if call.ended:
        return _result(call)
    return _accepted(call, secret, request)


@hooks.get(
    "/{secret}",
    status_code=status.HTTP_405_METHOD_NOT_ALLOWED,
    responses={405: {"model": HookError, "headers": {"Allow": {"schema": {"type": "string"}}}}},
)
async def get_webhook_url(secret: str) -> JSONResponse:
    """Webhook URLs start runs with POST only (the answer is the same for every address, valid or not).

    `secret` is taken only so that the document names the path parameter.
    """
    return JSONResponse(
        {"detail": "Webhooks start runs with POST: send the run's input as a JSON body"},
        status_code=status.HTTP_405_METHOD_NOT_ALLOWED,
        headers={"Allow": "POST"},
    )


@hooks.get("/{secret}/runs/{run_id}", name="webhook_run_status", responses=UNAVAILABLE | {404: {"model": HookError}})
async def webhook_run_status(secret: str, run_id: str, webhooks: WebhooksDep) -> JSONResponse:
    """A run this webhook started, as it stands: `{runId, sessionId, status, output, error}` (no token needed).

    Only runs started through this webhook's URL are shown; any other run id is 404.
    """
    try:
        call = await webhooks.status(secret, run_id)
    except NoWebhook:
        return JSONResponse(_NOT_FOUND, status_code=status.HTTP_404_NOT_FOUND)
    body = HookResult(
        run_id=call.run_id, session_id=call.session_id, status=call.status.value, output=call.output, error=call.error
    )
    return JSONResponse(body.model_dump(mode="json", by_alias=True))
