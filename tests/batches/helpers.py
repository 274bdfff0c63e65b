"""Short ways to build the batch tests' workflows and files, and to wait for a batch to end."""

from __future__ import annotations

import asyncio
import csv
import io
import itertools
from typing import Any

from app.engine.model import EdgeSpec, NodeSpec, WorkflowDefinition
from app.models.batches import BatchPublic as BatchInfo
from app.root import Flowyard

__all__ = ["chain", "csv_bytes", "finished", "workflow"]


def chain(*nodes: NodeSpec) -> WorkflowDefinition:
    """The nodes in a line, each feeding the next."""
    for order, node in enumerate(nodes, start=1):
        node.step_order = order
    edges = [EdgeSpec(source=a.key, target=b.key) for a, b in itertools.pairwise(nodes)]
    return WorkflowDefinition(nodes=list(nodes), edges=edges)


async def workflow(flowyard: Flowyard, *nodes: NodeSpec, name: str = "Batch me") -> str:
    created = await flowyard.workflows.create(name=name, definition=chain(*nodes))
    return created.id


def csv_bytes(header: list[str], rows: list[list[Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode()


async def finished(flowyard: Flowyard, batch_id: str, *, timeout: float = 30.0) -> BatchInfo:
    """The batch once it is no longer RUNNING (FINISHED or CANCELLED)."""
    async with asyncio.timeout(timeout):
        while True:
            batch = await flowyard.batches.get(batch_id)
            if batch.status != "RUNNING":
                return batch
            await asyncio.sleep(0.02)
