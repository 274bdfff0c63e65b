"""branch: picks an outcome by the first condition that holds; each outcome is an output handle."""

from __future__ import annotations

import re
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from app.agents.base import AgentContext, AgentKind, AgentResult, Group
from app.engine.mapping import is_template

HANDLE = re.compile(r"^[A-Za-z0-9_-]{1,40}$")


class Outcome(BaseModel):
    model_config = ConfigDict(extra="forbid")

    handle: str = Field(description="Name of the output handle this outcome fires.")
    when: str = Field(description="A template; the outcome fires when it renders truthy.")

    @field_validator("handle")
    @classmethod
    def _handle_name(cls, value: str) -> str:
        if not HANDLE.match(value):
            raise ValueError("a handle is 1-40 letters, digits, - or _")
        return value


class Branch(AgentKind):
    kind: ClassVar[str] = "branch"
    title: ClassVar[str] = "Branch"
    group: ClassVar[str] = Group.LOGIC
    icon: ClassVar[str] = "call_split"
    uses_action: ClassVar[bool] = False
    output_from: ClassVar[Literal["input", "action", ""]] = "input"
    description: ClassVar[str] = (
        "Chooses one outcome: the first whose condition holds, else the default. "
        "The input passes through to the chosen outcome's edges."
    )

    outcomes: list[Outcome] = Field(
        default_factory=lambda: [Outcome(handle="true", when="{{ input }}")],
        description="Conditions tried in order.",
    )
    default: str = Field("false", description="Handle fired when no condition holds.")

    @field_validator("outcomes")
    @classmethod
    def _some_condition(cls, value: list[Outcome]) -> list[Outcome]:
        if not value:  # with none, every input takes the default: a branch that decides nothing
            raise ValueError("a branch needs at least one outcome with a condition (add one under Outcomes)")
        return value

    @model_validator(mode="after")
    def _unique_handles(self) -> Branch:
        names = [o.handle for o in self.outcomes] + [self.default]
        if len(set(names)) != len(names):
            raise ValueError("outcome handles (and the default) must be unique")
        for outcome in self.outcomes:
            if not is_template(outcome.when):
                raise ValueError(
                    f"condition of outcome '{outcome.handle}' must be a template like '{{{{ input.ok }}}}'"
                )
        return self

    def outcome_handles(self) -> list[str]:
        return [o.handle for o in self.outcomes] + [self.default]

    async def run(self, ctx: AgentContext) -> AgentResult:
        for outcome in self.outcomes:
            if ctx.render(outcome.when):
                return AgentResult(output=ctx.input, handles=[outcome.handle])
        return AgentResult(output=ctx.input, handles=[self.default])
