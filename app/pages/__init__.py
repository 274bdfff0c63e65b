"""The browser UI: one module per page, all composed in the shared `frame()` of `app.pages.layout`."""

from __future__ import annotations

__all__ = ["register_pages"]


def register_pages() -> None:
    """Declare every page (NiceGUI routes). Pages reach the services through `app.pages.context`."""
    from app.pages import (
        agents,
        batches,
        credentials,
        editor,
        home,
        inbox,
        login,
        mcp_servers,
        run_detail,
        runs,
        schedules,
        settings,
        theme,
        webhooks,
        workflows,
    )

    theme.install()
    home.register()
    workflows.register()
    editor.register()
    runs.register()
    run_detail.register()
    inbox.register()
    agents.register()
    credentials.register()
    mcp_servers.register()
    schedules.register()
    webhooks.register()
    batches.register()
    login.register()
    settings.register()
