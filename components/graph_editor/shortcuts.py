"""The graph editor's keyboard shortcuts, as the `?` help lists them: `(keys, what they do)`.

The browser handles them from the table `SHORTCUTS` in `src/keyboard.mjs` (one entry per key combination);
`tests/unit/test_editor_shortcuts.py` checks that both list the same combinations.
"""

from __future__ import annotations

__all__ = ["SHORTCUTS", "VIEWING_SHORTCUTS"]

SHORTCUTS: list[tuple[str, str]] = [
    ("Delete / Backspace", "delete the selection"),
    ("Ctrl+C / Ctrl+V", "copy and paste steps and notes"),
    ("Ctrl+Z / Ctrl+Shift+Z", "undo and redo"),
    ("Ctrl+S", "save"),
    ("Ctrl+Enter", "run"),
    ("Ctrl+A", "select all"),
    ("Shift+drag", "box select"),
    ("Shift+Alt+T", "tidy the layout"),
    ("D", "turn the selected steps off or on"),
    ("Shift+S", "add a sticky note (double-click it to write)"),
    ("+", "add a step: search the palette, Enter adds"),
    ("[ / ]", "hide or show the palette / the inspector"),
    ("?", "this list"),
]

VIEWING_SHORTCUTS: list[tuple[str, str]] = [
    ("Shift+drag", "box select"),
    ("]", "hide or show the inspector"),
    ("?", "this list"),
]
"""What still works on a canvas its viewer may not change."""
