"""Auto-issue building blocks: events, rules that match them and templates that render issues.

Rule conditions are Jinja2 expressions and templates Jinja2 templates, both in a ``SandboxedEnvironment``
(never ``eval``). The models only check that they compile, so a broken rule is refused when it is saved,
not when an alarm fires at night; rendering lives with the auto-issue engine.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from typing import TYPE_CHECKING, Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from trackbridge.domain.links import ObjectRef
from trackbridge.domain.storable import StorableMap
from trackbridge.domain.times import UtcDatetime

if TYPE_CHECKING:
    from jinja2.sandbox import SandboxedEnvironment

NAME_PATTERN: Final = r"^[a-z0-9][a-z0-9_.-]{0,63}$"
DocumentName = Annotated[str, Field(pattern=NAME_PATTERN)]
Severity = Literal["info", "low", "medium", "high", "critical"]


@lru_cache(maxsize=1)
def _sandbox() -> SandboxedEnvironment:
    # Imported here: the API's cold start loads the models, and Jinja2 only once a rule is validated.
    from jinja2.sandbox import SandboxedEnvironment

    return SandboxedEnvironment(autoescape=False)


def _check_expression(text: str) -> str:
    from jinja2 import TemplateSyntaxError

    try:
        _sandbox().compile_expression(text)
    except TemplateSyntaxError as exc:
        raise ValueError(f"not a valid Jinja2 expression: {exc.message}") from None
    return text


def _check_template(text: str) -> str:
    from jinja2 import TemplateSyntaxError

    try:
        _sandbox().parse(text)
    except TemplateSyntaxError as exc:
        raise ValueError(f"not a valid Jinja2 template (line {exc.lineno}): {exc.message}") from None
    return text


# Examples shown in the OpenAPI document (each must validate against its model: tests/unit).
RULE_EXAMPLE: Final[dict[str, Any]] = {
    "name": "cpu-high",
    "event_type": "cloudwatch.alarm",
    "condition": "alarm.state == 'ALARM'",
    "connection_id": "conn_k7mq4xw2p5rtz3nb6hcd",
    "template": "cloudwatch-alarm",
    "priority": 100,
    "labels": ["ops"],
    "assignee": None,
    "issue": {"type": None, "priority": None, "components": [], "fields": {}},
    "dedup": {"key": "{{ event.data.alarmName }}", "reopen_window": 604800, "repeat_window": 3600},
    "on_repeat": "comment",
    "on_resolve": "close",
    "settle_s": 300,
    "enabled": True,
    "created_at": "2026-03-04T16:40:22Z",
    "updated_at": "2026-03-04T16:40:22Z",
    "version": 1,
}
TEMPLATE_EXAMPLE: Final[dict[str, Any]] = {
    "name": "drift",
    "title": "Schema drift on {{ event.subject.name }}",
    "body": "Expected `{{ expected }}`, found `{{ actual }}`.",
    "description": "schema drift",
    "created_at": "2026-03-04T16:40:22Z",
    "updated_at": "2026-03-04T16:40:22Z",
    "version": 1,
}
EVENT_EXAMPLE: Final[dict[str, Any]] = {
    "id": "evt_6f1c2b0e9a8d4c3b",
    "type": "schema.drift",
    "source": "schema-watch",
    "severity": "high",
    "subject": {"kind": "table", "database": "sales", "schema": "public", "name": "orders"},
    "data": {"expected": "numeric(12,2)", "actual": "float8"},
    "occurred_at": "2026-03-04T16:40:00Z",
    "received_at": "2026-03-04T16:40:01Z",
    "status": "processed",
    "issue_ref": "conn_k7mq4xw2p5rtz3nb6hcd.3051224",
    "resolved": False,
}


class Dedup(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str = Field(description="a Jinja2 template rendering the fingerprint of an event")
    reopen_window: int = Field(
        7 * 24 * 3600, ge=0, description="seconds after close during which a repeat reopens"
    )
    repeat_window: int = Field(
        3600, ge=0, description="seconds: at most one repeat comment per window (0: one per repeat)"
    )

    @field_validator("key")
    @classmethod
    def _key_compiles(cls, value: str) -> str:
        return _check_template(value)


class IssueFields(BaseModel):
    """What a rule sets on the issue it opens besides title and body, all written once, at creation (a
    person's later change is never overwritten). Names are the tracker's own: Jira checks each against the
    target project's create screen when the rule is saved."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: str | None = Field(
        None, max_length=64, description="issue type (Jira: Task, Bug...); none: the connection's default"
    )
    priority: str | None = Field(
        None, max_length=64, description="the tracker's priority (Jira: High; GitLab: a priority:: label)"
    )
    components: list[str] = Field(default_factory=list, max_length=20, description="Jira component names")
    fields: StorableMap = Field(
        default_factory=dict,
        max_length=20,
        description='tracker-native fields, e.g. Jira {"customfield_10050": {"value": "api"}}',
    )

    @field_validator("fields")
    @classmethod
    def _native_names(cls, value: dict[str, Any]) -> dict[str, Any]:
        reserved = {"project", "summary", "description", "issuetype", "labels", "assignee", "priority"}
        clash = sorted(set(value) & reserved)
        if clash:
            raise ValueError(f"set {', '.join(clash)} with the rule's own fields, not in issue.fields")
        return value

    def native_fields(self) -> dict[str, Any]:
        """``fields`` plus the components, as the tracker's create request carries them."""
        native = dict(self.fields)
        if self.components:
            native["components"] = [{"name": name} for name in self.components]
        return native


