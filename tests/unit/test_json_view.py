"""The JSON viewer's tree: every piece of the value escaped, deep levels folded, huge values summarised."""

from components.json_view import MAX_ROWS, OPEN_DEPTH, json_tree_html, reference_to


def test_keys_and_values_are_escaped() -> None:
    tree = json_tree_html({"<b>key</b>": "</div><script>alert(1)</script>", "n": 3, "ok": True, "none": None})

    assert "<script>" not in tree and "<b>" not in tree
    assert "&lt;script&gt;" in tree and "&quot;&lt;b&gt;key&lt;/b&gt;&quot;" in tree
    assert '<span class="fy-json__number">3</span>' in tree
    assert '<span class="fy-json__literal">true</span>' in tree
    assert '<span class="fy-json__literal">null</span>' in tree


def test_levels_deeper_than_the_open_depth_start_folded() -> None:
    value: object = "leaf"
    for _ in range(OPEN_DEPTH + 2):
        value = {"deeper": value}

    tree = json_tree_html(value)

    assert tree.count("<details") == OPEN_DEPTH + 2
    assert tree.count('<details class="fy-json__node" open>') == OPEN_DEPTH


def test_a_huge_value_is_summarised_after_the_row_budget() -> None:
    tree = json_tree_html(list(range(MAX_ROWS + 500)))

    assert tree.count('class="fy-json__row"') < MAX_ROWS + 1
    assert "more (Copy has them all)" in tree


def test_with_a_reference_each_field_is_a_button_carrying_its_template_reference() -> None:
    tree = json_tree_html({"email": "a@b.c", "tags": ["x"], "deal": {"score": 7}}, reference="input")

    assert '<button type="button" class="fy-json__key fy-json__ref" data-ref="input.email" draggable="true"' in tree
    assert 'data-ref="input.tags[0]"' in tree
    assert 'data-ref="input.deal.score"' in tree
    assert "data-ref" not in json_tree_html({"email": "a@b.c"})  # without one: a tree to read only


def test_a_reference_uses_brackets_where_a_dot_would_not_reach_the_key() -> None:
    assert reference_to("nodes.enrich.output", "score") == "nodes.enrich.output.score"
    assert reference_to("input", "first name") == 'input["first name"]'
    assert reference_to("input", "items") == 'input["items"]'  # `input.items` is the dict's method in Jinja
    assert reference_to("input.tags", 2) == "input.tags[2]"
