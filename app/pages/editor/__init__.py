"""The workflow editor (`/workflows/{id}`): palette, canvas and inspector over one draft.

`page` holds the draft (canvas, validation, saving, live run colours), `inspector` the selected step's
tabs, `run_dialog` the Run dialog and `history` the version history. What the editor asks of Flowyard
(checks, previews, trials) is the drafts service's (`app.services.drafts`).
"""

from __future__ import annotations

from app.pages.editor.page import register

__all__ = ["register"]
