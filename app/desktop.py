"""`flowyard desktop`: the same app in a window of its own (pywebview with Qt WebEngine, the engine of NiceGUI's
native mode), on a data directory of its own.

The server runs in this process exactly as `flowyard serve` runs it, on a free port of 127.0.0.1. The window
runs in a spawned child process (Qt wants its own main thread) and opens a one-time address that logs the
desktop's person in and lands on /workflows. Closing the window stops the server as Ctrl+C would: the lifespan
closes the executor (it releases its runs' leases; runs in flight are taken up again at the next start), the
database is drained, and the command exits 0.

NiceGUI's own `ui.run(native=True)` hard-exits once its window closes, skipping the lifespan of the app that
`ui.run_with` mounts it on (Flowyard's: leases, database): so the window is opened here, as NiceGUI opens it,
and its end is turned into an orderly shutdown.
"""

from __future__ import annotations

import importlib.util
import logging
import multiprocessing
import os
import secrets
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Annotated

from fastapi import FastAPI, Query, Request
from fastapi.responses import PlainTextResponse, RedirectResponse, Response

from app.settings import Settings

__all__ = ["DESKTOP_EMAIL", "ENTRY_PATH", "missing_packages", "run", "user_data_dir"]

log = logging.getLogger("flowyard")

ENTRY_PATH = "/desktop/enter"
DESKTOP_EMAIL = "desktop@localhost"
"""The person the window logs in as, on the desktop's own data directory: an admin made at the first start."""
WINDOW_SIZE = (1280, 860)
READY_SECONDS = 60.0


def user_data_dir(app_name: str = "Flowyard") -> Path:
    """Where a desktop app keeps its data on this platform: `$XDG_DATA_HOME/flowyard` (default
    `~/.local/share/flowyard`) on Linux, `~/Library/Application Support/Flowyard` on macOS,
    `%LOCALAPPDATA%\\Flowyard` on Windows."""
    home = Path.home()
    if sys.platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA") or home / "AppData" / "Local") / app_name
    if sys.platform == "darwin":
        return home / "Library" / "Application Support" / app_name
    return Path(os.environ.get("XDG_DATA_HOME") or home / ".local" / "share") / app_name.lower()


def missing_packages() -> str | None:
    """What the window needs and is not installed (pywebview, PyQt6 with WebEngine), or None."""
    missing = [name for name in ("webview", "qtpy", "PyQt6.QtWebEngineWidgets") if not _importable(name)]
    if not missing:
        return None
    return (
        f"the desktop window needs pywebview and Qt ({', '.join(missing)} not installed): "
        "pip install 'flowyard[desktop]' (or `pip install -c requirements.lock -e '.[desktop]'` in a checkout)"
    )


def _importable(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ImportError:
        return False


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def run(settings: Settings, *, log_level: str = "info", sign_in: bool = True) -> int:
    """Serve Flowyard on a free local port and show it in a window until the window is closed.

    :param settings: as for `flowyard serve` (its host and port are replaced: 127.0.0.1 and a free port)
    :param log_level: uvicorn's log level
    :param sign_in: log the window in as the desktop's own admin (made at the first start); otherwise the
        window shows the login page like a browser would
    """
    import uvicorn
    from nicegui import app as nicegui_app

    from app.main import create_app

    host = "127.0.0.1"
    settings = settings.model_copy(update={"host": host, "port": _free_port(host)})
    code = secrets.token_urlsafe(32)
    app = create_app(settings, before_pages=lambda api: _add_entry(api, code, sign_in=sign_in))
    nicegui_app.on_connect(lambda client: log.info("desktop window shows %s", client.page.path))
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=settings.port, log_level=log_level, access_log=False))

    url = f"http://{host}:{settings.port}{ENTRY_PATH}?code={code}"
    storage = settings.data_dir.resolve() / "webview"
    window = multiprocessing.get_context("spawn").Process(
        target=open_window, args=(url, host, settings.port, str(storage)), name="flowyard-window", daemon=True
    )
    window.start()
    outcome: dict[str, int | None] = {}

    def close_with_the_window() -> None:
        window.join()
        outcome["window"] = window.exitcode
        if window.exitcode == 0:
            log.info("The desktop window was closed: stopping")
        else:
            log.error("The desktop window ended with exit code %s: stopping", window.exitcode)
        server.should_exit = True

    threading.Thread(target=close_with_the_window, name="flowyard-window-watch", daemon=True).start()
    # Stopped by Ctrl+C or SIGTERM instead: the window goes with the server (uvicorn re-raises the signal after
    # the shutdown, so this is the last moment to close it).
    nicegui_app.on_shutdown(lambda: window.terminate() if window.is_alive() else None)
    print(f"Flowyard desktop on http://{host}:{settings.port}  (data: {settings.data_dir.resolve()})", flush=True)
    server.run()  # until the window closes (or Ctrl+C / SIGTERM): the lifespan then closes Flowyard
    window.join(10)
    return 0 if outcome.get("window") == 0 else 1


