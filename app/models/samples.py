"""A workflow's input: the schema its runs' input follows and the named sample inputs kept with it."""

from __future__ import annotations

import json
from typing import Any

from pydantic import Field

from app.engine.exceptions import InvalidInput
from app.models.base import Input, Name, Public

__all__ = ["MAX_SAMPLES", "SAMPLE_NAME_MAX", "SampleInput", "SamplesUpdate", "WorkflowInput", "check_samples"]

MAX_SAMPLES = 20
SAMPLE_NAME_MAX = 80
MAX_SAMPLE_BYTES = 65_536


class SampleInput(Input):
    """A named input to run the workflow with ("Hot lead"): offered by the Run dialog and used by Try."""

    name: Name = Field(min_length=1, max_length=SAMPLE_NAME_MAX, description="What the sample is, in a few words.")
    input: Any = Field(description="The run's input, as `POST /workflows/{id}/run` takes it.")


class SamplesUpdate(Input):
    samples: list[SampleInput] = Field(
        max_length=MAX_SAMPLES, description="The workflow's sample inputs, in order; replaces the ones it had."
    )


class WorkflowInput(Public):
    """What a run of the workflow takes: its input schema and its sample inputs."""

    input_schema: dict[str, Any] | None = Field(
        description="JSON Schema of the run's input: the one its first step declares, else one inferred from the "
        "fields its templates read (then `inferred` is true, and it refuses nothing); null: any JSON."
    )
    inferred: bool = Field(description="Whether the schema was inferred from the templates rather than declared.")
    samples: list[SampleInput] = Field(description="Named sample inputs kept with the workflow.")


def check_samples(samples: list[SampleInput]) -> list[SampleInput]:
    """`samples` if they can be kept; InvalidInput("samples") naming the one that cannot."""
    if len(samples) > MAX_SAMPLES:
        raise InvalidInput("samples", f"at most {MAX_SAMPLES} samples")
    seen: set[str] = set()
    for sample in samples:
        folded = sample.name.strip().casefold()
        if folded in seen:
            raise InvalidInput("samples", f"two samples are named “{sample.name.strip()}”: give each its own name")
        seen.add(folded)
        size = len(json.dumps(sample.input, default=str))
        if size > MAX_SAMPLE_BYTES:
            raise InvalidInput(
                "samples", f"sample “{sample.name}”: its input is {size:,} bytes of JSON; at most 64 KiB"
            )
    return [SampleInput(name=s.name.strip(), input=s.input) for s in samples]