class Rule(BaseModel):
    """The rule shape of DESIGN section 9, plus bookkeeping."""

    model_config = ConfigDict(frozen=True, extra="forbid", json_schema_extra={"examples": [RULE_EXAMPLE]})

    name: DocumentName
    event_type: str = Field(min_length=1, max_length=128)
    condition: str = Field("true", max_length=4000, description="a Jinja2 expression over the event")
    connection_id: str
    template: DocumentName
    priority: int = Field(100, ge=0, le=10_000)
    labels: list[str] = Field(default_factory=list, max_length=50)
    assignee: str | None = None
    issue: IssueFields = Field(default_factory=IssueFields)
    dedup: Dedup
    on_repeat: Literal["comment", "ignore"] = "comment"
    on_resolve: Literal["close", "comment", "none"] = "none"
    settle_s: int = Field(
        300, ge=0, le=86_400, description="seconds a recovery must hold before on_resolve acts (flapping)"
    )
    enabled: bool = True
    created_at: UtcDatetime | None = None
    updated_at: UtcDatetime | None = None
    version: int = Field(1, ge=1)

    @field_validator("condition")
    @classmethod
    def _condition_compiles(cls, value: str) -> str:
        return _check_expression(value)


class Template(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", json_schema_extra={"examples": [TEMPLATE_EXAMPLE]})

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

    model_config = ConfigDict(frozen=True, json_schema_extra={"examples": [EVENT_EXAMPLE]})

    id: str
    type: str = Field(min_length=1, max_length=128)
    source: str = Field(min_length=1, max_length=256)
    severity: Severity = "medium"
    subject: ObjectRef | None = None
    data: StorableMap = Field(default_factory=dict)
    occurred_at: UtcDatetime
    received_at: UtcDatetime
    status: Literal["queued", "processed", "ignored", "failed"] = "queued"
    issue_ref: str | None = None
    resolved: bool = Field(False, description="the event reports a recovery (an alarm back to OK)")


ClaimState = Literal["claimed", "created"]


class FingerprintClaim(BaseModel):
    """The dedup state of one fingerprint (DESIGN section 10), written with a condition before any tracker
    call. ``claimed``: a worker (``owner``) is creating the issue, which will carry :attr:`marker`;
    ``created``: the issue exists. ``generation`` grows when a recurrence after the reopen window opens a
    new issue (its marker changes with it). Every change is a conditional write on ``version``."""

    model_config = ConfigDict(frozen=True)

    rule: str
    fingerprint: str
    connection_id: str
    state: ClaimState
    owner: str
    claimed_at: UtcDatetime
    generation: int = Field(1, ge=1)
    issue_ref: str | None = None
    issue_key: str | None = None
    issue_url: str | None = None
    previous_issue_ref: str | None = None
    previous_issue_url: str | None = None
    count: int = Field(1, ge=0, description="events seen for the current issue")
    recent_events: list[str] = Field(
        default_factory=list, max_length=50, description="ids of the latest events counted (duplicates skip)"
    )
    last_seen_at: UtcDatetime | None = None
    last_comment_at: UtcDatetime | None = None
    resolved_at: UtcDatetime | None = Field(None, description="a recovery waiting for its settle time")
    closed_at: UtcDatetime | None = Field(None, description="when trackbridge closed (or saw closed) it")
    version: int = Field(1, ge=1)

    @property
    def marker(self) -> str:
        """The token the issue body carries, searchable on every tracker, unique per generation."""
        seed = f"{self.rule}|{self.fingerprint}|{self.generation}".encode()
        return "tbfp" + hashlib.sha256(seed).hexdigest()[:16]


__all__ = [
    "EVENT_EXAMPLE",
    "NAME_PATTERN",
    "RULE_EXAMPLE",
    "TEMPLATE_EXAMPLE",
    "ClaimState",
    "Dedup",
    "DocumentName",
    "Event",
    "FingerprintClaim",
    "IssueFields",
    "Rule",
    "Severity",
    "Template",
]