def _add_entry(api: FastAPI, code: str, *, sign_in: bool) -> None:
    """The window's way in: `ENTRY_PATH?code=…` (the code is known only to this process and its window) logs the
    desktop's person in and goes to /workflows."""
    from app.models.people import Principal, Role, UserCreate
    from app.pages.access import LOGIN_COOKIE

    @api.get(ENTRY_PATH, include_in_schema=False)
    async def enter(request: Request, given: Annotated[str, Query(alias="code", max_length=100)] = "") -> Response:
        if not secrets.compare_digest(given.encode(), code.encode()):
            return PlainTextResponse("Not found", status_code=404)
        landing = RedirectResponse("/workflows", status_code=303)
        if not sign_in:
            return landing
        flowyard = request.app.state.flowyard
        person = await flowyard.users.by_email(DESKTOP_EMAIL)
        if person is None:
            by = Principal(kind="desktop", permissions=Principal.system().permissions)
            name = _os_user_name()
            person = await flowyard.users.create(
                UserCreate(email=DESKTOP_EMAIL, name=name, role=Role.ADMIN, password=secrets.token_urlsafe(24)), by=by
            )
            log.info("Made %s, the desktop's admin (%s)", DESKTOP_EMAIL, name)
        row = await flowyard.users.row(person.id)
        if not row.active:
            return landing  # (deactivated: the login page)
        ip = request.client.host if request.client else None
        token, _ = await flowyard.logins.open(row, ip=ip, user_agent=request.headers.get("user-agent"))
        landing.set_cookie(
            LOGIN_COOKIE,
            token,
            max_age=int(flowyard.logins.lifetime.total_seconds()),
            path="/",
            httponly=True,
            samesite="lax",
        )
        return landing


def _os_user_name() -> str:
    import getpass

    try:
        return getpass.getuser().capitalize() or "Desktop"
    except (OSError, KeyError):
        return "Desktop"


def open_window(url: str, host: str, port: int, storage: str) -> None:
    """The window's process: wait for the server, open `url`, return when the window is closed."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    deadline = time.monotonic() + READY_SECONDS
    while not _port_open(host, port):
        if time.monotonic() > deadline:
            log.error("The server did not start within %.0f s: no window", READY_SECONDS)
            sys.exit(1)
        time.sleep(0.1)
    os.environ.setdefault("QT_API", "pyqt6")
    if hasattr(os, "geteuid") and os.geteuid() == 0:  # Chromium's sandbox refuses to run as root
        flags = os.environ.get("QTWEBENGINE_CHROMIUM_FLAGS", "")
        if "--no-sandbox" not in flags:
            os.environ["QTWEBENGINE_CHROMIUM_FLAGS"] = f"{flags} --no-sandbox".strip()

    import webview

    width, height = WINDOW_SIZE
    window = webview.create_window("Flowyard", url, width=width, height=height, min_size=(900, 600))
    if window is None:
        sys.exit(1)

    def loaded() -> None:
        log.info("desktop window loaded %s", window.get_current_url())

    window.events.loaded += loaded
    Path(storage).mkdir(mode=0o700, parents=True, exist_ok=True)
    # gui='qt': no attempt at GTK first; not private: the login and the theme choice outlive a restart.
    webview.start(gui="qt", private_mode=False, storage_path=storage)


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False
