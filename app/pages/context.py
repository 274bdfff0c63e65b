"""How pages reach the application: the one `Flowyard` of this process, set when it starts.

Pages call `flowyard()` inside their handlers; `app.main` (or a test's main file) calls `use()` once
the services are open. Nothing else is global.
"""

from __future__ import annotations

from app.services import Flowyard

__all__ = ["flowyard", "use"]

_current: Flowyard | None = None


def use(instance: Flowyard | None) -> None:
    global _current  # noqa: PLW0603  (the process-wide application, set once at start-up)
    _current = instance


def flowyard() -> Flowyard:
    if _current is None:
        raise RuntimeError("Flowyard has not started yet")
    return _current
