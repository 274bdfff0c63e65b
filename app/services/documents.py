"""Workflow documents: what `flowyard export` writes, and the checks an uploaded file passes before import.

`parse_file` turns an uploaded file's bytes into a document, or refuses it naming why (its size, not
UTF-8, not JSON, NaN or Infinity, nested too deeply, markup in names); `parse_document` checks a
document's format, version, shape, agents' configs and graph structure. Neither writes anything.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import ValidationError

from app.engine.exceptions import InvalidInput
from app.engine.kinds import Kinds, config_errors
from app.engine.plan import structure_problems
from app.models.base import check_name
from app.models.workflows import EXPORT_FORMAT, EXPORT_VERSION, WorkflowDocument

__all__ = ["parse_document", "parse_file"]

# An HTML tag, comment or script opener: refused in imported names, which are plain text everywhere.
_MARKUP = re.compile(r"<\s*/?\s*[a-z][\w:-]*(\s[^<>]*)?/?\s*>|<!--|<\s*script", re.IGNORECASE)


def parse_document(document: Any, kinds: Kinds) -> WorkflowDocument:
    """The document as a `WorkflowDocument`, or InvalidInput naming the field that is wrong."""
    if not isinstance(document, dict):
        raise InvalidInput("document", "a workflow document is a JSON object")
    if document.get("format") != EXPORT_FORMAT:
        raise InvalidInput("format", f"not a Flowyard workflow document (expected format '{EXPORT_FORMAT}')")
    if document.get("version") != EXPORT_VERSION:
        raise InvalidInput(
            "version", f"document version {document.get('version')!r} is not supported (expected {EXPORT_VERSION})"
        )
    try:
        doc = WorkflowDocument.model_validate(document)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise InvalidInput(".".join(str(p) for p in err["loc"]) or "document", err["msg"]) from None
    for agent in doc.agents:
        errors = config_errors(kinds, agent.kind, agent.config)
        if errors:
            raise InvalidInput(f"agents.{agent.id}", "; ".join(errors))
    for node in doc.definition.nodes:
        check_name(f"definition.nodes.{node.key}.name", node.name, required=False)
    keys = [n.key for n in doc.definition.nodes]
    if len(keys) != len(set(keys)):
        raise InvalidInput("definition.nodes", "two steps share a key")
    structure = structure_problems(doc.definition) if doc.definition.nodes else []
    if structure:
        raise InvalidInput("definition", "; ".join(p.message for p in structure))
    return doc


def parse_file(content: bytes, *, limit: int) -> Any:
    """The JSON of an uploaded export file, or InvalidInput("file" or the field with markup) saying why not.

    Checks the size (`limit` bytes), that it is UTF-8 JSON without NaN or Infinity, and that names and
    descriptions are plain text, not markup; the document itself is checked by `parse_document`.
    """
    if len(content) > limit:
        size, most = _human_bytes(len(content)), _human_bytes(limit)
        raise InvalidInput("file", f"the file is {size}; Flowyard imports files of up to {most}")
    try:
        document = json.loads(content.decode("utf-8-sig"), parse_constant=_refuse_constant)
    except UnicodeDecodeError:
        raise InvalidInput("file", "the file is not text; choose a .json file exported from Flowyard") from None
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            "file", f"the file is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None
    except ValueError as exc:
        raise InvalidInput("file", str(exc)) from None
    except RecursionError:
        raise InvalidInput("file", "the JSON is nested too deeply") from None
    # Markup is looked for only in what claims to be a document of this version: anything else gets
    # `parse_document`'s message about the format or version, which says more.
    ours = isinstance(document, dict) and document.get("format") == EXPORT_FORMAT
    if ours and document.get("version") == EXPORT_VERSION:
        for field, text in _document_texts(document):
            if _MARKUP.search(text):
                raise InvalidInput(field, "contains HTML markup; names and descriptions are plain text")
    return document


def _document_texts(document: dict[str, Any]) -> list[tuple[str, str]]:
    """The names and descriptions of a not yet validated document, with the field each sits in."""
    texts = [(field, document.get(field)) for field in ("name", "description")]
    definition = document.get("definition")
    nodes = definition.get("nodes") if isinstance(definition, dict) else None
    for index, node in enumerate(nodes if isinstance(nodes, list) else []):
        if isinstance(node, dict):
            texts.append((f"definition.nodes.{node.get('key', index)}.name", node.get("name")))
    agents = document.get("agents")
    for index, agent in enumerate(agents if isinstance(agents, list) else []):
        if isinstance(agent, dict):
            for field in ("name", "description"):
                texts.append((f"agents.{agent.get('id', index)}.{field}", agent.get(field)))
    return [(field, text) for field, text in texts if isinstance(text, str)]


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"the file contains {name}, which JSON does not allow")


def _human_bytes(size: int) -> str:
    if size >= 1_048_576:
        return f"{size / 1_048_576:.1f} MB"
    return f"{max(1, round(size / 1024))} KB"
