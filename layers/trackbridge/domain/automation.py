"""Auto-issue building blocks: events, rules that match them and templates that render issues.

Rule conditions are Jinja2 expressions and templates Jinja2 templates, both in a ``SandboxedEnvironment``
(never ``eval``). The models only check that they compile, so a broken rule is refused when it is saved,
not when an alarm fires at night; rendering lives with the auto-issue engine.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Any, Final, Literal

from jinja2 import TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BaseModel, ConfigDict, Field, field_validator

from trackbridge.domain.links import ObjectRef
from trackbridge.domain.times import UtcDatetime

NAME_PATTERN: Final = r"^[a-z0-9][a-z0-9_.-]{0,63}$"
DocumentName = Annotated[str, Field(pattern=NAME_PATTERN)]
Severity = Literal["info", "low", "medium", "high", "critical"]


@lru_cache(maxsize=1)
def _sandbox() -> SandboxedEnvironment:
    return SandboxedEnvironment(autoescape=False)


def _check_expression(text: str) -> str:
    try:
        _sandbox().compile_expression(text)
    except TemplateSyntaxError as exc:
        raise ValueError(f"not a valid Jinja2 expression: {exc.message}") from None
    return text


def _check_template(text: str) -> str:
    try:
        _sandbox().parse(text)
    except TemplateSyntaxError as exc:
        raise ValueError(f"not a valid Jinja2 template (line {exc.lineno}): {exc.message}") from None
    return text


class Dedup(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str = Field(description="a Jinja2 template rendering the fingerprint of an event")
    reopen_window: int = Field(
        7 * 24 * 3600, ge=0, description="seconds after close during which a repeat reopens"
    )

    @field_validator("key")
    @classmethod
    def _key_compiles(cls, value: str) -> str:
        return _check_template(value)


class Rule(BaseModel):
    """The rule shape of DESIGN section 9, plus bookkeeping."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: DocumentName
    event_type: str = Field(min_length=1, max_length=128)
    condition: str = Field("true", max_length=4000, description="a Jinja2 expression over the event")
    connection_id: str
    template: DocumentName
    priority: int = Field(100, ge=0, le=10_000)
    labels: list[str] = Field(default_factory=list, max_length=50)
    assignee: str | None = None
    dedup: Dedup
    on_repeat: Literal["comment", "ignore"] = "comment"
    on_resolve: Literal["close", "comment", "none"] = "none"
    enabled: bool = True
    created_at: UtcDatetime | None = None
    updated_at: UtcDatetime | None = None
    version: int = Field(1, ge=1)

    @field_validator("condition")
    @classmethod
    def _condition_compiles(cls, value: str) -> str:
        return _check_expression(value)


class Template(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: DocumentName
    title: str = Field(min_length=1, max_length=1000, description="Jinja2 template of the issue title")
    body: str = Field("", max_length=60_000, description="Jinja2 template of the issue body (Markdown)")
    description: str = ""
    created_at: UtcDatetime | None = None
    updated_at: UtcDatetime | None = None
    version: int = Field(1, ge=1)

    @field_validator("title", "body")
    @classmethod
    def _templates_compile(cls, value: str) -> str:
        return _check_template(value)


class Event(BaseModel):
    """An application event (``POST /v1/events``) or a CloudWatch alarm change, as received."""

    model_config = ConfigDict(frozen=True)

    id: str
    type: str = Field(min_length=1, max_length=128)
    source: str = Field(min_length=1, max_length=256)
    severity: Severity = "medium"
    subject: ObjectRef | None = None
    data: dict[str, Any] = Field(default_factory=dict)
    occurred_at: UtcDatetime
    received_at: UtcDatetime
    status: Literal["queued", "processed", "ignored", "failed"] = "queued"
    issue_ref: str | None = None


__all__ = ["NAME_PATTERN", "Dedup", "DocumentName", "Event", "Rule", "Severity", "Template"]
