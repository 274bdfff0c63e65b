"""How pages reach the services: those of this process, set when it starts.

Pages call `services()` inside their handlers (`services().workflows.get(...)`); `app.main` (or a test's
main file) calls `use()` once the services are open. Nothing else is global.
"""

from __future__ import annotations

from app.services.container import Services

__all__ = ["services", "use"]

_current: Services | None = None


def use(instance: Services | None) -> None:
    global _current  # noqa: PLW0603  (the process-wide services, set once at start-up)
    _current = instance


def services() -> Services:
    if _current is None:
        raise RuntimeError("Flowyard has not started yet")
    return _current
