"""Workflows offered at /mcp: tool names (MCP's characters only, unique, stable as more are offered), waits."""

from __future__ import annotations

import re
from typing import Any

import pytest

from app.services.workflow_tools import NAME_LIMIT, STATUS_TOOL, WorkflowToolService, tool_name, tool_names

MCP_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Summarize news!", "summarize_news"),
        ("Café crème", "cafe_creme"),
        ("  release-notes v1.2  ", "release-notes_v1.2"),
        ("日本語", "workflow"),
        ("***", "workflow"),
    ],
)
def test_tool_name_keeps_only_what_mcp_allows(name: str, expected: str) -> None:
    assert tool_name(name) == expected
    assert MCP_NAME.match(tool_name(name))


def test_tool_name_of_a_long_name_is_cut_to_the_limit() -> None:
    assert len(tool_name("word " * 100)) <= NAME_LIMIT


def test_the_oldest_workflow_of_a_name_keeps_it_and_later_ones_end_in_part_of_their_id() -> None:
    names = tool_names([("wf-aaaa1111", "Digest"), ("wf-bbbb2222", "digest!"), ("wf-cccc3333", "Other")])

    assert names == {"wf-aaaa1111": "digest", "wf-bbbb2222": "digest_bbbb22", "wf-cccc3333": "other"}


def test_offering_another_workflow_of_the_same_name_renames_none_already_offered() -> None:
    before = tool_names([("wf-aaaa1111", "Digest")])
    after = tool_names([("wf-aaaa1111", "Digest"), ("wf-bbbb2222", "Digest")])

    assert after["wf-aaaa1111"] == before["wf-aaaa1111"]


def test_a_workflow_named_like_the_status_tool_gets_another_name() -> None:
    names = tool_names([("wf-aaaa1111", "Flowyard run status")])

    assert names["wf-aaaa1111"] != STATUS_TOOL


def test_names_stay_unique_when_a_suffixed_name_is_taken_already() -> None:
    names = tool_names([("wf-aaaa1111", "digest_bbbb22"), ("wf-x1", "Digest"), ("wf-bbbb2222", "Digest")])

    assert len(set(names.values())) == 3
    assert all(MCP_NAME.match(n) for n in names.values())


@pytest.mark.parametrize(("asked", "waits"), [(None, 30.0), (5, 5.0), (600, 30.0), (-3, 0.0)])
def test_a_call_waits_what_it_asks_for_up_to_the_servers_limit(asked: float | None, waits: float) -> None:
    nothing: Any = None
    tools = WorkflowToolService(nothing, nothing, nothing, nothing, nothing, max_wait_seconds=30)

    assert tools.wait_seconds(asked) == waits
