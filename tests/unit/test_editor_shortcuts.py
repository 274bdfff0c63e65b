"""The graph editor's JavaScript and its Python side agree: the same shortcuts, the same node keys.

Node.js runs the real modules (`src/keyboard.mjs`, `src/keys.mjs`) and hands back JSON. Without `node` the
tests are skipped, unless `CI` is set: there they fail.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from components.graph_editor.keys import copy_key, is_valid_key, key_base, unique_key
from components.graph_editor.shortcuts import SHORTCUTS

SRC = Path(__file__).resolve().parents[2] / "components" / "graph_editor" / "src"

# What people type as titles and agent ids, and what a sloppy caller might pass.
TEXTS: list[str | None] = [
    "transform",
    "HTTP request",
    "3d-model",
    "Ünïcode agent",
    "",
    None,
    "a" * 80,
    "é" + "b" * 70,
    "__x__",
    "___",
    "score_2",
    "score_10",
    "CamelCase Name",
    "a-b.c/d e",
    "  spaced  out  ",
    "tab\tand\nnewline",
    "123",
    "9 lives",
    "naïve café",
    "Straße ß",
    "İstanbul",
    "ﬁle ligature",
    "\uff26\uff55\uff4c\uff4c \uff15",  # "Full 5" in fullwidth letters and digit
    "x²",
    "①②③",
    "日本語",
    "Привет мир",
    "😀 emoji",
    "mañana_3",
    "x_٣",
]
# Sets of keys already used in a workflow, including ones that push a suffix past 64 characters.
TAKEN: list[list[str]] = [
    [],
    ["transform", "transform_2", "http_request", "node", "node_2"],
    ["a" * 64, "a" * 62 + "_2", "score", "score_2", "score_3"],
    ["node_3d_model", "x", "x_2", "mañana", "straae", "strae"],
]
# Keys of nodes being copied (a copy drops a trailing `_<digits>` and takes the next free number).
COPIED: list[str] = [
    "transform",
    "transform_2",
    "transform_10",
    "score_3",
    "score_",
    "node_3d_model",
    "x_2\n",
    "x_\uff12",  # a fullwidth 2
    "x_٣",
    "a" * 64,
    "a" * 62 + "_2",
    "_1",
]
MAYBE_KEYS: list[Any] = [
    "transform",
    "_x",
    "x9",
    "9x",
    "",
    "a" * 64,
    "a" * 65,
    "a-b",
    "a b",
    "é",
    "x\n",
    "ok\u0000",
    "\uff21",  # a fullwidth A
    None,
    7,
]

JS = """
import * as keyboard from %(keyboard)s;
import * as keys from %(keys)s;
const input = JSON.parse(process.argv[1]);
const sets = input.taken.map((taken) => new Set(taken));
process.stdout.write(JSON.stringify({
  shortcuts: keyboard.SHORTCUTS,
  keyBase: input.texts.map((text) => keys.keyBase(text)),
  uniqueKey: sets.map((taken) => input.texts.map((text) => keys.uniqueKey(text, taken))),
  copyKey: sets.map((taken) => input.copied.map((key) => keys.copyKey(key, taken))),
  isValidKey: input.maybeKeys.map((key) => keys.isValidKey(key)),
}));
"""


@pytest.fixture(scope="module")
def js() -> dict[str, Any]:
    """What the browser's modules answer for the inputs above."""
    node = shutil.which("node")
    if node is None:
        message = "Node.js (`node`) is not installed, so the JavaScript side cannot be compared"
        if os.environ.get("CI"):
            pytest.fail(f"{message} (CI is set: these tests must run)")
        pytest.skip(message)
    script = JS % {
        "keyboard": json.dumps((SRC / "keyboard.mjs").as_uri()),
        "keys": json.dumps((SRC / "keys.mjs").as_uri()),
    }
    payload = json.dumps({"texts": TEXTS, "taken": TAKEN, "copied": COPIED, "maybeKeys": MAYBE_KEYS})
    done = subprocess.run(
        [node, "--input-type=module", "-e", script, payload], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, (
        f"node failed (are the editor's npm packages installed? `make bundle`):\n{done.stderr[-3000:]}"
    )
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def help_combinations() -> set[str]:
    """The key combinations of the `?` help: `Ctrl+Z / Ctrl+Shift+Z` is two."""
    return {combo.strip() for keys, _ in SHORTCUTS for combo in keys.split(" / ")}


def test_help_lists_exactly_the_shortcuts_the_browser_declares(js: dict[str, Any]) -> None:
    declared = {entry["keys"] for entry in js["shortcuts"] if entry.get("listed", True)}
    assert declared == help_combinations()


def test_every_declared_shortcut_is_handled_or_left_to_vue_flow(js: dict[str, Any]) -> None:
    # `Shift+drag` is Vue Flow's box select (`selection-key-code`); every other entry names its action
    unhandled = {entry["keys"] for entry in js["shortcuts"] if not entry.get("action")}
    assert unhandled == {"Shift+drag"}
    assert all(entry["does"] for entry in js["shortcuts"])


def test_key_base_matches_the_browser(js: dict[str, Any]) -> None:
    assert js["keyBase"] == [key_base(text) for text in TEXTS]


def test_unique_key_matches_the_browser(js: dict[str, Any]) -> None:
    assert js["uniqueKey"] == [[unique_key(text, set(taken)) for text in TEXTS] for taken in TAKEN]


def test_copy_key_matches_the_browser(js: dict[str, Any]) -> None:
    assert js["copyKey"] == [[copy_key(key, set(taken)) for key in COPIED] for taken in TAKEN]


def test_is_valid_key_matches_the_browser(js: dict[str, Any]) -> None:
    assert js["isValidKey"] == [is_valid_key(key) for key in MAYBE_KEYS]


def test_derived_keys_are_valid_and_free(js: dict[str, Any]) -> None:
    for taken, keys in zip(TAKEN, js["uniqueKey"], strict=True):
        assert all(is_valid_key(key) and key not in taken for key in keys)
