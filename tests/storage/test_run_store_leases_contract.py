"""The run store contract, held against every store: leases (taking, renewing, releasing, listing the runs
to drive) and fencing, so that progress is written only by the lease holder.

Each test runs three times: on `InMemoryRunStore`, on `SqlRunStore` over a fresh SQLite file and
on `SqlRunStore` over a fresh PostgreSQL database (see `conftest.py`). Times are passed in
explicitly, so nothing here depends on the wall clock. The runs and nodes they start from are in `contract.py`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from app.engine.exceptions import LeaseLost
from app.engine.model import (
    NodeStatus,
    RunStatus,
)
from app.engine.store import LeaseInfo, RunStore
from tests.storage.contract import (
    ENDED,
    ME,
    NOT_DRIVABLE,
    OTHER,
    RUN,
    T0,
    approval_for,
    at,
    new_run,
    node,
    running_run,
)

# --- leases --------------------------------------------------------------------------------------


async def test_acquire_lease_takes_a_free_queued_run(store: RunStore) -> None:
    await store.create_run(new_run())

    assert await store.acquire_lease(RUN, ME, until=at(30), now=T0)
    assert await store.runs_to_drive(limit=10) == [LeaseInfo(RUN, ME, at(30))]


async def test_acquire_lease_refuses_a_run_another_owner_holds(store: RunStore) -> None:
    await store.create_run(new_run())
    await store.acquire_lease(RUN, OTHER, until=at(30), now=T0)

    assert not await store.acquire_lease(RUN, ME, until=at(60), now=at(29))
    assert await store.runs_to_drive(limit=10) == [LeaseInfo(RUN, OTHER, at(30))]


async def test_acquire_lease_takes_a_run_whose_lease_expired(store: RunStore) -> None:
    await store.create_run(new_run())
    await store.acquire_lease(RUN, OTHER, until=at(30), now=T0)

    assert await store.acquire_lease(RUN, ME, until=at(61), now=at(31))
    assert await store.runs_to_drive(limit=10) == [LeaseInfo(RUN, ME, at(61))]


async def test_acquire_lease_takes_a_run_whose_lease_expires_right_now(store: RunStore) -> None:
    await store.create_run(new_run())
    await store.acquire_lease(RUN, OTHER, until=at(30), now=T0)

    assert await store.acquire_lease(RUN, ME, until=at(60), now=at(30))


async def test_acquire_lease_takes_a_run_from_the_owner_named_in_steal_from(store: RunStore) -> None:
    await store.create_run(new_run())
    await store.acquire_lease(RUN, OTHER, until=at(30), now=T0)

    assert await store.acquire_lease(RUN, ME, until=at(40), now=at(10), steal_from=OTHER)
    assert await store.runs_to_drive(limit=10) == [LeaseInfo(RUN, ME, at(40))]


async def test_acquire_lease_with_steal_from_someone_else_refuses_the_holders_run(store: RunStore) -> None:
    await store.create_run(new_run())
    await store.acquire_lease(RUN, OTHER, until=at(30), now=T0)

    assert not await store.acquire_lease(RUN, ME, until=at(40), now=at(10), steal_from="host-c:303:cccccc")


async def test_acquire_lease_again_extends_the_holders_lease(store: RunStore) -> None:
    await store.create_run(new_run())
    await store.acquire_lease(RUN, ME, until=at(30), now=T0)

    assert await store.acquire_lease(RUN, ME, until=at(50), now=at(20))
    assert await store.runs_to_drive(limit=10) == [LeaseInfo(RUN, ME, at(50))]


@pytest.mark.parametrize("status", NOT_DRIVABLE, ids=str)
async def test_acquire_lease_refuses_a_run_that_is_not_queued_or_running(store: RunStore, status: RunStatus) -> None:
    await store.create_run(new_run(status=status))

    assert not await store.acquire_lease(RUN, ME, until=at(30), now=T0)


async def test_acquire_lease_refuses_an_unknown_run(store: RunStore) -> None:
    assert not await store.acquire_lease("wr-nothing", ME, until=at(30), now=T0)


async def test_renew_leases_returns_the_runs_the_owner_holds(store: RunStore) -> None:
    for run_id in ("wr-mine-1", "wr-mine-2", "wr-theirs"):
        await store.create_run(new_run(run_id))
    await store.acquire_lease("wr-mine-1", ME, until=at(30), now=T0)
    await store.acquire_lease("wr-mine-2", ME, until=at(30), now=T0)
    await store.acquire_lease("wr-theirs", OTHER, until=at(30), now=T0)

    renewal = await store.renew_leases(ME, until=at(60))

    assert renewal.held == {"wr-mine-1", "wr-mine-2"}
    assert renewal.cancel_requested == set()


async def test_renew_leases_extends_only_the_owners_leases(store: RunStore) -> None:
    await store.create_run(new_run("wr-mine", created_at=T0))
    await store.create_run(new_run("wr-theirs", created_at=at(1)))
    await store.acquire_lease("wr-mine", ME, until=at(30), now=T0)
    await store.acquire_lease("wr-theirs", OTHER, until=at(30), now=T0)

    await store.renew_leases(ME, until=at(60))

    assert await store.runs_to_drive(limit=10) == [
        LeaseInfo("wr-mine", ME, at(60)),
        LeaseInfo("wr-theirs", OTHER, at(30)),
    ]


async def test_renew_leases_leaves_out_a_run_another_owner_took_over(store: RunStore) -> None:
    await store.create_run(new_run())
    await store.acquire_lease(RUN, ME, until=at(30), now=T0)
    await store.acquire_lease(RUN, OTHER, until=at(70), now=at(40))

    renewal = await store.renew_leases(ME, until=at(80))

    assert renewal.held == set()


async def test_renew_leases_reports_runs_someone_asked_to_cancel(store: RunStore) -> None:
    await running_run(store, "wr-cancel-me")
    await running_run(store, "wr-carry-on")
    await store.request_cancel("wr-cancel-me", now=at(5))

    renewal = await store.renew_leases(ME, until=at(60))

    assert renewal.held == {"wr-cancel-me", "wr-carry-on"}
    assert renewal.cancel_requested == {"wr-cancel-me"}


async def test_release_lease_frees_the_run_for_another_owner(store: RunStore) -> None:
    await store.create_run(new_run())
    await store.acquire_lease(RUN, ME, until=at(30), now=T0)

    await store.release_lease(RUN, ME)

    assert await store.runs_to_drive(limit=10) == [LeaseInfo(RUN, None, None)]
    assert await store.acquire_lease(RUN, OTHER, until=at(40), now=at(10))


async def test_release_lease_by_someone_who_does_not_hold_it_changes_nothing(store: RunStore) -> None:
    await store.create_run(new_run())
    await store.acquire_lease(RUN, ME, until=at(30), now=T0)

    await store.release_lease(RUN, OTHER)

    assert await store.runs_to_drive(limit=10) == [LeaseInfo(RUN, ME, at(30))]


async def test_runs_to_drive_lists_queued_and_running_runs_oldest_first(store: RunStore) -> None:
    statuses = [RunStatus.QUEUED, RunStatus.PAUSED, RunStatus.RUNNING, *ENDED, RunStatus.QUEUED]
    for number, status in enumerate(statuses):
        await store.create_run(new_run(f"wr-{number}-{status.value.lower()}", status=status, created_at=at(-number)))

    drive = await store.runs_to_drive(limit=10)

    assert [info.run_id for info in drive] == ["wr-6-queued", "wr-2-running", "wr-0-queued"]


async def test_runs_to_drive_shows_each_lease_holder_and_expiry(store: RunStore) -> None:
    await store.create_run(new_run("wr-held", created_at=T0))
    await store.create_run(new_run("wr-free", created_at=at(1)))
    await store.acquire_lease("wr-held", OTHER, until=at(30), now=T0)

    drive = await store.runs_to_drive(limit=10)

    assert drive == [LeaseInfo("wr-held", OTHER, at(30)), LeaseInfo("wr-free", None, None)]


async def test_runs_to_drive_returns_at_most_limit_runs(store: RunStore) -> None:
    for number in range(5):
        await store.create_run(new_run(f"wr-{number}", created_at=at(number)))

    drive = await store.runs_to_drive(limit=2)

    assert [info.run_id for info in drive] == ["wr-0", "wr-1"]


# --- fencing: progress is written only by the lease holder ---------------------------------------

FencedWrite = Callable[[RunStore, str], Awaitable[None]]
FENCED_WRITES: dict[str, FencedWrite] = {
    "start_run": lambda store, owner: store.start_run(RUN, owner, now=at(45)),
    "save_node": lambda store, owner: store.save_node(owner, node("draft", NodeStatus.RUNNING), now=at(45)),
    "save_waiting_node": lambda store, owner: store.save_waiting_node(
        owner, node("review", NodeStatus.WAITING_APPROVAL), approval_for("review", created_at=at(45)), now=at(45)
    ),
    "save_nodes": lambda store, owner: store.save_nodes(
        owner,
        [node("draft", NodeStatus.COMPLETED), node("review", NodeStatus.WAITING_APPROVAL, step_order=2)],
        approvals=[approval_for("review", created_at=at(45))],
        now=at(45),
    ),
    "finish_run": lambda store, owner: store.finish_run(
        RUN, owner, status=RunStatus.COMPLETED, output="done", error=None, now=at(45)
    ),
}


@pytest.mark.parametrize("write", FENCED_WRITES.values(), ids=FENCED_WRITES.keys())
async def test_fenced_write_by_a_non_holder_raises_lease_lost(store: RunStore, write: FencedWrite) -> None:
    await store.create_run(new_run())
    await store.acquire_lease(RUN, OTHER, until=at(30), now=T0)

    with pytest.raises(LeaseLost):
        await write(store, ME)


@pytest.mark.parametrize("write", FENCED_WRITES.values(), ids=FENCED_WRITES.keys())
async def test_fenced_write_on_an_unleased_run_raises_lease_lost(store: RunStore, write: FencedWrite) -> None:
    await store.create_run(new_run())

    with pytest.raises(LeaseLost):
        await write(store, ME)


@pytest.mark.parametrize("write", FENCED_WRITES.values(), ids=FENCED_WRITES.keys())
async def test_fenced_write_after_losing_the_lease_changes_nothing(store: RunStore, write: FencedWrite) -> None:
    await running_run(store)
    await store.acquire_lease(RUN, OTHER, until=at(70), now=at(40))
    before = (await store.get_run(RUN), await store.get_node_runs(RUN), await store.get_approvals(RUN))

    with pytest.raises(LeaseLost):
        await write(store, ME)

    assert (await store.get_run(RUN), await store.get_node_runs(RUN), await store.get_approvals(RUN)) == before
