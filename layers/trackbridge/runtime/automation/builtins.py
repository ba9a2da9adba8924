"""Built-in templates (Markdown; the Jira adapter turns Markdown into ADF) and the context they render over.

A rule names a template; a stored template of that name wins over a built-in one. The context is built
deterministically from the event alone (:func:`template_context`): ``event`` (``type``, ``severity``,
``subject``, ``data``, ``source``, ``occurred_at``, ``resolved``), ``data`` (the same as ``event.data``),
every top-level key of the data (so a condition reads ``regression.percentage > 20``), and for alarms an
``alarm`` summary: state, reason, metric, threshold, recent datapoints and the console link. ``object`` is
the event's subject with the issues already linked to it (:mod:`.linked`), given by the caller, which reads
the link registry; ``{"links": []}`` when none is given.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import quote

from trackbridge.domain.automation import Event, Template

BASE_VARIABLES: Final = frozenset({"event", "data", "alarm", "rule", "enrichment", "object"})

# Top-level names of the data each known event type carries (checked when a rule or template is saved).
EVENT_DATA_KEYS: Final[Mapping[str, frozenset[str]]] = {
    "cloudwatch.alarm": frozenset({"alarmName", "state", "previousState", "configuration"}),
    "performance.regression": frozenset({"regression", "query", "before", "after", "suggestions"}),
    "schema.drift": frozenset({"drift", "expected", "actual", "differences", "resolution"}),
    "schema.change": frozenset({"change", "changes", "impact", "dependencies", "approvers"}),
    "health.check_failed": frozenset({"check", "status", "message", "endpoint"}),
    "backup.failed": frozenset({"backup", "error"}),
    "replication.lag": frozenset({"replication", "lag_s", "threshold_s"}),
    "migration.proposed": frozenset({"migration"}),
    "migration.failed": frozenset({"migration", "error"}),
    "test.failed": frozenset({"run", "failures"}),
    "test.flaky": frozenset({"test", "runs", "failures"}),
    "coverage.dropped": frozenset({"coverage"}),
    "design.review": frozenset({"design", "decision", "options", "reviewers"}),
}

CLOUDWATCH_ALARM = Template(
    name="cloudwatch-alarm",
    description="A CloudWatch alarm: metric, threshold, state reason, console link, recent datapoints",
    title="[{{ alarm.state }}] {{ alarm.name }}",
    body="""\
**{{ alarm.name }}** is **{{ alarm.state }}**
{%- if alarm.previous_state %} (was {{ alarm.previous_state }}){% endif %}.

{% if alarm.description %}> {{ alarm.description }}

{% endif %}- **Reason:** {{ alarm.reason }}
{% if alarm.metric %}- **Metric:** `{{ alarm.metric }}`
{% endif %}{% if alarm.threshold is not none %}- **Threshold:** {{ alarm.threshold }}
{% endif %}{% if alarm.rule_expression %}- **Alarm rule:** `{{ alarm.rule_expression }}`
{% endif %}- **Since:** {{ event.occurred_at }}
{% if alarm.datapoints %}
Recent datapoints: {{ alarm.datapoints | join(", ") }}
{% endif %}
{% if alarm.console_url %}[Open in the CloudWatch console]({{ alarm.console_url }})
{% endif %}{% if enrichment.summary %}
**Summary:** {{ enrichment.summary }}
{% endif %}""",
)

PERFORMANCE_REGRESSION = Template(
    name="performance-regression",
    description="A performance regression: before/after, percentage, suggested actions",
    title="Performance regression: {{ event.subject.name if event.subject else event.source }} "
    "+{{ regression.percentage }}%",
    body="""\
**{{ regression.metric | default('latency') }}** regressed by **{{ regression.percentage }}%**.

- **Before:** {{ regression.before }}
- **After:** {{ regression.after }}
{% if suggestions %}
Suggested actions:
{% for item in suggestions %}- {{ item }}
{% endfor %}{% endif %}""",
)

GENERIC_EVENT = Template(
    name="generic-event",
    description="Any event: type, severity, subject and data",
    title="{{ event.type }}: {{ event.subject.name if event.subject else event.source }}",
    body="""\
**{{ event.type }}** ({{ event.severity }}) from `{{ event.source }}` at {{ event.occurred_at }}.

```json
{{ data_json }}
```
""",
)

SCHEMA_CHANGE = Template(
    name="schema-change",
    description="A proposed schema change: changes, impact, dependencies, approval checklist",
    title="Schema change: {{ event.subject.name if event.subject else change.name | default('schema') }}",
    body="""\
