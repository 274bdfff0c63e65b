"""`flowyard desktop` before any window opens: which data directory it takes, and what it says when the
window's packages are missing. (The window itself: tests/e2e/test_desktop.py.)"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from app import cli, desktop
from app.settings import Settings


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """What `desktop.run` was asked to do (nothing is started)."""
    calls: list[dict[str, Any]] = []

    def run(settings: Settings, *, log_level: str, sign_in: bool) -> int:
        calls.append({"settings": settings, "log_level": log_level, "sign_in": sign_in})
        return 0

    monkeypatch.setattr(desktop, "run", run)
    monkeypatch.setattr(desktop, "missing_packages", lambda: None)
    monkeypatch.delenv("FLOWYARD_DATABASE_URL", raising=False)
    return calls


@pytest.mark.skipif(sys.platform != "linux", reason="the Linux layout")
def test_the_desktop_keeps_its_data_in_the_users_data_directory(
    started: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("FLOWYARD_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "share"))

    assert cli.main(["desktop"]) == 0

    [call] = started
    assert call["settings"].data_dir == tmp_path / "share" / "flowyard"
    assert call["sign_in"] is True


@pytest.mark.skipif(sys.platform != "linux", reason="the Linux layout")
def test_without_xdg_data_home_it_is_under_local_share(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))

    assert desktop.user_data_dir() == tmp_path / ".local" / "share" / "flowyard"


def test_a_data_directory_given_wins(
    started: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("FLOWYARD_DATA_DIR", str(tmp_path / "from-env"))

    cli.main(["desktop"])
    cli.main(["desktop", "--data-dir", str(tmp_path / "given")])

    assert [call["settings"].data_dir for call in started] == [tmp_path / "from-env", tmp_path / "given"]


def test_on_a_database_named_with_db_the_window_asks_to_log_in(started: list[dict[str, Any]], tmp_path: Path) -> None:
    cli.main(["desktop", "--data-dir", str(tmp_path), "--db", f"sqlite:///{tmp_path / 'shared.db'}"])

    [call] = started
    assert call["sign_in"] is False


def test_missing_window_packages_are_named_with_how_to_install_them(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setattr(desktop, "_importable", lambda name: name != "webview")

    assert cli.main(["desktop", "--data-dir", str(tmp_path)]) == 1

    said = capsys.readouterr().err
    assert "webview not installed" in said
    assert "pip install 'flowyard[desktop]'" in said
