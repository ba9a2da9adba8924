"""Built-in rule presets: the default rules a tenant can start from (``POST /v1/rules:from-builtin``).

A preset is a complete rule body minus the connection; the client names the preset and the connection and
may override the rest (a name, labels, the threshold in the condition...). The result goes through the
same validation as any rule, tracker checks included, so a preset saved against a Jira project whose create
screen lacks labels is refused like a hand-written rule would be.

``performance-regression`` is the issue's default rule: it fires when a regression is above 20%.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from trackbridge.domain.automation import DocumentName, IssueFields
from trackbridge.domain.errors import ValidationFailed
from trackbridge.runtime.automation.models import RuleIn

PresetName = Literal["performance-regression", "cloudwatch-alarm"]

RULE_PRESETS: Final[Mapping[str, Mapping[str, Any]]] = {
    "performance-regression": {
        "name": "performance-regression",
        "event_type": "performance.regression",
        "condition": "regression.percentage > 20",
        "template": "performance-regression",
        "labels": ["performance"],
        # One issue per object and metric: a second regression of the same query comments on the first.
        "dedup": {
            "key": "{{ event.subject.database ~ '/' ~ event.subject.schema ~ '/' ~ event.subject.name "
            "if event.subject else event.source }}:{{ regression.metric | default('latency') }}",
            "reopen_window": 14 * 86_400,
            "repeat_window": 86_400,
        },
        "on_repeat": "comment",
        "on_resolve": "comment",
    },
    "cloudwatch-alarm": {
        "name": "cloudwatch-alarm",
        "event_type": "cloudwatch.alarm",
        "condition": "alarm.state == 'ALARM'",
        "template": "cloudwatch-alarm",
        "labels": ["alarm"],
        "dedup": {"key": "{{ event.data.alarmName }}"},
        "on_repeat": "comment",
        "on_resolve": "close",
    },
}


class RuleFromBuiltin(BaseModel):
    """``POST /v1/rules:from-builtin``: a preset, the target connection, and what to change in it."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "from_builtin": "performance-regression",
                    "connection_id": "conn_k7mq4xw2p5rtz3nb6hcd",
                    "labels": ["performance", "db"],
                }
            ]
        },
    )

    from_builtin: PresetName
    connection_id: str = Field(min_length=1, max_length=64)
    name: DocumentName | None = Field(None, description="the rule's name; default: the preset's")
    condition: str | None = Field(None, max_length=4000, description="default: the preset's (above 20%)")
    labels: list[str] | None = Field(None, max_length=50)
    assignee: str | None = Field(None, max_length=256)
    issue: IssueFields | None = None
    enabled: bool | None = None

    def rule_in(self) -> RuleIn:
        """The preset with this body's fields on top, as a rule body (validated by the rule model)."""
        overrides = self.model_dump(exclude={"from_builtin"}, exclude_none=True)
        return preset_rule(self.from_builtin, overrides)


def preset_rule(preset: str, overrides: Mapping[str, Any]) -> RuleIn:
    if preset not in RULE_PRESETS:
        raise ValidationFailed(
            f"no built-in rule {preset!r}",
            details={"errors": [{"path": "body.from_builtin", "message": f"one of {sorted(RULE_PRESETS)}"}]},
        )
    try:
        return RuleIn.model_validate({**RULE_PRESETS[preset], **overrides})
    except ValidationError as exc:
        errors = [
            {"path": "body." + ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()
        ]
        raise ValidationFailed(
            "the preset with these changes is not a valid rule", details={"errors": errors}
        ) from None


__all__ = ["RULE_PRESETS", "PresetName", "RuleFromBuiltin", "preset_rule"]