**Schema change** proposed by `{{ event.source }}`.

Changes:
{% for item in changes | default([]) %}- {{ item }}
{% endfor %}
{% if impact %}**Impact:** {{ impact }}
{% endif %}{% if dependencies %}
Dependencies:
{% for item in dependencies %}- {{ item }}
{% endfor %}{% endif %}
Approval:
{% for person in approvers | default(["owner"]) %}- [ ] {{ person }}
{% endfor %}""",
)

SCHEMA_DRIFT = Template(
    name="schema-drift",
    description="Schema drift: expected vs actual, the differences, how to resolve",
    title="Schema drift on {{ event.subject.name if event.subject else event.source }}",
    body="""\
The deployed schema differs from the expected one.

- **Expected:** `{{ expected }}`
- **Actual:** `{{ actual }}`
{% if differences %}
Differences:
{% for item in differences %}- {{ item }}
{% endfor %}{% endif %}
**Resolution:** {{ resolution | default("apply the expected schema, or accept the change and update it") }}
""",
)

HEALTH_CHECK_FAILED = Template(
    name="health-check-failed",
    description="A failing health check",
    title="Health check failing: {{ check | default(event.source) }}",
    body="""\
**{{ check | default(event.source) }}** reports **{{ status | default("failing") }}**\
{% if endpoint %} at `{{ endpoint }}`{% endif %}.

{{ message | default("") }}
""",
)

BACKUP_FAILED = Template(
    name="backup-failed",
    description="A failed backup",
    title="Backup failed: {{ backup.name | default(event.subject.name if event.subject else event.source) }}",
    body="""\
The backup **{{ backup.name | default("?") }}** failed at {{ event.occurred_at }}.

- **Error:** {{ error | default("unknown") }}
{% if backup.last_success %}- **Last success:** {{ backup.last_success }}
{% endif %}""",
)

REPLICATION_LAG = Template(
    name="replication-lag",
    description="Replication lag over its threshold",
    title="Replication lag {{ lag_s }}s on {{ replication.replica | default(event.source) }}",
    body="""\
Replica **{{ replication.replica | default("?") }}** of **{{ replication.primary | default("?") }}** lags \
**{{ lag_s }} s** (threshold {{ threshold_s | default("?") }} s).
""",
)

MIGRATION_PROPOSED = Template(
    name="migration-proposed",
    description="A migration waiting for review",
    title="Migration proposed: {{ migration.name | default(event.source) }}",
    body="""\
Migration **{{ migration.name | default("?") }}** is proposed{% if migration.author %} by \
{{ migration.author }}{% endif %}.

{% if migration.statements %}```sql
{% for statement in migration.statements %}{{ statement }}
{% endfor %}```
{% endif %}- [ ] reviewed
- [ ] tested on a copy
""",
)

MIGRATION_FAILED = Template(
    name="migration-failed",
    description="A failed migration",
    title="Migration failed: {{ migration.name | default(event.source) }}",
    body="""\
Migration **{{ migration.name | default("?") }}** failed.

- **Error:** {{ error | default("unknown") }}
{% if migration.step %}- **Step:** {{ migration.step }}
{% endif %}""",
)

TEST_FAILURES = Template(
    name="test-failures",
    description="Failing tests in a run",
    title="{{ failures | default([]) | length }} failing tests in {{ run.name | default(event.source) }}",
    body="""\
Run **{{ run.name | default("?") }}**{% if run.url %} ([log]({{ run.url }})){% endif %}:

{% for failure in failures | default([]) %}- `{{ failure.test | default(failure) }}`\
{% if failure.message %}: {{ failure.message }}{% endif %}
{% endfor %}""",
)

FLAKY_TEST = Template(
    name="flaky-test",
    description="A flaky test",
    title="Flaky test: {{ test }}",
    body="""\
`{{ test }}` failed {{ failures | default("?") }} of its last {{ runs | default("?") }} runs.
""",
)

COVERAGE_DROP = Template(
    name="coverage-drop",
    description="A coverage drop",
    title="Coverage dropped to {{ coverage.after }}% ({{ coverage.before }}% before)",
    body="""\
Coverage of **{{ coverage.target | default(event.source) }}** fell from {{ coverage.before }}% to \
{{ coverage.after }}%.
""",
)

DESIGN_REVIEW = Template(
    name="design-review",
    description="A design review or ADR",
    title="Design review: {{ design.title | default(event.source) }}",
    body="""\
**Decision:** {{ decision | default("to be taken") }}

