"""Example agent kinds registered through the `flowyard.agents` entry-point group."""

from __future__ import annotations

from typing import Any, ClassVar

from app.agents.base import AgentContext, AgentKind, Group

__all__ = ["Headline", "enrich"]


async def enrich(email: str, company: str | None = None, *, source: str = "example") -> dict[str, Any]:
    """Adds the domain and a company name to a contact."""
    domain = email.rpartition("@")[2].lower()
    return {
        "email": email,
        "domain": domain,
        "company": company or domain.split(".")[0].capitalize(),
        "source": source,
    }


class Headline(AgentKind):
    """A plugin kind written as a class: upper-cases its text input."""

    kind: ClassVar[str] = "headline"
    title: ClassVar[str] = "Headline"
    group: ClassVar[str] = Group.UTILITIES
    description: ClassVar[str] = "Upper-cases the input text."
    input_schema: ClassVar[dict[str, Any]] = {"type": "string"}

    suffix: str = "!"

    async def run(self, ctx: AgentContext) -> str:
        return f"{str(ctx.input).upper()}{self.suffix}"
