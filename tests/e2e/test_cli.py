"""The `flowyard` command: export and import round-trip a workflow; bad files change nothing."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from app.cli import main

EXAMPLE = Path(__file__).parents[2] / "assets" / "examples" / "lead-routing.json"


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The commands' data directory (their generated keys go there, not into the checkout's ./data)."""
    path = tmp_path / "data"
    monkeypatch.setenv("FLOWYARD_DATA_DIR", str(path))
    return path


def _workflow_count(path: Path) -> int:
    if not path.exists():
        return 0
    with sqlite3.connect(path) as conn:
        count: int = conn.execute("select count(*) from workflows").fetchone()[0]
    return count


def _import(db: str, path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["import", str(path), "--db", db])
    out, err = capsys.readouterr()
    return code, out, err


def test_export_then_import_round_trips_a_workflow(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = f"sqlite:///{tmp_path / 'a.db'}"
    code, out, _ = _import(db, EXAMPLE, capsys)
    workflow_id = out.split("\t")[0]
    exported = tmp_path / "exported.json"

    assert code == 0 and workflow_id.startswith("wf-")
    assert main(["export", workflow_id, "--db", db, "-o", str(exported)]) == 0
    document = json.loads(exported.read_text())
    other = f"sqlite:///{tmp_path / 'b.db'}"
    code, out, _ = _import(other, exported, capsys)

    assert code == 0 and out.strip().endswith("\tLead routing")
    assert document["format"] == "flowyard.workflow" and document["version"] == 1
    assert [n["key"] for n in document["definition"]["nodes"]] == ["enrich", "qualify", "sales_email", "nurture"]
    assert {a["id"] for a in document["agents"]} == {"transform", "qualify_lead"}


def test_export_of_unknown_workflow_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["export", "wf-nope", "--db", f"sqlite:///{tmp_path / 'a.db'}"])

    assert code == 1
    assert "no workflow with id 'wf-nope'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "is not JSON"),
        ('{"format": "something.else", "version": 1}', "not a Flowyard workflow document"),
        ('{"format": "flowyard.workflow", "version": 99}', "document version 99 is not supported"),
        (
            '{"format": "flowyard.workflow", "version": 1, "name": "x", "definition": {"nodes": [{"key": "1bad"}]}}',
            "key",
        ),
    ],
)
def test_import_of_a_bad_file_is_refused_and_creates_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    db = f"sqlite:///{tmp_path / 'a.db'}"

    code, _, err = _import(db, bad, capsys)

    assert code == 1 and message in err
    assert _workflow_count(tmp_path / "a.db") == 0


def test_import_of_a_cyclic_workflow_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    document = json.loads(EXAMPLE.read_text())
    document["definition"]["edges"].append({"source": "sales_email", "target": "enrich"})
    bad = tmp_path / "cycle.json"
    bad.write_text(json.dumps(document))

    code, _, err = _import(f"sqlite:///{tmp_path / 'a.db'}", bad, capsys)

    assert code == 1 and "cycle" in err
    assert _workflow_count(tmp_path / "a.db") == 0


def test_import_needing_an_agent_it_does_not_carry_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    document = json.loads(EXAMPLE.read_text())
    document["agents"] = [a for a in document["agents"] if a["id"] != "qualify_lead"]
    bad = tmp_path / "missing-agent.json"
    bad.write_text(json.dumps(document))

    code, _, err = _import(f"sqlite:///{tmp_path / 'a.db'}", bad, capsys)

    assert code == 1 and "unknown agent(s) qualify_lead" in err
