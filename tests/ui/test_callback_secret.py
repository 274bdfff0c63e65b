"""The editor's "Callback secret" dialog: whoever may see a workflow sees the secret its callbacks are signed with
(the receiver needs it); whoever may edit it gives it a secret of its own, rotates it, or goes back to the shared one.
"""

from __future__ import annotations

from nicegui import ui
from nicegui.testing import User

from app.models.people import Role
from app.root import Flowyard
from tests.ui.conftest import log_in_as
from tests.ui.helpers import steps


async def test_an_editor_gives_a_workflow_its_own_callback_secret_and_rotates_it(
    user: User, flowyard: Flowyard
) -> None:
    workflow = await flowyard.workflows.create(name="Digest", definition=steps("{{ input }}"))
    shared = (await flowyard.callback_secrets.get(workflow.id)).secret
    await user.open(f"/workflows/{workflow.id}")

    user.find(marker="callback-secret-menu").click()
    await user.should_see("This workflow uses the shared secret")
    [field] = user.find(marker="callback-secret").elements
    assert isinstance(field, ui.input) and field.value == shared

    user.find(marker="rotate-callback-secret").click()
    await user.should_see("This workflow has a secret of its own.")
    own = await flowyard.callback_secrets.get(workflow.id)
    assert not own.shared and own.secret != shared
    [field] = user.find(marker="callback-secret").elements
    assert isinstance(field, ui.input) and field.value == own.secret

    user.find(marker="use-shared-secret").click()
    await user.should_see("This workflow uses the shared secret")
    assert (await flowyard.callback_secrets.get(workflow.id)).shared


async def test_a_viewer_sees_the_secret_but_cannot_change_it(user: User, flowyard: Flowyard) -> None:
    workflow = await flowyard.workflows.create(name="Digest", definition=steps("{{ input }}"))
    own = await flowyard.callback_secrets.rotate(workflow.id)
    await log_in_as(user, flowyard, "vic@example.com", Role.VIEWER)
    await user.open(f"/workflows/{workflow.id}")

    user.find(marker="callback-secret-menu").click()
    await user.should_see("This workflow has a secret of its own.")
    [field] = user.find(marker="callback-secret").elements
    assert isinstance(field, ui.input) and field.value == own.secret
    await user.should_not_see(marker="rotate-callback-secret")
    await user.should_not_see(marker="use-shared-secret")
