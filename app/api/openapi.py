"""The OpenAPI document tells the truth: every answer an operation can give is in it, with the body actually sent.

A route declares the refusals that are its own (`not_found`, `conflict`, `CANNOT_RUN`, `UNAVAILABLE`). Those
that any request can meet are added here to every operation they apply to, from the facts that cause them:

- 400 on every operation: a Host header this server does not answer to (`app.api.guard`);
- 401 and 403 on every operation with an access rule (`app.api.access.RULES`): no valid bearer token, or one
  without the permission. Those operations also name the bearer security scheme (the Authorize button of
  /docs), and can answer 503, since the token is looked up in the database;
- 413 on every operation that takes a body: over the size limit (`app.api.errors.BodySizeLimit`);
- 422: FastAPI documents its own `HTTPValidationError` for every operation with parameters; what
  `app.api.errors` sends is a `ValidationErrorOut`, so that is what the document says.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from app.api.access import RULES
from app.api.schemas import ErrorOut, ValidationErrorOut, WorkflowInvalidOut

__all__ = ["CANNOT_RUN", "UNAVAILABLE", "Responses", "conflict", "install_openapi", "not_found"]

Responses = dict[int | str, dict[str, Any]]
"""A route's `responses=`: status → {"model": shape, "description": ...}."""

REF = "#/components/schemas/"
BEARER = "bearerToken"
SHAPES: tuple[type[BaseModel], ...] = (ErrorOut, ValidationErrorOut, WorkflowInvalidOut)
FASTAPI_422 = ("HTTPValidationError", "ValidationError")
"""FastAPI's own 422 shapes: nothing sends them."""

CANNOT_RUN: Responses = {
    422: {
        "model": ValidationErrorOut | WorkflowInvalidOut,
        "description": "A field cannot be accepted (`errors` names each), or the workflow cannot run (`problems` "
        "lists every reason, with its step).",
    }
}
UNAVAILABLE: Responses = {
    503: {
        "model": ErrorOut,
        "description": "The database cannot save (read-only, disk full) or cannot be reached; try again later.",
        "headers": {"Retry-After": {"description": "Seconds to wait.", "schema": {"type": "string"}}},
    }
}


def not_found(what: str, *, key: str = "id") -> Responses:
    """404: the `key` (id, name) in the request names no `what`."""
    return {404: {"model": ErrorOut, "description": f"No {what} has that {key}."}}


def conflict(why: str) -> Responses:
    """409: the request does not fit the current state, `why`."""
    return {409: {"model": ErrorOut, "description": why}}


def install_openapi(app: FastAPI) -> None:
    """Make `app`'s OpenAPI document (/openapi.json, /docs) say what every operation can answer."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _tell_the_truth(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # (FastAPI's documented way to change its document)


def _tell_the_truth(doc: dict[str, Any]) -> dict[str, Any]:
    components = doc.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    _, shapes = models_json_schema([(shape, "serialization") for shape in SHAPES], ref_template=REF + "{model}")
    for name, schema in shapes["$defs"].items():
        schemas.setdefault(name, schema)
    for path, item in doc.get("paths", {}).items():
        for method, operation in item.items():
            _refusals(operation, authorized=(method.upper(), path) in RULES)
    for name in FASTAPI_422:
        schemas.pop(name, None)
    components["securitySchemes"] = {
        BEARER: {
            "type": "http",
            "scheme": "bearer",
            "description": "A personal API token (Settings → API tokens) or FLOWYARD_ADMIN_TOKEN.",
        }
    }
    return doc


def _refusals(operation: dict[str, Any], *, authorized: bool) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    found = responses.get("422", {}).get("content", {}).get("application/json", {})
    if found.get("schema") == {"$ref": REF + FASTAPI_422[0]}:
        responses["422"] = _answer(
            ValidationErrorOut, "The request does not validate: `errors` names each field and what is wrong with it."
        )
    refusals = {"400": _answer(ErrorOut, "The Host header names a host this server does not answer to.")}
    if "requestBody" in operation:
        refusals["413"] = _answer(
            ErrorOut,
            "The body is larger than the server accepts (FLOWYARD_MAX_BODY_BYTES; uploads FLOWYARD_MAX_UPLOAD_BYTES).",
        )
    if authorized:
        operation["security"] = [{BEARER: []}]
        refusals["401"] = _answer(
            ErrorOut,
            "No bearer token, or one that is unknown, revoked or expired.",
            headers={"WWW-Authenticate": "`Bearer`: the scheme to authenticate with."},
        )
        refusals["403"] = _answer(ErrorOut, "The token (or its owner's role) does not have the permission this needs.")
        refusals["503"] = _answer(
            ErrorOut,
            "The database cannot save (read-only, disk full) or cannot be reached; try again later.",
            headers={"Retry-After": "Seconds to wait."},
        )
    for status, answer in refusals.items():
        responses.setdefault(status, answer)
    operation["responses"] = dict(sorted(responses.items()))


def _answer(shape: type[BaseModel], description: str, *, headers: dict[str, str] | None = None) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": REF + shape.__name__}}},
    }
    if headers:
        answer["headers"] = {
            name: {"description": text, "schema": {"type": "string"}} for name, text in headers.items()
        }
    return answer
