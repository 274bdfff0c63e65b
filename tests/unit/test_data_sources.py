"""What the inspector's Data tab offers a step to pick from: `input`, the outputs before it, `payload`."""

from app.engine.model import EdgeSpec, NodeSpec, WorkflowDefinition
from app.services.drafts import DataSource, DraftService

CHAIN = WorkflowDefinition(  # s1 → s2 → s3
    nodes=[NodeSpec(key=key, agent_id="transform", action="{{ input }}") for key in ("s1", "s2", "s3")],
    edges=[EdgeSpec(source="s1", target="s2"), EdgeSpec(source="s2", target="s3")],
)


def test_an_entry_step_reads_the_runs_input_as_input() -> None:
    sources = DraftService.data_sources(CHAIN, "s1", payload={"email": "a@b.c"}, outputs={})

    assert sources == [DataSource("input", "input · the run's input", {"email": "a@b.c"})]


def test_a_later_step_reads_what_flows_in_the_steps_before_nearest_first_and_the_payload() -> None:
    outputs = {"s1": {"score": 7}, "s2": {"score": 8}}

    sources = DraftService.data_sources(CHAIN, "s3", payload={"email": "a@b.c"}, outputs=outputs)

    assert [(s.reference, s.value) for s in sources] == [
        ("input", {"score": 8}),
        ("nodes.s2.output", {"score": 8}),
        ("nodes.s1.output", {"score": 7}),
        ("payload", {"email": "a@b.c"}),
    ]


def test_a_step_before_any_run_still_offers_what_it_can_read() -> None:
    sources = DraftService.data_sources(CHAIN, "s2", payload={}, outputs={})

    assert [(s.reference, s.value) for s in sources] == [("input", None), ("payload", {})]
