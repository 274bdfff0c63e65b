"""What each role is offered on the pages, and that the page's handlers check the role themselves.

A viewer sees the same pages read-only, with no control that changes anything; an approver decides only the
steps the workflow lets them. A hidden button is not the check: when the page's person loses a permission while
the page is open (here, by replacing the principal the page keeps with its client), the controls still on the
page refuse, say why, and change nothing.
"""

from __future__ import annotations

import sqlalchemy as sa
from nicegui.testing import User
from sqlmodel import Session

from app.models.people import Role
from app.models.workflows import WorkflowAccess
from app.pages.access import LOGIN_COOKIE
from app.root import Flowyard
from app.services.audit import AuditQuery
from components.graph_editor import GraphEditor
from storage.models import UserRow
from tests.people import person
from tests.ui.conftest import add_person, log_in_as
from tests.ui.helpers import paused_run, run_to_end, steps

MAY_NOT = "Your role (viewer) may not"


async def _become(flowyard: Flowyard, role: Role) -> None:
    """The page's person (Ada) now has `role`: changed in the database while her page stays open (her login
    goes on, as when another process changed it), so only the handler's own check can notice."""

    def change(session: Session) -> None:
        session.execute(sa.update(UserRow).where(UserRow.email == "ada@example.com").values(role=role.value))

    await flowyard.db.tx(change)


# --- what a viewer is offered -------------------------------------------------------------------------------------


async def test_a_viewer_sees_workflows_without_create_or_change_controls(user: User, flowyard: Flowyard) -> None:
    await flowyard.workflows.create(name="Digest", definition=steps("{{ input }}"))
    await log_in_as(user, flowyard, "vic@example.com", Role.VIEWER)

    await user.open("/workflows")

    await user.should_see("Digest")
    for control in ("create", "import", "rename", "clone", "delete"):
        await user.should_not_see(marker=control)
    await user.should_not_see("Use this example")
    await user.should_see(marker="export")  # reading a workflow out is not a change


async def test_a_viewer_sees_agents_and_schedules_without_create_controls(user: User, flowyard: Flowyard) -> None:
    await flowyard.agents.create(id="shout", name="Shout", kind="transform")
    await log_in_as(user, flowyard, "vic@example.com", Role.VIEWER)

    await user.open("/agents")
    await user.should_see("Shout")
    await user.should_not_see(marker="create")
    await user.should_not_see(marker="duplicate-shout")

    await user.open("/agents/shout")
    await user.should_see("Settings")
    await user.should_not_see(marker="save")
    await user.should_not_see(marker="run-test")

    await user.open("/schedules")
    await user.should_see("No schedules yet")
    await user.should_not_see(marker="create")


async def test_a_viewer_gets_the_editor_read_only_without_save_or_run(user: User, flowyard: Flowyard) -> None:
    workflow = await flowyard.workflows.create(name="Digest", definition=steps("{{ input }}"))
    await log_in_as(user, flowyard, "vic@example.com", Role.VIEWER)

    await user.open(f"/workflows/{workflow.id}")

    await user.should_see(marker="read-only")
    await user.should_not_see(marker="save-workflow")
    await user.should_not_see(marker="run-workflow")
    await user.should_not_see("Search agents")  # no palette to add steps from
    await user.should_not_see(marker="open-webhook")  # its page shows the secret URL: for editors only
    [canvas] = user.find(GraphEditor).elements
    assert canvas.readonly


async def test_an_approver_gets_no_editor_at_all(user: User, flowyard: Flowyard) -> None:
    workflow = await flowyard.workflows.create(name="Digest", definition=steps("{{ input }}"))
    await log_in_as(user, flowyard, "ann@example.com", Role.APPROVER)

    await user.open(f"/workflows/{workflow.id}")

    await user.should_see(marker="forbidden")
    await user.should_not_see(marker="run-workflow")
    await user.should_not_see(marker="save-workflow")


async def test_an_editor_keeps_every_control(user: User, flowyard: Flowyard) -> None:
    workflow = await flowyard.workflows.create(name="Digest", definition=steps("{{ input }}"))
    await log_in_as(user, flowyard, "eve@example.com", Role.EDITOR)

    await user.open(f"/workflows/{workflow.id}")
    await user.should_see(marker="save-workflow")
    await user.should_see(marker="run-workflow")
    await user.should_not_see(marker="read-only")

    await user.open("/workflows")
    for control in ("create", "import", "rename", "clone", "delete"):
        await user.should_see(marker=control)


async def test_a_viewer_sees_a_run_without_cancel_or_rerun(user: User, flowyard: Flowyard) -> None:
    workflow = await flowyard.workflows.create(name="Bad", definition=steps("{{ input.nope.deeper }}"))
    run = await run_to_end(flowyard, workflow.id)
    await log_in_as(user, flowyard, "vic@example.com", Role.VIEWER)

    await user.open(f"/runs/{run.id}")

    await user.should_see("Failed")
    for control in ("rerun", "rerun-failed", "cancel-run"):
        await user.should_not_see(marker=control)


async def test_what_an_editor_changes_and_starts_is_recorded_as_theirs(user: User, flowyard: Flowyard) -> None:
    workflow = await flowyard.workflows.create(name="Digest", definition=steps("{{ input }}"))
    await log_in_as(user, flowyard, "eve@example.com", Role.EDITOR)
    await user.open(f"/workflows/{workflow.id}")
    await user.should_see(marker="save-workflow")

    user.find(marker="save-workflow").click()
    await user.should_see("Saved as version")
    user.find(marker="run-workflow").click()
    await user.should_see("Run workflow")
    user.find(marker="start-run").click()
    await user.should_see(marker="run-notice")  # “Run started — open its page”, until closed

    [saved] = await flowyard.audit.list(AuditQuery(action="workflow.save"))
    assert saved.actor == "eve@example.com"
    [run] = (await flowyard.runs.list(workflow.id, page=0, size=10)).items
    assert (await flowyard.runs.get(run.id)).started_by == "eve@example.com"  # (self-approval is told by it)


