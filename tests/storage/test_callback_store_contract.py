"""The callback half of the run store contract, held against every store (memory, SQLite, PostgreSQL).

A run's callback becomes due in the very transaction that ends the run; claims make sure only one
process sends a given attempt; every attempt is kept. Times are passed in explicitly.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.engine.model import CallbackDelivery, CallbackState, RunRecord, RunStatus
from app.engine.store import RunStore

T0 = datetime(2030, 5, 17, 9, 30, 15, 123456, tzinfo=UTC)
ME = "host-a:101:aaaaaa"
OTHER = "host-b:202:bbbbbb"
RUN = "wr-00000000000000c1"
HOOK = "https://example.com/hooks/flowyard"
ENDED = [RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELLED]


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def new_run(run_id: str = RUN, *, callback_url: str | None = HOOK, **fields: object) -> RunRecord:
    return RunRecord(
        id=run_id,
        workflow_id="wf-briefing",
        workflow_version=1,
        status=RunStatus.QUEUED,
        input={"topic": "ai"},
        callback_url=callback_url,
        created_at=T0,
        updated_at=T0,
        **fields,  # type: ignore[arg-type]
    )


async def ended_run(
    store: RunStore,
    run_id: str = RUN,
    *,
    status: RunStatus = RunStatus.COMPLETED,
    callback_url: str | None = HOOK,
    ended_at: float = 2,
) -> None:
    """A run `ME` drove and ended at +`ended_at` s."""
    await store.create_run(new_run(run_id, callback_url=callback_url))
    assert await store.acquire_lease(run_id, ME, until=at(30), now=T0)
    await store.start_run(run_id, ME, now=at(1))
    await store.finish_run(run_id, ME, status=status, output={"summary": "done"}, error=None, now=at(ended_at))


def attempt(
    number: int, *, at_seconds: float, status_code: int | None = 200, error: str | None = None
) -> CallbackDelivery:
    return CallbackDelivery(RUN, HOOK, number, status_code, error, 12.5, at(at_seconds))


async def callback_of(store: RunStore, run_id: str = RUN) -> tuple[CallbackState | None, int, datetime | None]:
    run = await store.get_run(run_id)
    assert run is not None
    return run.callback_state, run.callback_attempts, run.callback_due_at


async def claimed_ids(store: RunStore, owner: str, *, now: datetime, limit: int = 10) -> list[str]:
    return [r.id for r in await store.claim_callbacks(owner, now=now, until=now + timedelta(seconds=40), limit=limit)]


# --- becoming due -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", ENDED)
async def test_finish_run_with_a_callback_url_makes_the_callback_due_at_once(
    store: RunStore, status: RunStatus
) -> None:
    await ended_run(store, status=status)

    assert await callback_of(store) == (CallbackState.PENDING, 0, at(2))


async def test_finish_run_without_a_callback_url_has_no_callback(store: RunStore) -> None:
    await ended_run(store, callback_url=None)

    assert await callback_of(store) == (None, 0, None)
    assert await claimed_ids(store, ME, now=at(100)) == []


async def test_finish_run_paused_does_not_make_the_callback_due(store: RunStore) -> None:
    await ended_run(store, status=RunStatus.PAUSED)

    assert await callback_of(store) == (None, 0, None)


async def test_request_cancel_of_an_undriven_run_makes_the_callback_due(store: RunStore) -> None:
    await store.create_run(new_run())

    await store.request_cancel(RUN, now=at(3))

    assert await callback_of(store) == (CallbackState.PENDING, 0, at(3))


async def test_request_cancel_of_a_driven_run_leaves_the_callback_to_its_end(store: RunStore) -> None:
    await store.create_run(new_run())
    assert await store.acquire_lease(RUN, ME, until=at(30), now=T0)

    await store.request_cancel(RUN, now=at(3))

    assert await callback_of(store) == (None, 0, None)


async def test_reset_for_rerun_drops_the_undelivered_callback_until_the_run_ends_again(store: RunStore) -> None:
    await ended_run(store, status=RunStatus.FAILED)

    await store.reset_for_rerun(RUN, now=at(5))

    assert await callback_of(store) == (None, 0, None)
    assert await claimed_ids(store, ME, now=at(100)) == []


async def test_finish_run_again_after_attempts_starts_the_callback_afresh(store: RunStore) -> None:
    await ended_run(store, status=RunStatus.FAILED)
    assert await claimed_ids(store, ME, now=at(3)) == [RUN]
    await store.record_callback_attempt(ME, attempt(1, at_seconds=3), state=CallbackState.DELIVERED, next_due_at=None)
    await store.reset_for_rerun(RUN, now=at(5))
    assert await store.acquire_lease(RUN, ME, until=at(60), now=at(6))

    await store.finish_run(RUN, ME, status=RunStatus.COMPLETED, output="ok", error=None, now=at(9))

    assert await callback_of(store) == (CallbackState.PENDING, 0, at(9))


async def test_get_run_returns_the_callback_fields_as_created(store: RunStore) -> None:
    await store.create_run(new_run(callback_state=CallbackState.PENDING, callback_attempts=2, callback_due_at=at(7)))

    run = await store.get_run(RUN)

    assert run is not None
    assert (run.callback_url, run.callback_state, run.callback_attempts, run.callback_due_at) == (
        HOOK,
        CallbackState.PENDING,
        2,
        at(7),
    )
    assert run.callback_due_at is not None and run.callback_due_at.utcoffset() == timedelta(0)


# --- claiming ---------------------------------------------------------------------------------------------------


async def test_claim_callbacks_returns_the_due_runs_earliest_first(store: RunStore) -> None:
    await ended_run(store, "wr-late", ended_at=4)
    await ended_run(store, "wr-early", ended_at=2)

    claimed = await store.claim_callbacks(ME, now=at(10), until=at(50), limit=10)

    assert [r.id for r in claimed] == ["wr-early", "wr-late"]
    assert claimed[0].status is RunStatus.COMPLETED
    assert claimed[0].output == {"summary": "done"}
    assert claimed[0].callback_url == HOOK


async def test_claim_callbacks_leaves_out_callbacks_not_due_yet(store: RunStore) -> None:
    await ended_run(store, ended_at=5)

    assert await claimed_ids(store, ME, now=at(4)) == []
    assert await claimed_ids(store, ME, now=at(5)) == [RUN]


async def test_claim_callbacks_returns_at_most_limit_runs(store: RunStore) -> None:
    for number in range(3):
        await ended_run(store, f"wr-{number}", ended_at=2 + number)

    assert await claimed_ids(store, ME, now=at(10), limit=2) == ["wr-0", "wr-1"]
    assert await claimed_ids(store, ME, now=at(10), limit=2) == ["wr-2"]


async def test_claim_callbacks_skips_a_callback_someone_else_claimed(store: RunStore) -> None:
    await ended_run(store)
    assert await claimed_ids(store, OTHER, now=at(3)) == [RUN]

    assert await claimed_ids(store, ME, now=at(4)) == []


async def test_claim_callbacks_never_hands_out_a_claimed_callback_twice(store: RunStore) -> None:
    await ended_run(store)
    assert await claimed_ids(store, ME, now=at(3)) == [RUN]

    assert await claimed_ids(store, ME, now=at(4)) == []


async def test_claim_callbacks_takes_a_callback_whose_claim_expired(store: RunStore) -> None:
    await ended_run(store)
    await store.claim_callbacks(OTHER, now=at(3), until=at(43), limit=1)

    assert await claimed_ids(store, ME, now=at(43)) == [RUN]


async def test_release_callback_lets_another_owner_claim_it_at_once(store: RunStore) -> None:
    await ended_run(store)
    await store.claim_callbacks(OTHER, now=at(3), until=at(43), limit=1)

    await store.release_callback(RUN, OTHER)

    assert await claimed_ids(store, ME, now=at(4)) == [RUN]


async def test_release_callback_by_someone_who_does_not_hold_it_changes_nothing(store: RunStore) -> None:
    await ended_run(store)
    await store.claim_callbacks(OTHER, now=at(3), until=at(43), limit=1)

    await store.release_callback(RUN, ME)

    assert await claimed_ids(store, ME, now=at(4)) == []


# --- recording attempts ------------------------------------------------------------------------------------------


async def test_record_callback_attempt_delivered_ends_the_callback(store: RunStore) -> None:
    await ended_run(store)
    await claimed_ids(store, ME, now=at(3))

    held = await store.record_callback_attempt(
        ME, attempt(1, at_seconds=3), state=CallbackState.DELIVERED, next_due_at=None
    )

    assert held is True
    assert await callback_of(store) == (CallbackState.DELIVERED, 1, None)
    assert await claimed_ids(store, OTHER, now=at(1000)) == []


async def test_record_callback_attempt_keeps_every_field_of_the_attempt(store: RunStore) -> None:
    await ended_run(store)
    await claimed_ids(store, ME, now=at(3))
    sent = attempt(1, at_seconds=3, status_code=503, error="answered 503")

    await store.record_callback_attempt(ME, sent, state=CallbackState.PENDING, next_due_at=at(5))

    assert await store.get_callback_deliveries(RUN) == [sent]


async def test_record_callback_attempt_failed_makes_it_due_again_at_the_next_time(store: RunStore) -> None:
    await ended_run(store)
    await claimed_ids(store, ME, now=at(3))

    await store.record_callback_attempt(
        ME,
        attempt(1, at_seconds=3, status_code=500, error="answered 500"),
        state=CallbackState.PENDING,
        next_due_at=at(7),
    )

    assert await callback_of(store) == (CallbackState.PENDING, 1, at(7))
    assert await claimed_ids(store, OTHER, now=at(6)) == []
    assert await claimed_ids(store, OTHER, now=at(7)) == [RUN]


async def test_record_callback_attempt_given_up_is_never_claimed_again(store: RunStore) -> None:
    await ended_run(store)
    await claimed_ids(store, ME, now=at(3))

    await store.record_callback_attempt(
        ME,
        attempt(6, at_seconds=3, status_code=None, error="ConnectError"),
        state=CallbackState.FAILED,
        next_due_at=None,
    )

    assert await callback_of(store) == (CallbackState.FAILED, 6, None)
    assert await claimed_ids(store, ME, now=at(1000)) == []


async def test_record_callback_attempt_after_losing_the_claim_keeps_only_the_attempt(store: RunStore) -> None:
    await ended_run(store)
    await store.claim_callbacks(OTHER, now=at(3), until=at(10), limit=1)
    await store.claim_callbacks(ME, now=at(10), until=at(50), limit=1)

    held = await store.record_callback_attempt(
        OTHER, attempt(1, at_seconds=11), state=CallbackState.DELIVERED, next_due_at=None
    )

    assert held is False
    assert await callback_of(store) == (CallbackState.PENDING, 0, at(2))
    assert [d.attempt for d in await store.get_callback_deliveries(RUN)] == [1]


async def test_get_callback_deliveries_lists_attempts_oldest_first(store: RunStore) -> None:
    await ended_run(store)
    for number, (status_code, state) in enumerate(
        [(500, CallbackState.PENDING), (503, CallbackState.PENDING), (200, CallbackState.DELIVERED)], start=1
    ):
        assert await claimed_ids(store, ME, now=at(10 * number)) == [RUN]
        error = None if status_code == 200 else f"answered {status_code}"
        next_due = at(10 * number + 5) if state is CallbackState.PENDING else None
        sent = attempt(number, at_seconds=10 * number, status_code=status_code, error=error)
        await store.record_callback_attempt(ME, sent, state=state, next_due_at=next_due)

    deliveries = await store.get_callback_deliveries(RUN)

    assert [(d.attempt, d.status_code) for d in deliveries] == [(1, 500), (2, 503), (3, 200)]
    assert all(d.created_at.utcoffset() == timedelta(0) for d in deliveries)
    assert await callback_of(store) == (CallbackState.DELIVERED, 3, None)


async def test_get_callback_deliveries_of_a_run_without_attempts_is_empty(store: RunStore) -> None:
    await ended_run(store)

    assert await store.get_callback_deliveries(RUN) == []
