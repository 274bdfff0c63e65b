"""The web application: the API's routers (and the NiceGUI pages) around the process's `Flowyard`.

`app.root` builds the services; this module only mounts them on FastAPI and NiceGUI.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline

from app import __version__, keys
from app.api import (
    agent_runs,
    agents,
    batches,
    credentials,
    instance,
    mcp_servers,
    people,
    runs,
    schedules,
    sessions,
    v2,
    webhooks,
    workflows,
)
from app.api.access import authorize, check_rules
from app.api.errors import BodySizeLimit, answer_unknown_api_paths, install_error_handlers
from app.api.guard import RequestGuard
from app.api.mcp_server import MCP_PATH, McpEndpoint
from app.api.openapi import install_openapi
from app.api.schemas import Health
from app.pages import context as pages
from app.root import Flowyard
from app.settings import Settings

__all__ = ["create_api", "create_app"]

log = logging.getLogger("flowyard")


def create_api(settings: Settings) -> FastAPI:
    """The HTTP API alone (no UI): what tests and `create_app` build on."""
    mcp = McpEndpoint(max_body_bytes=settings.max_body_bytes)

    @asynccontextmanager
    async def lifespan(api: FastAPI) -> AsyncIterator[None]:
        flowyard = Flowyard.open(settings)
        api.state.flowyard = flowyard
        pages.use(flowyard)
        await flowyard.start()
        if await flowyard.users.needs_setup():
            log.warning(
                "No users yet: open /setup in a browser on this machine to create the first admin, or from elsewhere "
                "with the set-up code %s (or run `flowyard users create --email you@example.com --role admin`)",
                flowyard.users.setup_code,
            )
        api.state.ready = True
        try:
            async with mcp.run():
                yield
        finally:
            api.state.ready = False
            pages.use(None)
            await flowyard.close()
            # FastAPI's caches keep every app's endpoints, and so the app, for the life of the process: let
            # the closed application go with its lifespan (tests open hundreds of apps in one process).
            del api.state.flowyard

    api = FastAPIOffline(  # Swagger UI served from the package, not a CDN: /docs works offline
        title="Flowyard",
        version=__version__,
        description=(
            "Durable, multi-step agent workflows: the ordered-steps API (`/api/v1`) and the run-with-callback API"
            " (`/api/v2`)."
        ),
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
        static_url="/api/docs-static",
    )
    api.state.settings = settings
    api.state.ready = False
    api.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes, upload_bytes=settings.max_upload_bytes)
    api.add_middleware(RequestGuard, hosts=settings.hosts)
    install_error_handlers(api)
    authorized = [
        f.router
        for f in (
            workflows,
            runs,
            agents,
            credentials,
            mcp_servers,
            sessions,
            v2,
            agent_runs,
            schedules,
            batches,
            webhooks,
            people,
            instance,
        )
    ]
    check_rules(authorized)
    for router in authorized:
        api.include_router(router, dependencies=[Depends(authorize)])
    api.include_router(webhooks.hooks)  # no bearer token: the secret in the URL is the credential
    # MCP's Streamable HTTP endpoint: an ASGI app of the MCP SDK, outside the routers and their RULES, so it
    # authenticates and authorizes each request itself (app.api.mcp_server). (Starlette's Route serves an ASGI
    # app as it is, though its signature only names request handlers.)
    api.add_route(MCP_PATH, mcp, methods=["GET", "POST", "DELETE"], include_in_schema=False)  # type: ignore[arg-type]

    @api.get(
        "/api/health",
        tags=["health"],
        response_model=Health,
        responses={503: {"model": Health, "description": "Starting: not ready yet."}},
    )
    async def health(request: Request) -> JSONResponse:
        """200 with `{"status": "ok"}` once the app is ready (migrated, executor started); 503 before."""
        if not request.app.state.ready:
            return JSONResponse({"status": "starting"}, status_code=503)
        return JSONResponse({"status": "ok"})

    answer_unknown_api_paths(api)  # after every API route: it takes what they do not
    install_openapi(api)
    return api


def create_app(settings: Settings, *, before_pages: Callable[[FastAPI], None] | None = None) -> FastAPI:
    """The API with the browser UI mounted: what `flowyard serve` runs.

    :param before_pages: adds routes of its own to the app (NiceGUI's pages, mounted at `/`, shadow routes
        added after them): `flowyard desktop`'s way into its window
    """
    from nicegui import ui

    from app.pages import register_pages

    api = create_api(settings)
    if before_pages is not None:
        before_pages(api)
    register_pages()
    ui.run_with(
        api,
        title="Flowyard",
        favicon="🌿",
        storage_secret=keys.storage_secret(settings),
        show_welcome_message=False,
        reconnect_timeout=10.0,
        language="en-US",  # also the pages' <html lang>, which screen readers pronounce by
    )
    return api
