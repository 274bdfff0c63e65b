"""UI tests: NiceGUI's simulated `user` on the pages of tests/ui/main.py, each test on a fresh data directory."""

from __future__ import annotations

from pathlib import Path

import pytest
from nicegui.testing import User

from app.root import Flowyard
from tests.databases import fresh_data_dir


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """FLOWYARD_DATA_DIR for the app that tests/ui/main.py starts (autouse: set before `user` starts it)."""
    path = fresh_data_dir(tmp_path / "data")
    monkeypatch.setenv("FLOWYARD_DATA_DIR", str(path))
    return path


@pytest.fixture
def flowyard(user: User) -> Flowyard:
    """The running application behind the pages, to arrange what a story starts from."""
    from app.pages.context import services as current

    flowyard = current()
    assert isinstance(flowyard, Flowyard)
    return flowyard
