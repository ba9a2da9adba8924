"""The request and answer shapes of the rules and templates routes, apart from the sandbox that renders them:
the API's cold start declares its routes with these, and loads Jinja2 only to save or preview a rule."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from trackbridge.domain.automation import Dedup, DocumentName, IssueFields
from trackbridge.runtime.automation.events import EVENT_TYPE_PATTERN


class RuleIn(BaseModel):
    """The rule shape of DESIGN section 9 as a client sends it (bookkeeping is trackbridge's)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "cpu-high",
                    "event_type": "cloudwatch.alarm",
                    "condition": "alarm.state == 'ALARM' or event.resolved",
                    "connection_id": "conn_k7mq4xw2p5rtz3nb6hcd",
                    "template": "cloudwatch-alarm",
                    "priority": 100,
                    "labels": ["ops"],
                    "assignee": None,
                    "dedup": {"key": "{{ event.data.alarmName }}", "reopen_window": 604800},
                    "on_repeat": "comment",
                    "on_resolve": "close",
                    "enabled": True,
                }
            ]
        },
    )

    name: DocumentName
    event_type: str = Field(pattern=EVENT_TYPE_PATTERN, max_length=128)
    condition: str = Field("true", max_length=4000)
    connection_id: str = Field(min_length=1, max_length=64)
    template: DocumentName
    priority: int = Field(100, ge=0, le=10_000)
    labels: list[str] = Field(default_factory=list, max_length=50)
    assignee: str | None = Field(None, max_length=256)
    issue: IssueFields = Field(default_factory=IssueFields)
    dedup: Dedup
    on_repeat: str = Field("comment", pattern="^(comment|ignore)$")
    on_resolve: str = Field("none", pattern="^(close|comment|none)$")
    settle_s: int = Field(300, ge=0, le=86_400)
    enabled: bool = True
    version: int | None = Field(None, ge=1, description="on replace: the version read (optimistic lock)")


class TemplateIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "drift",
                    "title": "Schema drift on {{ drift.table }}",
                    "body": "Expected `{{ drift.expected }}`, found `{{ drift.actual }}`.",
                    "description": "schema drift",
                }
            ]
        },
    )

    name: DocumentName
    title: str = Field(min_length=1, max_length=1000)
    body: str = Field("", max_length=60_000)
    description: str = Field("", max_length=1000)
    version: int | None = Field(None, ge=1)


class Preview(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "title": "[ALARM] ServerCpuTooHigh",
                    "body": "**ServerCpuTooHigh** is **ALARM** (was OK).",
                    "fingerprint": "3f2a9c1d7e4b5a6c8d9e0f1a2b3c4d5e",
                    "matches": True,
                }
            ]
        }
    )

    title: str
    body: str
    fingerprint: str | None = None
    matches: bool | None = None


class TrackerCheck(BaseModel):
    """One thing the tracker was asked about a rule's issue. ``blocking``: the tracker would refuse the
    create (a field off Jira's create screen); else it would create the issue without it (GitHub drops an
    assignee it cannot assign, and creates a missing label)."""

    check: str = Field(description="assignee, labels, create_screen, required_fields, issue_type...")
    ok: bool
    detail: str = Field(description="what the tracker said: its own error text where it would fail")
    blocking: bool = True


class DryRun(BaseModel):
    """``POST /v1/rules/{name}/test``: the rendered issue, what the tracker said about it, and whether the
    event would open an issue now (the rule matches and no blocking check failed)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "rendered": Preview.model_config["json_schema_extra"]["examples"][0],  # type: ignore[index]
                    "tracker_checks": [
                        {
                            "check": "create_screen",
                            "ok": False,
                            "detail": "Field 'priority' cannot be set. It is not on the appropriate screen, "
                            "or unknown.",
                            "blocking": True,
                        }
                    ],
                    "would_create": False,
                }
            ]
        }
    )

    rendered: Preview
    tracker_checks: list[TrackerCheck]
    would_create: bool


__all__ = ["DryRun", "Preview", "RuleIn", "TemplateIn", "TrackerCheck"]