{% if options %}Options:
{% for option in options %}- {{ option }}
{% endfor %}{% endif %}
Reviewers:
{% for person in reviewers | default([]) %}- [ ] {{ person }}
{% endfor %}""",
)

BUILTIN_TEMPLATES: Final[Mapping[str, Template]] = {
    t.name: t
    for t in (
        CLOUDWATCH_ALARM,
        PERFORMANCE_REGRESSION,
        SCHEMA_CHANGE,
        SCHEMA_DRIFT,
        HEALTH_CHECK_FAILED,
        BACKUP_FAILED,
        REPLICATION_LAG,
        MIGRATION_PROPOSED,
        MIGRATION_FAILED,
        TEST_FAILURES,
        FLAKY_TEST,
        COVERAGE_DROP,
        DESIGN_REVIEW,
        GENERIC_EVENT,
    )
}

# A sample event per built-in template (``POST /v1/templates/{name}/preview`` without a body uses it).
SAMPLE_EVENTS: Final[Mapping[str, Mapping[str, Any]]] = {
    "cloudwatch-alarm": {
        "version": "0",
        "id": "c4c1c1c9-6542-e61b-6ef0-8c4d36933a92",
        "detail-type": "CloudWatch Alarm State Change",
        "source": "aws.cloudwatch",
        "time": "2019-10-02T17:04:40Z",
        "region": "us-east-1",
        "resources": ["arn:aws:cloudwatch:us-east-1:123456789012:alarm:ServerCpuTooHigh"],
        "detail": {
            "alarmName": "ServerCpuTooHigh",
            "configuration": {
                "description": "Goes into alarm when server CPU utilization is too high!",
                "metrics": [
                    {
                        "id": "m1",
                        "metricStat": {
                            "metric": {
                                "dimensions": {"InstanceId": "i-12345678901234567"},
                                "name": "CPUUtilization",
                                "namespace": "AWS/EC2",
                            },
                            "period": 300,
                            "stat": "Average",
                        },
                        "returnData": True,
                    }
                ],
            },
            "previousState": {"reason": "", "timestamp": "2019-10-01T13:56:40.987+0000", "value": "OK"},
            "state": {
                "reason": "Threshold Crossed: 1 out of the last 1 datapoints [99.5] was greater than the "
                "threshold (50.0).",
                "reasonData": '{"recentDatapoints":[99.50160229693434],"threshold":50.0}',
                "timestamp": "2019-10-02T17:04:40.989+0000",
                "value": "ALARM",
            },
        },
    },
    "performance-regression": {
        "type": "performance.regression",
        "source": "bench",
        "subject": {"kind": "procedure", "database": "sales", "schema": "public", "name": "monthly_totals"},
        "data": {
            "regression": {"metric": "p95 latency", "percentage": 34, "before": "120 ms", "after": "161 ms"},
            "suggestions": ["check the plan for a sequential scan", "refresh statistics"],
        },
    },
    "schema-change": {
        "type": "schema.change",
        "source": "migrations",
        "subject": {"kind": "table", "database": "sales", "schema": "public", "name": "orders"},
        "data": {
            "changes": ["add column discount numeric(5,2)"],
            "impact": "writes lock the table for about 2 s",
            "dependencies": ["view monthly_totals"],
            "approvers": ["dba", "owner"],
        },
    },
    "schema-drift": {
        "type": "schema.drift",
        "source": "drift-check",
        "subject": {"kind": "table", "database": "sales", "schema": "public", "name": "orders"},
        "data": {"expected": "total numeric(12,2)", "actual": "total float8", "differences": ["total: type"]},
    },
    "health-check-failed": {
        "type": "health.check_failed",
        "source": "probe",
        "data": {"check": "api", "status": "503", "endpoint": "https://api.example.test/health"},
    },
    "backup-failed": {
        "type": "backup.failed",
        "source": "backup",
        "data": {"backup": {"name": "sales-nightly", "last_success": "2026-12-05"}, "error": "disk full"},
    },
    "replication-lag": {
        "type": "replication.lag",
        "source": "monitor",
        "data": {"replication": {"primary": "db-1", "replica": "db-2"}, "lag_s": 95, "threshold_s": 30},
    },
    "migration-proposed": {
        "type": "migration.proposed",
        "source": "migrations",
        "data": {"migration": {"name": "0042_discount", "author": "sam", "statements": ["ALTER TABLE ..."]}},
    },
    "migration-failed": {
        "type": "migration.failed",
        "source": "migrations",
        "data": {"migration": {"name": "0042_discount", "step": 2}, "error": "lock timeout"},
    },
    "test-failures": {
        "type": "test.failed",
        "source": "ci",
        "data": {"run": {"name": "nightly"}, "failures": [{"test": "test_totals", "message": "1 != 2"}]},
    },
    "flaky-test": {
        "type": "test.flaky",
        "source": "ci",
        "data": {"test": "test_sync", "runs": 20, "failures": 3},
    },
    "coverage-drop": {
        "type": "coverage.dropped",
        "source": "ci",
        "data": {"coverage": {"target": "trackbridge", "before": 91.2, "after": 87.5}},
    },
    "design-review": {
        "type": "design.review",
        "source": "adr",
        "data": {"design": {"title": "One table"}, "decision": "single table", "options": ["one", "many"]},
    },
    "generic-event": {"type": "custom.event", "source": "app", "data": {"any": "thing"}},
}


def _first_metric(configuration: Mapping[str, Any]) -> str | None:
    for query in configuration.get("metrics") or []:
        if not isinstance(query, Mapping):
            continue
        if query.get("expression"):
            return str(query["expression"])
        stat = query.get("metricStat") or {}
        metric = stat.get("metric") or {}
        if metric.get("name"):
            dims = ",".join(f"{k}={v}" for k, v in sorted((metric.get("dimensions") or {}).items()))
            return f"{metric.get('namespace')}/{metric['name']}" + (f" [{dims}]" if dims else "")
    return None


def alarm_summary(event: Event) -> dict[str, Any]:
    """What the alarm template needs, read defensively from ``detail`` (any field may be missing)."""
    data = event.data
    state = data.get("state") or {}
    previous = data.get("previousState") or {}
    configuration = data.get("configuration") or {}
    reason_data: dict[str, Any] = {}
    try:
        parsed = json.loads(state.get("reasonData") or "{}")
        reason_data = parsed if isinstance(parsed, dict) else {}
    except (TypeError, ValueError):
        reason_data = {}
    region = None
    arn = ""
    for resource in data.get("resources") or []:
        arn = str(resource)
    if event.source == "aws.cloudwatch":
        region = data.get("region")
    name = str(data.get("alarmName") or "")
    threshold = reason_data.get("threshold", configuration.get("threshold"))
    console_url = None
    if name:
        region = region or (arn.split(":")[3] if arn.count(":") >= 4 else None) or "us-east-1"
        console_url = (
            f"https://console.aws.amazon.com/cloudwatch/home?region={region}#alarmsV2:alarm/{quote(name)}"
        )
    return {
        "name": name,
        "state": state.get("value"),
        "previous_state": previous.get("value"),
        "reason": state.get("reason") or "",
        "description": configuration.get("description"),
        "metric": _first_metric(configuration),
        "threshold": threshold,
        "rule_expression": configuration.get("alarmRule"),
        "datapoints": list(reason_data.get("recentDatapoints") or [])[:20],
        "console_url": console_url,
    }


def template_context(
    event: Event, *, rule: Mapping[str, Any] | None = None, obj: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    payload = event.model_dump(mode="json", include={"id", "type", "source", "severity", "data", "resolved"})
    payload["subject"] = event.subject.model_dump(mode="json", by_alias=True) if event.subject else None
    payload["occurred_at"] = event.occurred_at.isoformat()
    context: dict[str, Any] = {
        key: value for key, value in event.data.items() if isinstance(key, str) and key.isidentifier()
    }
    context.update(
        {
            "event": payload,
            "data": event.data,
            "data_json": json.dumps(event.data, indent=2, sort_keys=True, default=str)[:20_000],
            "rule": dict(rule or {}),
            "alarm": alarm_summary(event) if event.type == "cloudwatch.alarm" else {},
            "enrichment": {},
            "object": dict(obj) if obj is not None else {"links": []},
        }
    )
    return context


def allowed_variables(event_type: str) -> frozenset[str]:
    """Names a rule condition or template may use for ``event_type``: the base ones, plus the data keys of a
    known event type."""
    return BASE_VARIABLES | {"data_json"} | EVENT_DATA_KEYS.get(event_type, frozenset())


__all__ = [
    "BUILTIN_TEMPLATES",
    "CLOUDWATCH_ALARM",
    "EVENT_DATA_KEYS",
    "GENERIC_EVENT",
    "PERFORMANCE_REGRESSION",
    "SAMPLE_EVENTS",
    "alarm_summary",
    "allowed_variables",
    "template_context",
]
