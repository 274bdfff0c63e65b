"""The example workflows shipped in `assets/examples/`: listed in the gallery, imported ready to run."""

from __future__ import annotations

import asyncio
import builtins
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from app.engine.exceptions import NotFound
from app.models.people import SYSTEM, Principal
from app.models.workflows import WorkflowPublic

__all__ = ["EXAMPLES_DIR", "ExampleService", "ExampleWorkflow"]

log = logging.getLogger("flowyard")

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "assets" / "examples"


@dataclass(frozen=True)
class ExampleWorkflow:
    id: str
    """The file's name without `.json`."""
    name: str
    description: str
    steps: int


class Importer(Protocol):
    """What examples need of the workflows service: importing a document."""

    async def import_document(self, document: dict[str, Any], *, by: Principal = ...) -> WorkflowPublic: ...


class ExampleService:
    def __init__(self, workflows: Importer, *, directory: Path = EXAMPLES_DIR) -> None:
        self._workflows = workflows
        self._directory = directory

    async def list(self) -> builtins.list[ExampleWorkflow]:
        """The example workflows, by file name."""
        documents = await asyncio.to_thread(_documents, self._directory)
        return [
            ExampleWorkflow(
                id=example_id,
                name=str(document.get("name", example_id)),
                description=str(document.get("description", "")),
                steps=len((document.get("definition") or {}).get("nodes") or []),
            )
            for example_id, document in documents.items()
        ]

    async def import_example(self, example_id: str, *, by: Principal = SYSTEM) -> WorkflowPublic:
        """Create a workflow (and the agents it needs) from one of the examples."""
        documents = await asyncio.to_thread(_documents, self._directory)
        if example_id not in documents:
            raise NotFound("example", example_id)
        return await self._workflows.import_document(documents[example_id], by=by)


def _documents(directory: Path) -> dict[str, dict[str, Any]]:
    documents: dict[str, dict[str, Any]] = {}
    for path in sorted(directory.glob("*.json")):
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            log.warning("skipping example %s: %s", path, exc)
            continue
        if isinstance(document, dict):
            documents[path.stem] = document
    return documents
