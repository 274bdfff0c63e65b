"""Templates can't freeze the server: every bomb is refused or stopped with a message saying which limit it broke,
and compiling a template never evaluates it."""

from __future__ import annotations

import time

import pytest

from app.engine import mapping, sandbox
from app.engine.exceptions import MappingError


@pytest.fixture(autouse=True)
def _time_is_not_the_limit_under_test(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test here is about one limit; on a busy machine (the suite runs on every core) the 50 ms time
    limit could stop a render first. The test of the time limit sets its own."""
    monkeypatch.setattr(sandbox, "MAX_SECONDS", 60.0)


CONTEXT = mapping.build_context(
    input={"items": [1, 2, 3], "name": "ada", "big": "x" * 600_000},
    payload={},
    outputs={"fetch": {"body": "y" * 600_000}},
    run_id="wr-1",
)


def refusal(template: str) -> str:
    """The reason the template fails to render (within a second, whatever it asks for)."""
    started = time.perf_counter()
    with pytest.raises(MappingError) as caught:
        mapping.render(template, CONTEXT, node="bomb")
    assert time.perf_counter() - started < 1.0
    assert caught.value.node == "bomb"
    return caught.value.reason


@pytest.mark.parametrize(
    ("template", "reason"),
    [
        ("{{ (10**5000)|string }}", "at most 4,300 digits"),
        ("{{ 9**(9**9) }}", "at most 4,300 digits"),
        ("{{ (10**4000) * (10**4000) }}", "over 4,300 digits"),
        ("{{ 'a' * 10**9 }}", "limit is 1,000,000"),
        ("{{ [1, 2] * 10**9 }}", "limit is 1,000,000"),
        ("{% for i in range(10**9) %}x{% endfor %}", "range() gives at most 10,000 numbers"),
        ("{{ 'x'.center(10**9) }}", "a width of 1,000,000,000"),
        ("{{ 'x'|center(10**9) }}", "a width of 1,000,000,000"),
        ("{{ '%999999999d' % 1 }}", "a width of 999,999,999"),
        ("{{ '%d'|format(1) ~ '%*d'|format(999999999, 1) }}", "a width of 999,999,999"),
        ("{{ '{:>999999999}'.format(1) }}", "a width of 999,999,999"),
        ("{{ 5|round(-1000000000) }}", "precision of at most 4,300 digits"),
        ("{{ 'ab'|replace('a', input.big * 1) ~ input.big|replace('x', 'xx') }}", "limit is 1,000,000"),
        ("{{ range(10000)|map('string')|join(input.big[:1000]) }}", "limit is 1,000,000"),
        ("{{ [1]|batch(10**9, 0)|list }}", "a width of 1,000,000,000"),
        ("{{ input.big ~ nodes.fetch.output.body }}", "limit is 1,000,000"),
    ],
)
def test_render_refuses_values_too_large_before_building_them(template: str, reason: str) -> None:
    assert reason in refusal(template)


def test_render_stops_a_loop_that_doubles_a_text() -> None:
    template = "{% set s = namespace(v='x') %}{% for i in range(64) %}{% set s.v = s.v ~ s.v %}{% endfor %}{{ s.v }}"

    assert "limit is 1,000,000" in refusal(template)


def test_render_stops_nested_loops_within_the_operation_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    template = "{% for a in range(10000) %}{% for b in range(10000) %}{% endfor %}{% endfor %}"

    assert f"more than {sandbox.MAX_OPERATIONS:,} operations" in refusal(template)


def test_render_stops_when_its_time_is_up_whatever_it_spent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sandbox, "MAX_SECONDS", 0.0)

    assert "ran longer than 0 ms" in refusal("{% for a in input.items %}{{ a }}{% endfor %}")


def test_render_refuses_output_over_a_megabyte() -> None:
    assert "output is longer than 1,000,000 characters" in refusal(
        "{% for i in range(2000) %}{{ input.big[:1000] }}{% endfor %}"
    )


def test_render_refuses_a_macro_that_repeats_its_text() -> None:
    template = "{% macro m() %}{% for i in range(10000) %}" + "y" * 1000 + "{% endfor %}{% endmacro %}{{ m() }}"

    assert "output is longer than 1,000,000 characters" in refusal(template)


def test_render_refuses_a_result_that_repeats_one_value_over_and_over() -> None:
    template = "{% set a = [input.big, input.big] %}{% set b = [a, a, a, a, a, a, a, a, a, a] %}{{ [b, b, b, b] }}"

    assert "the same values over and over" in refusal(template)


def test_render_value_spends_one_budget_for_all_the_templates_of_a_mapping() -> None:
    loop = "{% for a in range(10000) %}{{ a }}{% endfor %}"  # 20,000 operations, some 10 ms: each alone is fine
    mapping.render(loop, CONTEXT)

    with pytest.raises(MappingError, match="stopped: the template"):
        mapping.render_value({f"f{i}": loop for i in range(10)}, CONTEXT)


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    ("template", "problem"),
    [
        ("{{ 9**(9**9) }}", "at most 4,300 digits"),
        ("{{ (10**5000)|string }}", "at most 4,300 digits"),
        ("{{ 'a'|center(10**9) }}", "a width of 1,000,000,000"),
        ("{% for i in range(10**9) %}{{ input }}{% endfor %}", "range() gives at most 10,000 numbers"),
        ("Dear {{ input.name }}, {{ 'a' * 10**9 }}", "limit is 1,000,000"),
    ],
)
def test_a_template_whose_literals_break_a_limit_is_a_problem_found_without_running_it(
    template: str, problem: str
) -> None:
    problems = mapping.template_problems({"body": template})

    assert len(problems) == 1
    assert problem in problems[0]


def test_literals_that_fail_otherwise_or_only_cost_work_are_left_to_the_run() -> None:
    assert mapping.template_problems("{% if input.zero %}{{ 1 / 0 }}{% endif %}") == []
    assert mapping.template_problems("{{ range(10000)|list|length }}" * 100) == []


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        ("{{ 1" + "0" * 5000 + " }}", "a number over 4,300 digits"),
        ("{{ " + "(" * 600 + "1" + ")" * 600 + " }}", "nested too deeply"),
        ("{{ input|no_such_filter }}", "No filter named 'no_such_filter'"),
        ("{{ x }}" + " " * 100_000, "longer than 100,000 characters"),
    ],
)
def test_a_template_that_cannot_compile_is_a_problem_not_a_crash(template: str, problem: str) -> None:
    problems = mapping.template_problems({"body": template})

    assert len(problems) == 1
    assert problem in problems[0]
    with pytest.raises(MappingError):
        mapping.render(template, CONTEXT)


def test_lipsum_is_not_a_name_templates_can_use() -> None:
    assert "lipsum" in mapping.template_problems("{{ lipsum(10**6) }}")[0]


def test_templates_within_the_limits_render_as_before() -> None:
    assert mapping.render("{{ input.big }}", CONTEXT) is CONTEXT["input"]["big"]
    assert mapping.render("{{ 2 ** 10 }} {{ 'ab' * 3 }} {{ -input.items[0] }}", CONTEXT) == "1024 ababab -1"
    assert mapping.render("{% for x in input.items %}{{ loop.index }}:{{ x }} {% endfor %}", CONTEXT) == "1:1 2:2 3:3 "
    assert mapping.render("{{ input.items|map('string')|join('-') }}", CONTEXT) == "1-2-3"
    assert mapping.render("[{% for x in input.items %}{{ x * 2 }},{% endfor %}]", CONTEXT) == [2, 4, 6]
    assert mapping.render("{{ range(10000)|list|length }}", CONTEXT) == 10_000


def test_long_output_stays_text_instead_of_being_read_as_a_literal() -> None:
    template = "[{% for i in range(9000) %}{{ i }}, {% endfor %}]"

    value = mapping.render(template, CONTEXT)

    assert isinstance(value, str)
    assert len(value) > sandbox.MAX_LITERAL_CHARS
