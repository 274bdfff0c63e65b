"""UI tests: NiceGUI's simulated `user` on the pages of tests/ui/main.py, each test on a fresh data directory.

Every page is behind a login: the `user` here is NiceGUI's, logged in as an admin (`ADA`) before the test
starts; `log_in_as` logs the same browser in as someone else.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from nicegui.testing import User

from app import clock
from app.ids import new_id
from app.models.people import Role
from app.pages.access import LOGIN_COOKIE
from app.root import Flowyard
from app.services.people import Passwords
from storage.models import UserRow
from tests.databases import fresh_data_dir

PASSWORD = "correct horse battery"
_HASH = Passwords.hash(PASSWORD)  # once per process: argon2 is slow on purpose


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """FLOWYARD_DATA_DIR for the app that tests/ui/main.py starts (autouse: set before `user` starts it)."""
    path = fresh_data_dir(tmp_path / "data")
    monkeypatch.setenv("FLOWYARD_DATA_DIR", str(path))
    return path


async def add_person(flowyard: Flowyard, email: str, role: Role, *, name: str | None = None) -> UserRow:
    """A user with `PASSWORD` (stored directly: hashing it again for every test would cost a tenth of a second)."""
    now: datetime = clock.now()
    row = UserRow(
        id=new_id("usr"),
        email=email,
        name=name or email.split("@", maxsplit=1)[0].title(),
        role=role.value,
        password_hash=_HASH,
        created_at=now,
        updated_at=now,
    )

    def add(session: object) -> UserRow:
        session.add(row)  # type: ignore[attr-defined]
        return row

    return await flowyard.db.tx(add)


async def log_in_as(user: User, flowyard: Flowyard, email: str, role: Role = Role.ADMIN) -> None:
    """Log the simulated browser in as a new user with `role` (the next `user.open` is theirs)."""
    row = await add_person(flowyard, email, role)
    token, _ = await flowyard.logins.open(row)
    user.http_client.cookies.set(LOGIN_COOKIE, token)


@pytest.fixture
async def user(user: User) -> User:
    """NiceGUI's simulated user, logged in as Ada, an admin."""
    await log_in_as(user, _current(), "ada@example.com")
    return user


def _current() -> Flowyard:
    from app.pages.context import services as current

    flowyard = current()
    assert isinstance(flowyard, Flowyard)
    return flowyard


@pytest.fixture
def flowyard(user: User) -> Flowyard:
    """The running application behind the pages, to arrange what a story starts from."""
    return _current()
