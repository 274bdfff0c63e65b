"""How errors leave the API: every failure is a 4xx with a message that names the problem.

Engine and service errors map to status codes here, in one place; request bodies over the
configured size are refused with 413 before they are read in full. A database that cannot save
(read-only, disk full) or cannot be reached is a 503 with the reason, not a 500.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.engine.exceptions import (
    Conflict,
    Forbidden,
    InputInvalid,
    InvalidInput,
    NotFound,
    StorageUnavailable,
    WorkflowInvalid,
)

__all__ = ["BodySizeLimit", "install_error_handlers", "is_upload"]

log = logging.getLogger("flowyard.api")


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path")]
    return ".".join(parts) or "body"


def _error(error: dict[str, Any]) -> dict[str, str]:
    if error.get("type") == "json_invalid":
        # FastAPI puts the character position where a field name would be: report the body instead
        position = error.get("loc", ())[-1]
        reason = (error.get("ctx") or {}).get("error", "cannot be parsed")
        return {"field": "body", "message": f"invalid JSON at character {position}: {reason}"}
    return {"field": _field(error.get("loc", ())), "message": error.get("msg", "invalid")}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _invalid_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [_error(e) for e in exc.errors()]
        message = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        return JSONResponse(status_code=422, content={"detail": message, "errors": errors})

    @app.exception_handler(InvalidInput)
    async def _invalid_input(_request: Request, exc: InvalidInput) -> JSONResponse:
        problems = exc.problems if isinstance(exc, InputInvalid) else [(exc.field, exc.message)]
        errors = [{"field": field, "message": message} for field, message in problems]
        return JSONResponse(status_code=422, content={"detail": str(exc), "errors": errors})

    @app.exception_handler(WorkflowInvalid)
    async def _workflow_invalid(_request: Request, exc: WorkflowInvalid) -> JSONResponse:
        problems = [p.as_dict() for p in exc.problems]
        return JSONResponse(status_code=422, content={"detail": str(exc), "problems": problems})

    @app.exception_handler(NotFound)
    async def _not_found(_request: Request, exc: NotFound) -> JSONResponse:
        return JSONResponse(status_code=404, content={"detail": str(exc)})

    @app.exception_handler(Conflict)
    async def _conflict(_request: Request, exc: Conflict) -> JSONResponse:
        return JSONResponse(status_code=409, content={"detail": str(exc)})

    @app.exception_handler(StorageUnavailable)
    async def _storage_unavailable(_request: Request, exc: StorageUnavailable) -> JSONResponse:
        log.error("answered 503: %s", exc, exc_info=exc.__cause__)
        return JSONResponse(status_code=503, content={"detail": str(exc)}, headers={"Retry-After": "30"})

    @app.exception_handler(Forbidden)
    async def _forbidden(_request: Request, exc: Forbidden) -> JSONResponse:
        return JSONResponse(status_code=403, content={"detail": str(exc)})


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
