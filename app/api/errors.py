"""How errors leave the API: every failure is a 4xx with a message that names the problem.

Engine and service errors map to status codes here, in one place; request bodies over the
configured size are refused with 413 before they are read in full. A database that cannot save
(read-only, disk full) or cannot be reached is a 503 with the reason, not a 500. A path under `/api` that
names no route is a JSON 404, and a method its path does not take a JSON 405 with `Allow`, even where the
browser UI is mounted at `/` (it would answer both with its HTML page). The bodies are the shapes of
`app.api.schemas`, which the OpenAPI document shows.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from starlette.exceptions import HTTPException
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.schemas import ErrorOut, FieldErrorOut, ProblemOut, ValidationErrorOut, WorkflowInvalidOut
from app.engine.exceptions import (
    Conflict,
    Forbidden,
    InputInvalid,
    InvalidInput,
    NotFound,
    StorageUnavailable,
    WorkflowInvalid,
)

__all__ = ["BodySizeLimit", "answer_unknown_api_paths", "install_error_handlers", "is_upload"]

log = logging.getLogger("flowyard.api")


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path")]
    return ".".join(parts) or "body"


def _error(error: dict[str, Any]) -> FieldErrorOut:
    if error.get("type") == "json_invalid":
        # FastAPI puts the character position where a field name would be: report the body instead
        position = error.get("loc", ())[-1]
        reason = (error.get("ctx") or {}).get("error", "cannot be parsed")
        return FieldErrorOut(field="body", message=f"invalid JSON at character {position}: {reason}")
    return FieldErrorOut(field=_field(error.get("loc", ())), message=error.get("msg", "invalid"))


def _answer(status_code: int, body: ErrorOut, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(status_code=status_code, content=body.model_dump(mode="json"), headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _invalid_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [_error(e) for e in exc.errors()]
        message = "; ".join(f"{e.field}: {e.message}" for e in errors)
        return _answer(422, ValidationErrorOut(detail=message, errors=errors))

    @app.exception_handler(InvalidInput)
    async def _invalid_input(_request: Request, exc: InvalidInput) -> JSONResponse:
        problems = exc.problems if isinstance(exc, InputInvalid) else [(exc.field, exc.message)]
        errors = [FieldErrorOut(field=field, message=message) for field, message in problems]
        return _answer(422, ValidationErrorOut(detail=str(exc), errors=errors))

    @app.exception_handler(WorkflowInvalid)
    async def _workflow_invalid(_request: Request, exc: WorkflowInvalid) -> JSONResponse:
        problems = [ProblemOut.model_validate(p.as_dict()) for p in exc.problems]
        return _answer(422, WorkflowInvalidOut(detail=str(exc), problems=problems))

    @app.exception_handler(NotFound)
    async def _not_found(_request: Request, exc: NotFound) -> JSONResponse:
        return _answer(404, ErrorOut(detail=str(exc)))

    @app.exception_handler(Conflict)
    async def _conflict(_request: Request, exc: Conflict) -> JSONResponse:
        return _answer(409, ErrorOut(detail=str(exc)))

    @app.exception_handler(StorageUnavailable)
    async def _storage_unavailable(_request: Request, exc: StorageUnavailable) -> JSONResponse:
        log.error("answered 503: %s", exc, exc_info=exc.__cause__)
        return _answer(503, ErrorOut(detail=str(exc)), headers={"Retry-After": "30"})

    @app.exception_handler(Forbidden)
    async def _forbidden(_request: Request, exc: Forbidden) -> JSONResponse:
        return _answer(403, ErrorOut(detail=str(exc)))


def answer_unknown_api_paths(app: FastAPI, prefix: str = "/api") -> None:
    """Answer what no route under `prefix` takes: 405 with `Allow` when the path takes other methods, else 404.

    Add it after every API route: it matches whatever they did not, before the UI mounted at `/` can.
    """
    every_method = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"]
    fallback = prefix + "/{path:path}"

    async def unknown(request: Request) -> None:
        path = request.url.path
        routes = [r for r in iter_route_contexts(app.router.routes) if r.path not in (None, fallback) and r.methods]
        # As the router would: the first path template that matches is the resource, and its methods are allowed.
        template = next((r.path for r in routes if r.path and compile_path(r.path)[0].match(path)), None)
        allowed = sorted({method for r in routes if r.path == template for method in r.methods or ()} - {"HEAD"})
        if allowed:
            raise HTTPException(
                status_code=405,
                detail=f"{path} does not take {request.method}: it takes {', '.join(allowed)}",
                headers={"Allow": ", ".join(allowed)},
            )
        raise HTTPException(status_code=404, detail=f"no API route at {path} (see /docs)")

    app.add_api_route(fallback, unknown, methods=every_method, include_in_schema=False)


class BodySizeLimit:
    """ASGI middleware: refuses request bodies larger than `max_bytes` with 413, declared or streamed.

    File uploads (a batch file, the UI's upload route) may be up to `upload_bytes` instead.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int, upload_bytes: int | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.upload_bytes = upload_bytes if upload_bytes is not None else max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        upload = is_upload(scope.get("path", ""))
        limit = self.upload_bytes if upload else self.max_bytes
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._refuse(send, limit, upload)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _TooLarge(limit, upload)
            return message

        try:
            await self.app(scope, limited_receive, send)
        except _TooLarge:
            await self._refuse(send, limit, upload)

    async def _refuse(self, send: Send, limit: int, upload: bool) -> None:
        body = json.dumps({"detail": _too_large(limit, upload)}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})


_UPLOADS = re.compile(r"^/api/v1/workflows/[^/]+/batches(/preview)?/?$|/upload/")


def is_upload(path: str) -> bool:
    """True for the routes that take files: batch uploads and NiceGUI's upload route (`.../upload/<id>`)."""
    return _UPLOADS.search(path) is not None


def _too_large(max_bytes: int, upload: bool = False) -> str:
    if upload:
        return f"the upload is larger than {max_bytes} bytes (FLOWYARD_MAX_UPLOAD_BYTES)"
    return f"request body is larger than {max_bytes} bytes"


class _TooLarge(HTTPException):
    """A streamed body passed the limit while the app read it.

    An HTTP exception because FastAPI passes those on from reading a body (and turns any other
    error there into a generic 400); where nothing handles it, the middleware answers 413 itself.
    """

    def __init__(self, max_bytes: int, upload: bool = False) -> None:
        super().__init__(status_code=413, detail=_too_large(max_bytes, upload))
