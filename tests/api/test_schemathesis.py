"""Schemathesis over the API's own OpenAPI document: no answer is a server error, and every answer is one the
document describes (its status code, content type, headers and body).

Each operation is a test of its own, so pytest-xdist spreads them over its workers. Each sends the document's
examples, schemathesis' coverage cases (boundary values, each kind of wrong value) and `EXAMPLES` generated
ones, derandomized: every run sends the same requests. They go in process, as the admin token, to one
Flowyard per test process; the ids they put in paths name nothing, so most of what needs one answers 404.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app.main import create_api
from app.settings import Settings
from tests.conftest import ADMIN_TOKEN, AUTH
from tests.databases import fresh_data_dir

EXAMPLES = 5
"""Generated requests per operation, besides its examples and coverage cases: a few keep the suite quick."""

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]

# The app is built (not started) at collection, for its document; its first call starts it, in a data directory
# made then. Schemathesis' in-process client says `Host: testserver`, which this app answers to.
DATA = Path(tempfile.gettempdir()) / f"flowyard-schemathesis-{uuid.uuid4().hex}"
API = create_api(Settings(data_dir=DATA, admin_token=ADMIN_TOKEN, allowed_hosts="testserver"))
schema = schemathesis.openapi.from_dict(API.openapi())
schema.app = API


@pytest.fixture(scope="module")
def flowyard() -> Iterator[None]:
    """The data directory of `API` while this module's tests call it; then the app is stopped and it is gone."""
    fresh_data_dir(DATA)
    yield
    asgi.shutdown_lifespans()
    shutil.rmtree(DATA, ignore_errors=True)


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)
def test_api_answers_as_documented(case: schemathesis.Case, flowyard: None) -> None:
    case.call_and_validate(headers=AUTH, checks=CHECKS)
