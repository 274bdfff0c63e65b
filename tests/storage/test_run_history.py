"""The services behind the runs page and the header badge: runs across workflows with filters and keyset
paging, and the active counts. On SQLite and PostgreSQL, since the paging is one query per filter shape."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from app.engine.exceptions import InvalidInput
from app.engine.model import RunStatus, Trigger
from app.models.people import SYSTEM
from app.models.runs import RunQuery, RunSummary
from app.root import Flowyard
from app.settings import Settings
from storage.history import encode_cursor
from storage.models import ApprovalRow, RunRow, WorkflowRow
from tests.databases import fresh_data_dir

T0 = datetime(2030, 3, 1, 8, 0, tzinfo=UTC)
STATUSES = [RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELLED, RunStatus.RUNNING, RunStatus.PAUSED]
TRIGGERS = [Trigger.API, Trigger.SCHEDULE, Trigger.UI, Trigger.WEBHOOK]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def flowyard(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Flowyard]:
    """Flowyard on an empty database, its executor not started: seeded runs stay as they are written."""
    url = None if request.param == "sqlite" else request.getfixturevalue("migrated_postgres_url")
    app = Flowyard.open(Settings(data_dir=fresh_data_dir(tmp_path), database_url=url))
    yield app
    await app.close()


def insert_runs(flowyard: Flowyard, rows: list[dict[str, Any]]) -> None:
    with flowyard.db.engine.begin() as conn:
        conn.execute(sa.insert(RunRow.__table__), rows)  # type: ignore[attr-defined]


def add_workflow(flowyard: Flowyard, workflow_id: str, name: str) -> None:
    with flowyard.db.engine.begin() as conn:
        conn.execute(
            sa.insert(WorkflowRow.__table__).values(  # type: ignore[attr-defined]
                id=workflow_id, name=name, description="", version=1, created_at=T0, updated_at=T0
            )
        )


def run_row(
    number: int, *, workflow_id: str, status: RunStatus, trigger: Trigger, created_at: datetime
) -> dict[str, Any]:
    finished = status in (RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELLED)
    return {
        "id": f"wr-{number:06d}",
        "workflow_id": workflow_id,
        "workflow_version": 1 + number % 3,
        "trigger": trigger.value,
        "status": status.value,
        "input": {"n": number},
        "error": f"step 'x' failed: boom {number}\nsecond line" if status is RunStatus.FAILED else None,
        "created_at": created_at,
        "updated_at": created_at,
        "started_at": created_at + timedelta(seconds=1),
        "finished_at": created_at + timedelta(seconds=3.5) if finished else None,
    }


@pytest.fixture
def history(flowyard: Flowyard) -> list[dict[str, Any]]:
    """300 runs over three workflows, statuses and triggers cycling, in groups of five sharing a timestamp."""
    add_workflow(flowyard, "wf-a", "Alpha")
    add_workflow(flowyard, "wf-b", "Beta")
    add_workflow(flowyard, "wf-c", "Gamma")
    rows = [
        run_row(
            n,
            workflow_id=("wf-a", "wf-b", "wf-c")[n % 3],
            status=STATUSES[n % len(STATUSES)],
            trigger=TRIGGERS[(n // 2) % len(TRIGGERS)],
            created_at=T0 + timedelta(minutes=n // 5),
        )
        for n in range(300)
    ]
    insert_runs(flowyard, rows)
    return rows


def newest_first(rows: list[dict[str, Any]]) -> list[str]:
    return [r["id"] for r in sorted(rows, key=lambda r: (r["created_at"], r["id"]), reverse=True)]


async def all_pages(flowyard: Flowyard, query: RunQuery, size: int) -> list[RunSummary]:
    items: list[RunSummary] = []
    cursor = None
    for _ in range(1000):
        page = await flowyard.runs.list_all(query, after=cursor, size=size)
        assert len(page.items) <= size
        items.extend(page.items)
        cursor = page.next_cursor
        if cursor is None:
            return items
    raise AssertionError("paging never ended")


async def test_first_page_is_newest_first_with_workflow_names(
    flowyard: Flowyard, history: list[dict[str, Any]]
) -> None:
    page = await flowyard.runs.list_all(RunQuery(), size=10)

    assert [item.id for item in page.items] == newest_first(history)[:10]
    first = page.items[0]
    source = next(r for r in history if r["id"] == first.id)
    assert first.workflow_name == {"wf-a": "Alpha", "wf-b": "Beta", "wf-c": "Gamma"}[first.workflow_id]
    assert (first.status, first.trigger, first.created_at) == (
        RunStatus(source["status"]),
        Trigger(source["trigger"]),
        source["created_at"],
    )
    assert page.next_cursor is not None


async def test_summary_tells_duration_and_the_first_line_of_the_error(
    flowyard: Flowyard, history: list[dict[str, Any]]
) -> None:
    page = await flowyard.runs.list_all(RunQuery(statuses=[RunStatus.FAILED]), size=1)
    running = await flowyard.runs.list_all(RunQuery(statuses=[RunStatus.RUNNING]), size=1)

    (failed,) = page.items
    assert failed.duration_seconds == pytest.approx(2.5)
    assert failed.error is not None and failed.error.startswith("step 'x' failed: boom")
    assert "second line" not in failed.error
    assert (running.items[0].duration_seconds, running.items[0].error) == (None, None)


@pytest.mark.parametrize(
    "query",
    [
        RunQuery(statuses=[RunStatus.FAILED]),
        RunQuery(statuses=[RunStatus.PAUSED, RunStatus.RUNNING]),
        RunQuery(workflow_id="wf-b"),
        RunQuery(triggers=[Trigger.WEBHOOK]),
        RunQuery(triggers=[Trigger.UI, Trigger.SCHEDULE]),
        RunQuery(created_from=T0 + timedelta(minutes=10), created_to=T0 + timedelta(minutes=20)),
        RunQuery(workflow_id="wf-a", statuses=[RunStatus.CANCELLED]),
        RunQuery(workflow_id="wf-c", triggers=[Trigger.API], created_from=T0 + timedelta(minutes=30)),
        RunQuery(statuses=[RunStatus.COMPLETED], triggers=[Trigger.SCHEDULE], created_to=T0 + timedelta(minutes=40)),
        RunQuery(
            workflow_id="wf-b",
            statuses=[RunStatus.FAILED, RunStatus.COMPLETED],
            triggers=[Trigger.API],
            created_from=T0 + timedelta(minutes=5),
            created_to=T0 + timedelta(minutes=50),
        ),
    ],
    ids=lambda q: ",".join(f"{k}={v}" for k, v in q.model_dump(exclude_defaults=True).items()),
)
async def test_filters_page_through_exactly_the_matching_runs(
    flowyard: Flowyard, history: list[dict[str, Any]], query: RunQuery
) -> None:
    def matches(row: dict[str, Any]) -> bool:
        return (
            (not query.statuses or row["status"] in query.statuses)
            and (query.workflow_id is None or row["workflow_id"] == query.workflow_id)
            and (not query.triggers or row["trigger"] in query.triggers)
            and (query.created_from is None or row["created_at"] >= query.created_from)
            and (query.created_to is None or row["created_at"] < query.created_to)
        )

    expected = newest_first([r for r in history if matches(r)])

    listed = await all_pages(flowyard, query, size=7)

    assert expected
    assert [item.id for item in listed] == expected


async def test_paging_across_identical_timestamps_has_no_duplicates_or_gaps(flowyard: Flowyard) -> None:
    add_workflow(flowyard, "wf-a", "Alpha")
    same = T0 + timedelta(hours=1)
    rows = [
        run_row(n, workflow_id="wf-a", status=RunStatus.COMPLETED, trigger=Trigger.SCHEDULE, created_at=same)
        for n in range(40)
    ]
    rows += [
        run_row(100 + n, workflow_id="wf-a", status=RunStatus.COMPLETED, trigger=Trigger.API, created_at=T0)
        for n in range(3)
    ]
    insert_runs(flowyard, rows)

    for query in (RunQuery(), RunQuery(triggers=[Trigger.SCHEDULE, Trigger.API]), RunQuery(workflow_id="wf-a")):
        listed = [item.id for item in await all_pages(flowyard, query, size=6)]

        assert listed == newest_first(rows)
        assert len(set(listed)) == len(rows)


async def test_last_page_has_no_cursor(flowyard: Flowyard, history: list[dict[str, Any]]) -> None:
    page = await flowyard.runs.list_all(RunQuery(workflow_id="wf-a"), size=100)

    assert len(page.items) == 100
    assert page.next_cursor is None


async def test_filters_that_match_nothing_give_an_empty_page(flowyard: Flowyard, history: list[dict[str, Any]]) -> None:
    queries = [
        RunQuery(statuses=[RunStatus.QUEUED]),
        RunQuery(workflow_id="wf-missing"),
        RunQuery(triggers=[Trigger.BATCH]),
        RunQuery(created_to=T0),
        RunQuery(workflow_id="wf-a", statuses=[RunStatus.QUEUED], triggers=[Trigger.BATCH]),
    ]
    for query in queries:
        page = await flowyard.runs.list_all(query)

        assert (page.items, page.next_cursor) == ([], None)


@pytest.mark.parametrize(
    "cursor",
    [
        "not a cursor",
        "",
        "e30",  # base64 of "{}"
        "WyJ4IiwieSJd",  # ["x","y"]: no time
        "WyIyMDMwLTAxLTAxVDAwOjAwOjAwIiwid3ItMSJd",  # a time without a zone
        "W251bGwsIG51bGxd",  # [null, null]
        "x" * 1000,
    ],
)
async def test_a_bad_cursor_is_invalid_input_naming_after(
    flowyard: Flowyard, history: list[dict[str, Any]], cursor: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        await flowyard.runs.list_all(RunQuery(), after=cursor)

    assert caught.value.field == "after"


async def test_a_cursor_past_the_oldest_run_gives_an_empty_page(
    flowyard: Flowyard, history: list[dict[str, Any]]
) -> None:
    page = await flowyard.runs.list_all(RunQuery(), after=encode_cursor(T0 - timedelta(days=1), "wr-0"))

    assert page.items == []


@pytest.mark.parametrize("size", [0, -1, 501])
async def test_a_page_size_out_of_range_is_invalid_input(flowyard: Flowyard, size: int) -> None:
    with pytest.raises(InvalidInput) as caught:
        await flowyard.runs.list_all(RunQuery(), size=size)

    assert caught.value.field == "size"


def test_a_time_range_backwards_is_refused() -> None:
    with pytest.raises(ValueError, match="created_from is after created_to"):
        RunQuery(created_from=T0 + timedelta(hours=1), created_to=T0)


async def test_active_counts_count_queued_running_paused_and_pending_approvals(flowyard: Flowyard) -> None:
    add_workflow(flowyard, "wf-a", "Alpha")
    statuses = [RunStatus.QUEUED] * 2 + [RunStatus.RUNNING] * 3 + [RunStatus.PAUSED] * 4 + [RunStatus.COMPLETED] * 5
    rows = [
        run_row(n, workflow_id="wf-a", status=status, trigger=Trigger.API, created_at=T0)
        for n, status in enumerate(statuses)
    ]
    insert_runs(flowyard, rows)
    with flowyard.db.engine.begin() as conn:
        conn.execute(
            sa.insert(ApprovalRow.__table__),  # type: ignore[attr-defined]
            [
                {"id": f"ap-{n}", "run_id": row["id"], "node_key": "review", "status": status, "created_at": T0}
                for n, (row, status) in enumerate(
                    zip(rows[5:9] + rows[9:10], ["PENDING"] * 4 + ["APPROVED"], strict=True)
                )
            ],
        )

    counts = await flowyard.runs.active_counts()

    assert (counts.queued, counts.running, counts.paused, counts.pending_approvals) == (2, 3, 4, 4)
    assert counts.active_runs == 9


async def test_active_counts_of_an_empty_database_are_zero(flowyard: Flowyard) -> None:
    counts = await flowyard.runs.active_counts()

    assert (counts.active_runs, counts.pending_approvals) == (0, 0)


def test_cursors_are_opaque_and_url_safe() -> None:
    cursors = [encode_cursor(T0 + timedelta(microseconds=n), f"wr-{n}") for n in range(50)]

    assert all(c.isascii() and "/" not in c and "+" not in c and "=" not in c for c in cursors)
    assert len(set(cursors)) == len(cursors)


# --- search and delete --------------------------------------------------------------------------------------


async def test_search_finds_a_run_by_id_session_or_text_in_its_input_or_output(flowyard: Flowyard) -> None:
    add_workflow(flowyard, "wf-a", "Alpha")
    base = run_row(1, workflow_id="wf-a", status=RunStatus.COMPLETED, trigger=Trigger.API, created_at=T0)
    base["output"] = None  # every row names the same columns (one INSERT for all)
    insert_runs(
        flowyard,
        [
            {**base, "id": "wr-email", "input": {"email": "Ada@Example.com"}, "session_id": "s-1"},
            {**base, "id": "wr-output", "input": {}, "output": {"reply": "Dear Zoë, 100% yes"}, "session_id": "s-2"},
            {**base, "id": "wr-other", "input": {"email": "bob@example.com"}, "session_id": "s-ada"},
        ],
    )

    async def found(text: str) -> list[str]:
        return sorted(r.id for r in (await flowyard.runs.list_all(RunQuery(text=text))).items)

    assert await found("ada@example") == ["wr-email"]  # any case
    assert await found("wr-output") == ["wr-output"]  # a run id
    assert await found("s-ada") == ["wr-other"]  # a session id, exactly
    assert await found("Zoë") == ["wr-output"]  # non-ASCII, stored escaped
    assert await found("100%") == ["wr-output"]  # LIKE's wildcards are only text
    assert await found("_") == []
    assert await found("example.com") == ["wr-email", "wr-other"]
    assert await found("nobody") == []


async def test_delete_takes_only_runs_that_have_ended(flowyard: Flowyard, history: list[dict[str, Any]]) -> None:
    ended = [r["id"] for r in history[:10] if r["status"] in ("COMPLETED", "FAILED", "CANCELLED")]
    active = [r["id"] for r in history[:10] if r["status"] in ("RUNNING", "PAUSED")]
    gone = await flowyard.runs.delete([*ended, *active, "wr-unknown"], by=SYSTEM)

    assert gone.runs == len(ended)
    left = {r.id for r in (await flowyard.runs.list_all(size=500)).items}
    assert not left & set(ended)
    assert set(active) <= left
    entries = await flowyard.audit.list()
    assert [e.action for e in entries] == ["runs.delete"]
    with pytest.raises(InvalidInput, match="at most 500"):
        await flowyard.runs.delete([f"wr-{n}" for n in range(501)], by=SYSTEM)
