"""The OpenAPI document tells the truth: each refusal documented where it can happen, with the body sent; the
bearer token as a security scheme; every path parameter declared. And what no route takes is answered in JSON.

(`test_schemathesis.py` checks every operation's answers against the document; these are what a client reads.)
"""

from __future__ import annotations

import re
from typing import Any

import httpx

from tests.api.helpers import V1

REF = "#/components/schemas/"


async def _spec(api: httpx.AsyncClient) -> dict[str, Any]:
    spec: dict[str, Any] = (await api.get("/openapi.json")).json()
    return spec


def _schema_of(operation: dict[str, Any], status: str) -> dict[str, Any]:
    schema: dict[str, Any] = operation["responses"][status]["content"]["application/json"]["schema"]
    return schema


async def test_an_unknown_method_on_an_api_path_answers_json_405_naming_the_allowed_ones(
    api: httpx.AsyncClient,
) -> None:
    response = await api.put(f"{V1}/workflows/wf-1/run", json={})

    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.headers["content-type"] == "application/json"
    assert "POST" in response.json()["detail"]


async def test_an_unknown_method_on_the_health_check_answers_json_405(anonymous: httpx.AsyncClient) -> None:
    response = await anonymous.delete("/api/health")

    assert response.status_code == 405
    assert response.headers["allow"] == "GET"
    assert set(response.json()) == {"detail"}


async def test_an_unknown_api_path_answers_json_404(api: httpx.AsyncClient) -> None:
    response = await api.get(f"{V1}/nothing-here")

    assert response.status_code == 404
    assert response.json() == {"detail": f"no API route at {V1}/nothing-here (see /docs)"}


async def test_the_documented_422_is_the_body_a_bad_request_gets(api: httpx.AsyncClient) -> None:
    spec = await _spec(api)
    response = await api.post(f"{V1}/workflows", json={"name": 5})

    create = spec["paths"][f"{V1}/workflows"]["post"]
    assert _schema_of(create, "422") == {"$ref": REF + "ValidationErrorOut"}
    assert set(spec["components"]["schemas"]["ValidationErrorOut"]["required"]) == {"detail", "errors"}
    assert response.status_code == 422
    assert set(response.json()) == {"detail", "errors"}
    assert {"HTTPValidationError", "ValidationError"}.isdisjoint(spec["components"]["schemas"])


async def test_a_run_documents_both_422_bodies_field_errors_and_workflow_problems(api: httpx.AsyncClient) -> None:
    spec = await _spec(api)

    run = spec["paths"][f"{V1}/workflows/{{workflow_id}}/run"]["post"]

    assert _schema_of(run, "422")["anyOf"] == [
        {"$ref": REF + "ValidationErrorOut"},
        {"$ref": REF + "WorkflowInvalidOut"},
    ]


async def test_token_routes_document_the_bearer_scheme_and_its_refusals(api: httpx.AsyncClient) -> None:
    spec = await _spec(api)

    delete = spec["paths"][f"{V1}/workflows/{{workflow_id}}"]["delete"]
    health = spec["paths"]["/api/health"]["get"]

    scheme = spec["components"]["securitySchemes"]["bearerToken"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    assert delete["security"] == [{"bearerToken": []}]
    assert {"400", "401", "403", "404", "409", "503"} <= set(delete["responses"])
    assert "WWW-Authenticate" in delete["responses"]["401"]["headers"]
    assert "security" not in health
    assert {"401", "403"}.isdisjoint(health["responses"])


async def test_operations_with_a_body_document_413(api: httpx.AsyncClient) -> None:
    spec = await _spec(api)

    without_413 = sorted(
        f"{method.upper()} {path}"
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if "requestBody" in operation and "413" not in operation["responses"]
    )

    assert without_413 == []


async def test_every_path_parameter_is_declared(api: httpx.AsyncClient) -> None:
    spec = await _spec(api)

    undeclared = sorted(
        f"{method.upper()} {path}: {name}"
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        for name in re.findall(r"\{([^}]+)\}", path)
        if not any(p["in"] == "path" and p["name"] == name for p in operation.get("parameters", []))
    )

    assert undeclared == []