# --- who decides in the inbox -------------------------------------------------------------------------------------


async def test_a_viewer_sees_the_waiting_step_but_cannot_decide_it(user: User, flowyard: Flowyard) -> None:
    await paused_run(flowyard)
    await log_in_as(user, flowyard, "vic@example.com", Role.VIEWER)

    await user.open("/inbox")

    await user.should_see("Editor approves")
    await user.should_see("Only approvers decide this step")
    for control in ("approve", "approve-edited", "reject", "reason"):
        await user.should_not_see(marker=control)


async def test_an_approver_the_workflow_does_not_name_is_told_why(user: User, flowyard: Flowyard) -> None:
    workflow_id = await paused_run(flowyard)
    await add_person(flowyard, "bea@example.com", Role.APPROVER)
    await flowyard.approvers.set(workflow_id, WorkflowAccess(approvers=["bea@example.com"]), by=person("ada"))
    await log_in_as(user, flowyard, "ann@example.com", Role.APPROVER)

    await user.open("/inbox")

    await user.should_see("Editor approves")
    await user.should_see("Only this workflow's approvers (and admins) may decide its steps.")
    await user.should_not_see(marker="approve")


async def test_the_named_approver_decides(user: User, flowyard: Flowyard) -> None:
    workflow_id = await paused_run(flowyard)
    await log_in_as(user, flowyard, "bea@example.com", Role.APPROVER)
    await flowyard.approvers.set(workflow_id, WorkflowAccess(approvers=["bea@example.com"]), by=person("ada"))

    await user.open("/inbox")

    await user.should_see(marker="approve")
    await user.should_not_see(marker="may-not-decide")


# --- the handlers check, not the hiding ---------------------------------------------------------------------------


async def test_clone_refuses_once_the_person_is_a_viewer(user: User, flowyard: Flowyard) -> None:
    workflow = await flowyard.workflows.create(name="Digest", definition=steps("{{ input }}"))
    await user.open("/workflows")
    await user.should_see("Digest")
    await _become(flowyard, Role.VIEWER)

    with user.scope(marker=workflow.id):
        user.find(marker="clone").click()

    await user.should_see(MAY_NOT)
    assert [w.name for w in (await flowyard.workflows.list(page=0, size=50)).items] == ["Digest"]


async def test_duplicating_an_agent_refuses_once_the_person_is_a_viewer(user: User, flowyard: Flowyard) -> None:
    await flowyard.agents.create(id="shout", name="Shout", kind="transform")
    before = len(await flowyard.agents.summaries())
    await user.open("/agents")
    await user.should_see("Shout")
    await _become(flowyard, Role.VIEWER)

    user.find(marker="duplicate-shout").click()

    await user.should_see(MAY_NOT)
    assert len(await flowyard.agents.summaries()) == before


async def test_save_and_run_in_the_editor_refuse_once_the_person_is_a_viewer(user: User, flowyard: Flowyard) -> None:
    workflow = await flowyard.workflows.create(name="Digest", definition=steps("{{ input }}"))
    await user.open(f"/workflows/{workflow.id}")
    await user.should_see(marker="run-workflow")
    await _become(flowyard, Role.VIEWER)

    user.find(marker="save-workflow").click()
    user.find(marker="run-workflow").click()

    await user.should_see("may not change workflows, agents, schedules, webhooks and batches")
    await user.should_see("may not start, cancel or retry runs and batches: that needs the editor or admin role")
    await user.should_not_see(marker="start-run")  # no Run dialog opened
    assert (await flowyard.workflows.get(workflow.id)).version == workflow.version
    assert (await flowyard.runs.list(workflow.id, page=0, size=10)).total == 0


async def test_rerun_refuses_once_the_person_is_a_viewer(user: User, flowyard: Flowyard) -> None:
    workflow = await flowyard.workflows.create(name="Digest", definition=steps("{{ input }}"))
    run = await run_to_end(flowyard, workflow.id)
    await user.open(f"/runs/{run.id}")
    await user.should_see("Completed")
    await _become(flowyard, Role.VIEWER)

    user.find(marker="rerun").click()

    await user.should_see(MAY_NOT)
    assert (await flowyard.runs.list(workflow.id, page=0, size=10)).total == 1


async def test_approve_refuses_once_the_person_is_a_viewer(user: User, flowyard: Flowyard) -> None:
    await paused_run(flowyard)
    await user.open("/inbox")
    await user.should_see("Editor approves")
    await _become(flowyard, Role.VIEWER)

    user.find(marker="approve").click()

    await user.should_see(MAY_NOT)
    assert len((await flowyard.approvals.pending()).items) == 1


async def test_an_open_page_whose_login_ended_acts_no_more(user: User, flowyard: Flowyard) -> None:
    await paused_run(flowyard)
    await user.open("/inbox")
    await user.should_see("Editor approves")
    await flowyard.logins.log_out(user.http_client.cookies.get(LOGIN_COOKIE))  # (logged out in another tab)

    user.find(marker="approve").click()

    await user.should_see("Your login has ended")
    assert len((await flowyard.approvals.pending()).items) == 1
