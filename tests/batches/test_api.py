"""The batch API: upload a file, follow the batch, download the results; bad uploads refused naming the field."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from app.main import create_api
from app.root import Flowyard
from app.settings import Settings
from tests.api.helpers import V1, add_step, assert_refused, create_workflow
from tests.batches.helpers import csv_bytes
from tests.conftest import ADMIN_TOKEN, AUTH
from tests.databases import fresh_data_dir


async def _enrich_workflow(api: httpx.AsyncClient) -> str:
    workflow = await create_workflow(api, "Enrich leads")
    await add_step(api, workflow["id"], "enrich", "")
    return str(workflow["id"])


async def _finished(api: httpx.AsyncClient, batch_id: str) -> dict[str, Any]:
    async with asyncio.timeout(20):
        while True:
            batch: dict[str, Any] = (await api.get(f"{V1}/batches/{batch_id}")).json()
            if batch["status"] != "RUNNING":
                return batch
            await asyncio.sleep(0.02)


LEADS = csv_bytes(["Email", "Org"], [["ada@analytical.org", "Analytical"], ["", "Nobody"], ["bob@acme.io", "Acme"]])


async def test_upload_runs_a_batch_and_its_results_download_as_csv(api: httpx.AsyncClient) -> None:
    workflow_id = await _enrich_workflow(api)

    response = await api.post(
        f"{V1}/workflows/{workflow_id}/batches",
        files={"file": ("leads.csv", LEADS, "text/csv")},
        data={
            "mapping": json.dumps({"email": "Email", "company": "Org"}),
            "concurrency": "2",
            "outputFields": "domain",
        },
    )
    assert response.status_code == 202, response.text
    created = response.json()
    done = await _finished(api, created["id"])
    listed = (await api.get(f"{V1}/batches", params={"workflowId": workflow_id})).json()
    rows = (await api.get(f"{V1}/batches/{created['id']}/rows", params={"status": "COMPLETED"})).json()
    results = await api.get(f"{V1}/batches/{created['id']}/results.csv")
    chosen = await api.get(f"{V1}/batches/{created['id']}/results.csv", params={"fields": "company,source"})

    assert created["workflowId"] == workflow_id and created["filename"] == "leads.csv"
    assert created["concurrency"] == 2 and created["outputFields"] == ["domain"]
    assert created["mapping"] == {"email": "Email", "company": "Org"}
    assert done["status"] == "FINISHED" and done["finishedAt"].endswith("Z")
    assert done["counts"]["COMPLETED"] == 3 and done["counts"]["done"] == 3
    assert [b["id"] for b in listed] == [created["id"]]
    assert [r["index"] for r in rows] == [0, 1, 2]
    assert rows[0]["output"]["domain"] == "analytical.org" and rows[0]["runId"].startswith("wr-")
    assert results.status_code == 200
    assert results.headers["content-type"].startswith("text/csv")
    assert results.headers["content-disposition"] == 'attachment; filename="leads-results.csv"'
    lines = list(csv.reader(io.StringIO(results.text)))
    assert lines[0] == ["row", "status", "run_id", "Email", "Org", "domain", "error"]
    assert lines[1][4:] == ["Analytical", "analytical.org", ""]
    assert list(csv.reader(io.StringIO(chosen.text)))[3][5:] == ["Acme", "example", ""]


async def test_preview_answers_the_mapping_and_first_rows(api: httpx.AsyncClient) -> None:
    workflow_id = await _enrich_workflow(api)

    response = await api.post(
        f"{V1}/workflows/{workflow_id}/batches/preview", files={"file": ("leads.csv", LEADS)}, params={"limit": 1}
    )

    assert response.status_code == 200, response.text
    preview = response.json()
    assert preview["suggestedMapping"] == {"email": "Email"}
    assert preview["fields"] == [
        {"name": "email", "type": "string", "required": True},
        {"name": "company", "type": "string or null", "required": False},
    ]
    assert preview["rows"] == [
        {
            "index": 0,
            "raw": {"Email": "ada@analytical.org", "Org": "Analytical"},
            "input": {"email": "ada@analytical.org"},
            "problems": [],
        }
    ]
    assert preview["total"] == 3 and preview["mappingProblems"] == []
    assert (await api.get(f"{V1}/batches")).json() == []


@pytest.mark.parametrize(
    ("files", "data", "field"),
    [
        ({"file": ("x.csv", b"")}, {}, "file"),
        ({"file": ("x.csv", b"a,a\n1,2\n")}, {}, "file"),
        ({"file": ("x.csv", b"\xff\xfe")}, {}, "file"),
        (None, {"concurrency": "2"}, "file"),
        ({"file": ("x.csv", LEADS)}, {"mapping": "{not json"}, "mapping"),
        ({"file": ("x.csv", LEADS)}, {"mapping": "[1]"}, "mapping"),
        ({"file": ("x.csv", LEADS)}, {"mapping": '{"phone": "Email"}'}, "mapping"),
        ({"file": ("x.csv", LEADS)}, {"mapping": '{"company": "Org"}'}, "mapping"),
        ({"file": ("x.csv", LEADS)}, {"concurrency": "0"}, "concurrency"),
        ({"file": ("x.csv", LEADS)}, {"concurrency": "many"}, "concurrency"),
        ({"file": ("x.csv", LEADS)}, {"outputFields": "a,.b"}, "outputFields"),
    ],
)
async def test_bad_uploads_are_refused_naming_the_field_and_create_nothing(
    api: httpx.AsyncClient, files: dict[str, Any] | None, data: dict[str, str], field: str
) -> None:
    workflow_id = await _enrich_workflow(api)

    response = await api.post(f"{V1}/workflows/{workflow_id}/batches", files=files, data=data)

    assert_refused(response, field)
    assert (await api.get(f"{V1}/batches")).json() == []


async def test_unknown_batches_and_bad_queries_answer_4xx(api: httpx.AsyncClient, flowyard_of: Flowyard) -> None:
    workflow_id = await _enrich_workflow(api)
    created = (
        await api.post(
            f"{V1}/workflows/{workflow_id}/batches", files={"file": ("x.csv", csv_bytes(["email"], [["a@b.c"]]))}
        )
    ).json()
    await _finished(api, created["id"])

    assert (await api.get(f"{V1}/batches/bt-nope")).status_code == 404
    assert (await api.get(f"{V1}/batches/bt-nope/results.csv")).status_code == 404
    assert (await api.post(f"{V1}/batches/bt-nope/cancel")).status_code == 404
    assert (await api.post(f"{V1}/workflows/wf-nope/batches", files={"file": ("x.csv", LEADS)})).status_code == 404
    assert_refused(await api.get(f"{V1}/batches/{created['id']}/rows", params={"status": "LOST"}), "status")
    assert_refused(
        await api.get(f"{V1}/batches/{created['id']}/results.csv", params={"fields": "a..b"}), "outputFields"
    )
    assert (await api.post(f"{V1}/batches/{created['id']}/cancel")).status_code == 409
    assert (await api.post(f"{V1}/batches/{created['id']}/retry")).status_code == 409


@pytest.fixture
async def small_uploads(tmp_path: Any) -> AsyncIterator[httpx.AsyncClient]:
    """An API whose bodies may be 1 KiB and whose uploads 4 KiB."""
    settings = Settings(
        data_dir=fresh_data_dir(tmp_path / "small"),
        lease_seconds=5,
        recovery_interval_seconds=0.5,
        max_body_bytes=1024,
        max_upload_bytes=4096,
        admin_token=ADMIN_TOKEN,
    )
    app = create_api(settings)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://localhost", headers=AUTH
        ) as client:
            yield client


async def test_uploads_over_the_upload_limit_get_413_and_create_nothing(small_uploads: httpx.AsyncClient) -> None:
    api = small_uploads
    workflow_id = await _enrich_workflow(api)
    fits = csv_bytes(["email"], [[f"user{i}@example.org"] for i in range(100)])  # over the body limit
    too_big = csv_bytes(["email"], [[f"user{i}@example.org"] for i in range(300)])

    accepted = await api.post(f"{V1}/workflows/{workflow_id}/batches", files={"file": ("a.csv", fits)})
    refused = await api.post(f"{V1}/workflows/{workflow_id}/batches", files={"file": ("b.csv", too_big)})
    ui_upload = await api.post("/_nicegui/client/c1/upload/u1", files={"file": ("b.csv", too_big)})
    ui_fits = await api.post("/_nicegui/client/c1/upload/u1", files={"file": ("a.csv", fits)})
    other = await api.post(f"{V1}/workflows", json={"name": "x" * 200, "description": "y" * 2000})

    assert len(fits) > 1024 and accepted.status_code == 202, accepted.text
    assert refused.status_code == 413
    assert refused.json()["detail"] == "the upload is larger than 4096 bytes (FLOWYARD_MAX_UPLOAD_BYTES)"
    assert ui_upload.status_code == 413
    assert ui_fits.status_code == 404  # past the size check: no UI is mounted on the bare API
    assert other.status_code == 413
    assert [b["filename"] for b in (await api.get(f"{V1}/batches")).json()] == ["a.csv"]


async def test_a_cell_of_the_wrong_type_is_named_in_the_preview_and_refuses_the_file(api: httpx.AsyncClient) -> None:
    workflow_id = (await api.post(f"{V1}/workflows", json={"name": "Divide"})).json()["id"]
    await api.post(
        f"{V1}/workflows/{workflow_id}/steps", json={"agentId": "transform", "action": "{{ 10 // input.n }}"}
    )
    content = b"n\n2\ntwo\n"

    preview = await api.post(f"{V1}/workflows/{workflow_id}/batches/preview", files={"file": ("n.csv", content)})
    created = await api.post(f"{V1}/workflows/{workflow_id}/batches", files={"file": ("n.csv", content)})

    assert preview.json()["cellErrors"] == ["row 2, column 'n': \"two\" is not a number"]
    assert_refused(created, "file")
    assert "row 2, column 'n': \"two\" is not a number" in created.json()["detail"]
    assert (await api.get(f"{V1}/batches")).json() == []
